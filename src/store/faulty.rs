//! [`FaultyStore`]: wraps a store and makes chosen operations fail, to test
//! that callers never act on what was not persisted.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::conformance::AbortableCommit;
use super::{Changes, Namespace, Store, StoreError};

/// A [`Store`] wrapper that fails on demand.
///
/// Faults are armed with its methods; a failing commit leaves the wrapped store
/// untouched (like a rejected transaction), except with
/// [`FaultyStore::tear_next_commit_after`], which models a broken, non-atomic
/// backend. With no fault armed it behaves exactly like the wrapped store.
#[derive(Debug, Default)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Mutex<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    failing_commits: u32,
    failing_loads: u32,
    failing_namespace: Option<Namespace>,
    tear_after: Option<usize>,
    error: Option<StoreError>,
    failed_commits: u32,
    commits: u32,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            faults: Mutex::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Makes the next `count` commits fail without writing anything.
    pub fn fail_next_commits(&self, count: u32) {
        self.faults().failing_commits = count;
    }

    /// Makes the next `count` reads (`load`, `load_many`, `keys`) fail.
    pub fn fail_next_loads(&self, count: u32) {
        self.faults().failing_loads = count;
    }

    /// Makes every commit that writes to `namespace` fail without writing
    /// anything, until called again with `None`.
    pub fn fail_commits_touching(&self, namespace: Option<Namespace>) {
        self.faults().failing_namespace = namespace;
    }

    /// Makes the next commit write only its first `applied` changes (as a
    /// separate commit) and then fail: a backend that breaks atomicity. For
    /// proving that atomicity checks can fail.
    pub fn tear_next_commit_after(&self, applied: usize) {
        self.faults().tear_after = Some(applied);
    }

    /// The error injected faults return (default: a backend failure).
    pub fn fail_with(&self, error: StoreError) {
        self.faults().error = Some(error);
    }

    /// Disarms every fault.
    pub fn heal(&self) {
        let mut faults = self.faults();
        faults.failing_commits = 0;
        faults.failing_loads = 0;
        faults.failing_namespace = None;
        faults.tear_after = None;
    }

    /// How many commits were attempted (failed ones included).
    pub fn commits(&self) -> u32 {
        self.faults().commits
    }

    /// How many commits failed because of an injected fault.
    pub fn failed_commits(&self) -> u32 {
        self.faults().failed_commits
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_fault(&self) -> Result<(), StoreError> {
        let mut faults = self.faults();
        if faults.failing_loads > 0 {
            faults.failing_loads -= 1;
            return Err(faults.injected());
        }
        Ok(())
    }
}

impl Faults {
    fn injected(&self) -> StoreError {
        self.error
            .clone()
            .unwrap_or_else(|| StoreError::Backend("injected failure".into()))
    }
}

/// What a commit does under the armed faults.
enum CommitPlan {
    Pass,
    Fail(StoreError),
    Tear(usize, StoreError),
}

impl<S: Store> Store for FaultyStore<S> {
    async fn load(&self, namespace: Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_fault()?;
        self.inner.load(namespace, key).await
    }

    async fn load_many<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.read_fault()?;
        self.inner.load_many(namespace, keys).await
    }

    async fn keys(&self, namespace: Namespace) -> Result<Vec<String>, StoreError> {
        self.read_fault()?;
        self.inner.keys(namespace).await
    }

    async fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
        let plan = {
            let mut faults = self.faults();
            faults.commits = faults.commits.saturating_add(1);
            let plan = if faults.failing_commits > 0 {
                faults.failing_commits -= 1;
                CommitPlan::Fail(faults.injected())
            } else if faults
                .failing_namespace
                .is_some_and(|namespace| changes.touches(namespace))
            {
                CommitPlan::Fail(faults.injected())
            } else if let Some(applied) = faults.tear_after.take() {
                CommitPlan::Tear(applied, faults.injected())
            } else {
                CommitPlan::Pass
            };
            if !matches!(plan, CommitPlan::Pass) {
                faults.failed_commits = faults.failed_commits.saturating_add(1);
            }
            plan
        };
        match plan {
            CommitPlan::Pass => self.inner.commit(changes).await,
            CommitPlan::Fail(error) => Err(error),
            CommitPlan::Tear(applied, error) => {
                let prefix: Changes = changes.iter().take(applied).cloned().collect();
                self.inner.commit(&prefix).await?;
                Err(error)
            }
        }
    }

    async fn wipe(&self) -> Result<(), StoreError> {
        self.inner.wipe().await
    }
}

