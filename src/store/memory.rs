//! [`MemoryStore`]: a [`Store`] in memory, for tests, the simulator and
//! sessions that need not survive a reload.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::conformance::AbortableCommit;
use super::{Change, Changes, Namespace, Store, StoreError};

type Records = BTreeMap<Namespace, BTreeMap<String, Vec<u8>>>;

/// A [`Store`] kept in memory.
///
/// Commits are atomic: each change is applied with an undo record, and a
/// failure part-way rolls the applied ones back. Behind a `Mutex`, so it can be
/// shared by a single-threaded executor or by tokio tasks alike.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: Records,
    /// Armed by [`AbortableCommit`]: the next commit fails after this many changes.
    abort_after: Option<usize>,
}

/// How to undo one applied change.
enum Undo {
    Restore {
        namespace: Namespace,
        key: String,
        previous: Option<Vec<u8>>,
    },
    RestoreNamespace {
        namespace: Namespace,
        previous: BTreeMap<String, Vec<u8>>,
    },
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of records in every namespace together.
    pub fn len(&self) -> usize {
        self.lock().records.values().map(BTreeMap::len).sum()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // No code path panics while holding the lock, so a poisoned lock still
    // guards consistent data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn apply(&mut self, change: &Change) -> Undo {
        match change {
            Change::Put {
                namespace,
                key,
                value,
            } => {
                let previous = self
                    .records
                    .entry(*namespace)
                    .or_default()
                    .insert(key.clone(), value.clone());
                Undo::Restore {
                    namespace: *namespace,
                    key: key.clone(),
                    previous,
                }
            }
            Change::Delete { namespace, key } => {
                let previous = self
                    .records
                    .get_mut(namespace)
                    .and_then(|records| records.remove(key));
                Undo::Restore {
                    namespace: *namespace,
                    key: key.clone(),
                    previous,
                }
            }
            Change::Clear { namespace } => Undo::RestoreNamespace {
                namespace: *namespace,
                previous: self.records.remove(namespace).unwrap_or_default(),
            },
        }
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Restore {
                namespace,
                key,
                previous: Some(value),
            } => {
                self.records
                    .entry(namespace)
                    .or_default()
                    .insert(key, value);
            }
            Undo::Restore {
                namespace,
                key,
                previous: None,
            } => {
                if let Some(records) = self.records.get_mut(&namespace) {
                    records.remove(&key);
                }
            }
            Undo::RestoreNamespace {
                namespace,
                previous,
            } => {
                self.records.insert(namespace, previous);
            }
        }
    }
}

impl Store for MemoryStore {
    async fn load(&self, namespace: Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .records
            .get(&namespace)
            .and_then(|records| records.get(key))
            .cloned())
    }

    async fn load_many<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let inner = self.lock();
        let records = inner.records.get(&namespace);
        Ok(keys
            .iter()
            .map(|key| {
                records
                    .and_then(|records| records.get(key.as_ref()))
                    .cloned()
            })
            .collect())
    }

    async fn keys(&self, namespace: Namespace) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .records
            .get(&namespace)
            .map(|records| records.keys().cloned().collect())
            .unwrap_or_default())
    }

    async fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let abort_after = inner.abort_after.take();
        let mut undo_log = Vec::with_capacity(changes.len());
        for (index, change) in changes.iter().enumerate() {
            if abort_after == Some(index) {
                break;
            }
            undo_log.push(inner.apply(change));
        }
        if let Some(applied) = abort_after {
            for undo in undo_log.into_iter().rev() {
                inner.undo(undo);
            }
            return Err(StoreError::Aborted(format!(
                "injected failure after {applied} of {} changes",
                changes.len()
            )));
        }
        Ok(())
    }

    async fn wipe(&self) -> Result<(), StoreError> {
        self.lock().records.clear();
        Ok(())
    }
}

impl AbortableCommit for MemoryStore {
    fn abort_next_commit_after(&self, applied: usize) {
        self.lock().abort_after = Some(applied);
    }
}

// The tests block on futures with a native executor.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[test]
    fn passes_the_conformance_suite() {
        let result = pollster::block_on(conformance::run_all(async || Ok(MemoryStore::new())));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn abort_rolls_back_clears_and_overwrites() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            let mut seed = Changes::new();
            seed.put(Namespace::Sessions, "a", vec![1])
                .put(Namespace::Sessions, "b", vec![2]);
            store.commit(&seed).await.unwrap();
            let mut batch = Changes::new();
            batch
                .put(Namespace::Sessions, "a", vec![9])
                .clear(Namespace::Sessions)
                .put(Namespace::Sessions, "c", vec![3])
                .delete(Namespace::Sessions, "c");
            store.abort_next_commit_after(3);
            assert!(matches!(
                store.commit(&batch).await,
                Err(StoreError::Aborted(_))
            ));
            assert_eq!(store.keys(Namespace::Sessions).await.unwrap(), ["a", "b"]);
            assert_eq!(
                store.load(Namespace::Sessions, "a").await.unwrap(),
                Some(vec![1])
            );
            assert_eq!(store.len(), 2);
            // The fault fires once.
            store.commit(&batch).await.unwrap();
            assert!(store.is_empty());
        });
    }
}