/// Passes mid-commit aborts through to the wrapped store.
impl<S: AbortableCommit> AbortableCommit for FaultyStore<S> {
    fn abort_next_commit_after(&self, applied: usize) {
        self.inner.abort_next_commit_after(applied);
    }
}

// The tests block on futures with a native executor.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, conformance};

    fn batch() -> Changes {
        let mut changes = Changes::new();
        changes
            .put(Namespace::Sessions, "a", vec![1])
            .put(Namespace::Outbox, "m1", vec![2]);
        changes
    }

    #[test]
    fn failing_commits_write_nothing() {
        pollster::block_on(async {
            let store = FaultyStore::new(MemoryStore::new());
            store.fail_next_commits(2);
            assert!(store.commit(&batch()).await.is_err());
            assert!(store.commit(&batch()).await.is_err());
            assert!(store.inner().is_empty());
            store.commit(&batch()).await.unwrap();
            assert_eq!(store.inner().len(), 2);
            assert_eq!((store.commits(), store.failed_commits()), (3, 2));
        });
    }

    #[test]
    fn namespace_fault_and_custom_error() {
        pollster::block_on(async {
            let store = FaultyStore::new(MemoryStore::new());
            store.fail_commits_touching(Some(Namespace::Outbox));
            store.fail_with(StoreError::QuotaExceeded);
            assert_eq!(store.commit(&batch()).await, Err(StoreError::QuotaExceeded));
            let mut other = Changes::new();
            other.put(Namespace::Sessions, "b", vec![3]);
            store.commit(&other).await.unwrap();
            assert_eq!(store.inner().len(), 1);
            store.fail_commits_touching(None);
            store.commit(&batch()).await.unwrap();
            assert_eq!(store.inner().len(), 3);
        });
    }

    #[test]
    fn load_faults() {
        pollster::block_on(async {
            let store = FaultyStore::new(MemoryStore::new());
            store.commit(&batch()).await.unwrap();
            store.fail_next_loads(3);
            assert!(store.load(Namespace::Sessions, "a").await.is_err());
            assert!(store.load_many(Namespace::Sessions, &["a"]).await.is_err());
            assert!(store.keys(Namespace::Sessions).await.is_err());
            assert_eq!(
                store.load(Namespace::Sessions, "a").await,
                Ok(Some(vec![1]))
            );
        });
    }

    #[test]
    fn transparent_without_faults() {
        let result = pollster::block_on(conformance::run_all(async || {
            Ok(FaultyStore::new(MemoryStore::new()))
        }));
        assert_eq!(result, Ok(()));
    }

    /// A torn commit breaks atomicity, and the conformance suite notices.
    #[test]
    fn conformance_catches_a_torn_commit() {
        struct Torn(FaultyStore<MemoryStore>);
        impl Store for Torn {
            async fn load(&self, ns: Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
                self.0.load(ns, key).await
            }
            async fn keys(&self, ns: Namespace) -> Result<Vec<String>, StoreError> {
                self.0.keys(ns).await
            }
            async fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
                self.0.commit(changes).await
            }
            async fn wipe(&self) -> Result<(), StoreError> {
                self.0.wipe().await
            }
        }
        impl AbortableCommit for Torn {
            fn abort_next_commit_after(&self, applied: usize) {
                self.0.tear_next_commit_after(applied);
            }
        }
        let store = Torn(FaultyStore::new(MemoryStore::new()));
        let failure = pollster::block_on(conformance::commit_is_atomic(&store)).unwrap_err();
        assert_eq!(failure.check, "commit_is_atomic");
        let failure = pollster::block_on(conformance::run_all(async || {
            Ok(Torn(FaultyStore::new(MemoryStore::new())))
        }))
        .unwrap_err();
        assert_eq!(failure.check, "commit_is_atomic");
    }
}
