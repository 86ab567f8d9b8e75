//! The conformance suite every [`Store`] implementation must pass.
//!
//! Runs natively against [`MemoryStore`](super::MemoryStore) and, in the
//! browser, against the IndexedDB store under `wasm-bindgen-test`. It never
//! panics: a failed check comes back as a [`ConformanceFailure`] naming the
//! check and what went wrong.
//!
//! ```ignore
//! conformance::run_all(async || Ok(MemoryStore::new())).await?;
//! ```
//!
//! Atomicity can only be tested if a commit can be made to fail part-way, so
//! stores under test implement [`AbortableCommit`]: the IndexedDB store aborts
//! its transaction after issuing the requested number of requests.

use std::collections::BTreeMap;

use super::{Changes, Namespace, Store, StoreError, keys};

/// A store whose next commit can be made to fail part-way, to test atomicity.
pub trait AbortableCommit: Store {
    /// Makes the next commit fail after it has applied (or issued) its first
    /// `applied` changes, or all of them if the batch is shorter, as a backend
    /// failure in mid-transaction would. An atomic store then holds exactly
    /// what it held before that commit.
    fn abort_next_commit_after(&self, applied: usize);
}

/// A failed conformance check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store conformance check `{check}` failed: {reason}")]
pub struct ConformanceFailure {
    /// The check's name (the name of its function in this module).
    pub check: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// Runs every check, each on a fresh store from `make` (wiped first), and
/// stops at the first failure.
pub async fn run_all<S, F>(make: F) -> Result<(), ConformanceFailure>
where
    S: AbortableCommit,
    F: AsyncFn() -> Result<S, StoreError>,
{
    macro_rules! run {
        ($($check:ident),* $(,)?) => {$(
            let check = Check(stringify!($check));
            let store = check.io("create the store", make().await)?;
            check.io("wipe the new store", store.wipe().await)?;
            $check(&store).await?;
        )*};
    }
    run!(
        missing_keys_are_none,
        round_trip_every_namespace,
        overwrite_replaces_value,
        empty_value_is_kept,
        namespaces_are_isolated,
        deletes_remove_only_their_key,
        clear_removes_only_its_namespace,
        order_within_batch,
        keys_lists_exactly_the_stored_keys,
        load_many_keeps_order,
        empty_batch_is_a_no_op,
        commit_is_atomic,
        wipe_leaves_nothing,
        large_values,
        every_byte_value_and_unusual_keys,
        many_keys,
    );
    Ok(())
}

/// Loading a key that was never stored gives `None`; listing gives nothing.
pub async fn missing_keys_are_none<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("missing_keys_are_none");
    for namespace in Namespace::ALL {
        check.expect(store, namespace, "absent", None).await?;
        check.expect_keys(store, namespace, &[]).await?;
        let many = check.io("load_many", store.load_many(namespace, &["a", "b"]).await)?;
        check.ensure(many == [None, None], || {
            format!("load_many of absent keys in {namespace} gave {many:?}")
        })?;
    }
    let mut changes = Changes::new();
    changes.put(Namespace::Sessions, "present", b"x".to_vec());
    check.commit(store, &changes).await?;
    check
        .expect(store, Namespace::Sessions, "absent", None)
        .await
}

/// A value put in any namespace loads back unchanged.
pub async fn round_trip_every_namespace<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("round_trip_every_namespace");
    let mut changes = Changes::new();
    for (index, namespace) in Namespace::ALL.into_iter().enumerate() {
        changes.put(namespace, "key", pattern(index, 40));
    }
    check.commit(store, &changes).await?;
    for (index, namespace) in Namespace::ALL.into_iter().enumerate() {
        check
            .expect(store, namespace, "key", Some(&pattern(index, 40)))
            .await?;
        check.expect_keys(store, namespace, &["key"]).await?;
    }
    Ok(())
}

/// A second put of a key replaces the first.
pub async fn overwrite_replaces_value<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("overwrite_replaces_value");
    let mut first = Changes::new();
    first.put(Namespace::Identities, "15551234567.0", vec![1; 33]);
    check.commit(store, &first).await?;
    let mut second = Changes::new();
    second.put(Namespace::Identities, "15551234567.0", vec![2; 10]);
    check.commit(store, &second).await?;
    check
        .expect(
            store,
            Namespace::Identities,
            "15551234567.0",
            Some(&[2; 10]),
        )
        .await?;
    check
        .expect_keys(store, Namespace::Identities, &["15551234567.0"])
        .await
}

/// An empty value is stored as an empty value, not as "absent".
pub async fn empty_value_is_kept<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("empty_value_is_kept");
    let mut changes = Changes::new();
    changes.put(Namespace::AppMeta, "empty", Vec::new());
    check.commit(store, &changes).await?;
    check
        .expect(store, Namespace::AppMeta, "empty", Some(&[]))
        .await?;
    check
        .expect_keys(store, Namespace::AppMeta, &["empty"])
        .await
}

/// The same key in different namespaces names different records.
pub async fn namespaces_are_isolated<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("namespaces_are_isolated");
    let mut changes = Changes::new();
    for (index, namespace) in Namespace::ALL.into_iter().enumerate() {
        changes.put(namespace, "shared", pattern(index, 8));
    }
    check.commit(store, &changes).await?;
    let mut remove = Changes::new();
    remove
        .delete(Namespace::Sessions, "shared")
        .clear(Namespace::PreKeys);
    check.commit(store, &remove).await?;
    for (index, namespace) in Namespace::ALL.into_iter().enumerate() {
        let expected = match namespace {
            Namespace::Sessions | Namespace::PreKeys => None,
            _ => Some(pattern(index, 8)),
        };
        check
            .expect(store, namespace, "shared", expected.as_deref())
            .await?;
    }
    Ok(())
}

/// A delete removes its key and nothing else; deleting an absent key is fine.
pub async fn deletes_remove_only_their_key<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("deletes_remove_only_their_key");
    let mut changes = Changes::new();
    changes
        .put(Namespace::PreKeys, "1", vec![1])
        .put(Namespace::PreKeys, "2", vec![2])
        .put(Namespace::PreKeys, "3", vec![3]);
    check.commit(store, &changes).await?;
    let mut delete = Changes::new();
    delete
        .delete(Namespace::PreKeys, "2")
        .delete(Namespace::PreKeys, "never-stored")
        .delete(Namespace::Outbox, "never-stored");
    check.commit(store, &delete).await?;
    check
        .expect(store, Namespace::PreKeys, "1", Some(&[1]))
        .await?;
    check.expect(store, Namespace::PreKeys, "2", None).await?;
    check
        .expect(store, Namespace::PreKeys, "3", Some(&[3]))
        .await?;
    check
        .expect_keys(store, Namespace::PreKeys, &["1", "3"])
        .await
}

/// Clearing a namespace removes all of it and nothing elsewhere.
pub async fn clear_removes_only_its_namespace<S: Store>(
    store: &S,
) -> Result<(), ConformanceFailure> {
    let check = Check("clear_removes_only_its_namespace");
    let mut changes = Changes::new();
    for index in 0..50u32 {
        changes
            .put(
                Namespace::Sessions,
                keys::signal_address("1555", index),
                vec![1],
            )
            .put(Namespace::SenderKeys, keys::pre_key(index), vec![2]);
    }
    check.commit(store, &changes).await?;
    let mut clear = Changes::new();
    clear
        .clear(Namespace::Sessions)
        .clear(Namespace::LidMappings);
    check.commit(store, &clear).await?;
    check.expect_keys(store, Namespace::Sessions, &[]).await?;
    check
        .expect(
            store,
            Namespace::Sessions,
            &keys::signal_address("1555", 7),
            None,
        )
        .await?;
    let remaining = check
        .io("keys", store.keys(Namespace::SenderKeys).await)?
        .len();
    check.ensure(remaining == 50, || {
        format!("clearing another namespace left {remaining} of 50 sender keys")
    })?;
    // A clear followed by a put in the same batch keeps the put.
    let mut refill = Changes::new();
    refill
        .clear(Namespace::SenderKeys)
        .put(Namespace::SenderKeys, "new", vec![3]);
    check.commit(store, &refill).await?;
    check
        .expect_keys(store, Namespace::SenderKeys, &["new"])
        .await
}

/// Changes apply in batch order: the last write to a key wins.
pub async fn order_within_batch<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("order_within_batch");
    let ns = Namespace::Outbox;
    let mut seed = Changes::new();
    seed.put(ns, "existing", vec![0])
        .put(ns, "cleared", vec![0]);
    check.commit(store, &seed).await?;
    let mut batch = Changes::new();
    batch
        .put(ns, "put-then-delete", vec![1])
        .delete(ns, "put-then-delete")
        .delete(ns, "existing")
        .put(ns, "existing", vec![2])
        .put(ns, "twice", vec![3])
        .put(ns, "twice", vec![4])
        .delete(ns, "delete-then-put")
        .put(ns, "delete-then-put", vec![5]);
    check.commit(store, &batch).await?;
    check.expect(store, ns, "put-then-delete", None).await?;
    check.expect(store, ns, "existing", Some(&[2])).await?;
    check.expect(store, ns, "twice", Some(&[4])).await?;
    check
        .expect(store, ns, "delete-then-put", Some(&[5]))
        .await?;
    check.expect(store, ns, "cleared", Some(&[0])).await?;
    let mut clears = Changes::new();
    clears
        .put(ns, "before-clear", vec![6])
        .clear(ns)
        .put(ns, "after-clear", vec![7]);
    check.commit(store, &clears).await?;
    check.expect_keys(store, ns, &["after-clear"]).await
}

/// `keys` lists every stored key of its namespace exactly once.
pub async fn keys_lists_exactly_the_stored_keys<S: Store>(
    store: &S,
) -> Result<(), ConformanceFailure> {
    let check = Check("keys_lists_exactly_the_stored_keys");
    let names = ["b", "a", "c", "10", "9", "a.1", "a.0"];
    let mut changes = Changes::new();
    for name in names {
        changes.put(Namespace::DeviceLists, name, name.as_bytes().to_vec());
    }
    // Writing a key twice must not list it twice.
    changes.put(Namespace::DeviceLists, "a", b"again".to_vec());
    changes.put(Namespace::LidMappings, "elsewhere", vec![1]);
    check.commit(store, &changes).await?;
    check
        .expect_keys(store, Namespace::DeviceLists, &names)
        .await?;
    check
        .expect_keys(store, Namespace::LidMappings, &["elsewhere"])
        .await
}

/// `load_many` answers in the order asked, with `None` where missing.
pub async fn load_many_keeps_order<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("load_many_keeps_order");
    let mut changes = Changes::new();
    changes
        .put(Namespace::Sessions, "a", vec![1])
        .put(Namespace::Sessions, "c", vec![3]);
    check.commit(store, &changes).await?;
    let values = check.io(
        "load_many",
        store
            .load_many(Namespace::Sessions, &["c", "missing", "a", "c"])
            .await,
    )?;
    let expected = [Some(vec![3]), None, Some(vec![1]), Some(vec![3])];
    check.ensure(values == expected, || {
        format!("load_many gave {values:?}, expected {expected:?}")
    })?;
    let none: [&str; 0] = [];
    let empty = check.io(
        "load_many",
        store.load_many(Namespace::Sessions, &none).await,
    )?;
    check.ensure(empty.is_empty(), || {
        format!("load_many of no keys gave {empty:?}")
    })
}

/// Committing an empty batch succeeds and changes nothing.
pub async fn empty_batch_is_a_no_op<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("empty_batch_is_a_no_op");
    let mut seed = Changes::new();
    seed.put(Namespace::PreKeys, "1", vec![1]);
    check.commit(store, &seed).await?;
    let before = check.snapshot(store).await?;
    check.commit(store, &Changes::new()).await?;
    let after = check.snapshot(store).await?;
    check.ensure(before == after, || {
        "an empty batch changed the store".to_owned()
    })
}

/// A commit that fails part-way leaves nothing of its batch, and the store
/// works normally afterwards.
pub async fn commit_is_atomic<S: AbortableCommit>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("commit_is_atomic");
    let mut seed = Changes::new();
    seed.put(Namespace::Sessions, "a", vec![1])
        .put(Namespace::Sessions, "b", vec![2])
        .put(Namespace::PreKeys, "1", vec![3]);
    check.commit(store, &seed).await?;
    let before = check.snapshot(store).await?;

    let mut batch = Changes::new();
    batch
        .put(Namespace::Sessions, "a", vec![9])
        .delete(Namespace::Sessions, "b")
        .clear(Namespace::PreKeys)
        .put(Namespace::PreKeys, "2", vec![4])
        .put(Namespace::Outbox, "m", vec![5])
        .put(Namespace::Sessions, "c", vec![6]);
    for applied in [0, 1, 2, 3, 5, batch.len()] {
        store.abort_next_commit_after(applied);
        if store.commit(&batch).await.is_ok() {
            return Err(check.fail(format!(
                "a commit armed to abort after {applied} changes reported success"
            )));
        }
        let after = check.snapshot(store).await?;
        check.ensure(before == after, || {
            format!(
                "a commit aborted after {applied} of {} changes left part of its batch: \
                 before {before:?}, after {after:?}",
                batch.len()
            )
        })?;
    }

    check.commit(store, &batch).await?;
    check
        .expect(store, Namespace::Sessions, "a", Some(&[9]))
        .await?;
    check.expect(store, Namespace::Sessions, "b", None).await?;
    check
        .expect(store, Namespace::Sessions, "c", Some(&[6]))
        .await?;
    check.expect_keys(store, Namespace::PreKeys, &["2"]).await?;
    check
        .expect(store, Namespace::Outbox, "m", Some(&[5]))
        .await
}

/// After `wipe` nothing is left in any namespace, and the store still works.
pub async fn wipe_leaves_nothing<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("wipe_leaves_nothing");
    let mut changes = Changes::new();
    for (index, namespace) in Namespace::ALL.into_iter().enumerate() {
        for key in ["x", "y"] {
            changes.put(namespace, key, pattern(index, 16));
        }
    }
    check.commit(store, &changes).await?;
    check.io("wipe", store.wipe().await)?;
    for namespace in Namespace::ALL {
        check.expect_keys(store, namespace, &[]).await?;
        check.expect(store, namespace, "x", None).await?;
    }
    let mut again = Changes::new();
    again.put(Namespace::Credentials, keys::CREDENTIALS, vec![1, 2]);
    check.commit(store, &again).await?;
    check
        .expect(
            store,
            Namespace::Credentials,
            keys::CREDENTIALS,
            Some(&[1, 2]),
        )
        .await
}

/// Values of 1 MiB round-trip unchanged.
pub async fn large_values<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("large_values");
    const MIB: usize = 1 << 20;
    let mut changes = Changes::new();
    changes
        .put(Namespace::Outbox, "big-1", pattern(1, MIB))
        .put(Namespace::Outbox, "big-2", pattern(2, MIB));
    check.commit(store, &changes).await?;
    check
        .expect(store, Namespace::Outbox, "big-1", Some(&pattern(1, MIB)))
        .await?;
    check
        .expect(store, Namespace::Outbox, "big-2", Some(&pattern(2, MIB)))
        .await
}

/// Values holding every byte value, and keys with control characters,
/// separators and non-ASCII text, round-trip unchanged.
pub async fn every_byte_value_and_unusual_keys<S: Store>(
    store: &S,
) -> Result<(), ConformanceFailure> {
    let check = Check("every_byte_value_and_unusual_keys");
    let all_bytes: Vec<u8> = (0..=u8::MAX).collect();
    let ascii: String = (0..0x80u8).map(char::from).collect();
    let long = "k".repeat(1000);
    let unusual: [&str; 9] = [
        "",
        &ascii,
        "a/b:c@d.e_f-g",
        " leading and trailing ",
        "ключ",
        "🔑 clé",
        "\u{FFFD}\u{FEFF}\u{10FFFF}",
        "lid:123",
        &long,
    ];
    let mut changes = Changes::new();
    for (index, key) in unusual.iter().enumerate() {
        let mut value = all_bytes.clone();
        value.rotate_left(index);
        changes.put(Namespace::Sessions, *key, value);
    }
    check.commit(store, &changes).await?;
    for (index, key) in unusual.iter().enumerate() {
        let mut value = all_bytes.clone();
        value.rotate_left(index);
        check
            .expect(store, Namespace::Sessions, key, Some(&value))
            .await?;
    }
    check
        .expect_keys(store, Namespace::Sessions, &unusual)
        .await
}

/// 5,000 sessions are listed and loaded correctly.
pub async fn many_keys<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let check = Check("many_keys");
    const COUNT: u32 = 5_000;
    let names: Vec<String> = (0..COUNT)
        .map(|index| keys::signal_address(&format!("1555{index:07}"), index % 5))
        .collect();
    let value = |index: usize| {
        let mut value = pattern(index, 200);
        value.extend_from_slice(&index.to_be_bytes());
        value
    };
    let mut changes = Changes::new();
    for (index, name) in names.iter().enumerate() {
        changes.put(Namespace::Sessions, name.as_str(), value(index));
    }
    check.commit(store, &changes).await?;
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    check
        .expect_keys(store, Namespace::Sessions, &wanted)
        .await?;
    let loaded = check.io(
        "load_many",
        store.load_many(Namespace::Sessions, &names).await,
    )?;
    check.ensure(loaded.len() == names.len(), || {
        format!(
            "load_many of {} keys gave {} values",
            names.len(),
            loaded.len()
        )
    })?;
    for (index, (name, got)) in names.iter().zip(&loaded).enumerate() {
        check.ensure(got.as_deref() == Some(value(index).as_slice()), || {
            format!(
                "session {name} loaded as {:?} bytes",
                got.as_ref().map(Vec::len)
            )
        })?;
    }
    if let Some(name) = names.get(4321) {
        check
            .expect(store, Namespace::Sessions, name, Some(&value(4321)))
            .await?;
    }
    Ok(())
}

/// A deterministic byte pattern that differs per `seed`.
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed.wrapping_mul(97)) % 251) as u8)
        .collect()
}

type Snapshot = BTreeMap<(Namespace, String), Vec<u8>>;

/// One running check: builds its failures.
struct Check(&'static str);

impl Check {
    fn fail(&self, reason: String) -> ConformanceFailure {
        ConformanceFailure {
            check: self.0,
            reason,
        }
    }

    fn ensure(&self, ok: bool, reason: impl FnOnce() -> String) -> Result<(), ConformanceFailure> {
        if ok { Ok(()) } else { Err(self.fail(reason())) }
    }

    fn io<T>(&self, what: &str, result: Result<T, StoreError>) -> Result<T, ConformanceFailure> {
        result.map_err(|error| self.fail(format!("{what} failed: {error}")))
    }

    async fn commit<S: Store>(
        &self,
        store: &S,
        changes: &Changes,
    ) -> Result<(), ConformanceFailure> {
        self.io("commit", store.commit(changes).await)
    }

    async fn expect<S: Store>(
        &self,
        store: &S,
        namespace: Namespace,
        key: &str,
        expected: Option<&[u8]>,
    ) -> Result<(), ConformanceFailure> {
        let got = self.io("load", store.load(namespace, key).await)?;
        self.ensure(got.as_deref() == expected, || {
            format!(
                "{namespace}/{key:?} loaded as {}, expected {}",
                describe(got.as_deref()),
                describe(expected)
            )
        })
    }

    async fn expect_keys<S: Store>(
        &self,
        store: &S,
        namespace: Namespace,
        expected: &[&str],
    ) -> Result<(), ConformanceFailure> {
        let mut got = self.io("keys", store.keys(namespace).await)?;
        got.sort_unstable();
        let mut expected: Vec<String> = expected.iter().map(|key| (*key).to_owned()).collect();
        expected.sort_unstable();
        self.ensure(got == expected, || {
            let shown = |keys: &[String]| {
                if keys.len() > 8 {
                    format!("{} keys", keys.len())
                } else {
                    format!("{keys:?}")
                }
            };
            format!(
                "keys({namespace}) gave {}, expected {}",
                shown(&got),
                shown(&expected)
            )
        })
    }

    /// Everything in the store, read through `keys` and `load_many`.
    async fn snapshot<S: Store>(&self, store: &S) -> Result<Snapshot, ConformanceFailure> {
        let mut snapshot = Snapshot::new();
        for namespace in Namespace::ALL {
            let names = self.io("keys", store.keys(namespace).await)?;
            let values = self.io("load_many", store.load_many(namespace, &names).await)?;
            self.ensure(values.len() == names.len(), || {
                format!(
                    "load_many of {} keys gave {} values",
                    names.len(),
                    values.len()
                )
            })?;
            for (name, value) in names.into_iter().zip(values) {
                let value = value.ok_or_else(|| {
                    self.fail(format!("{namespace}/{name:?} is listed but does not load"))
                })?;
                snapshot.insert((namespace, name), value);
            }
        }
        Ok(snapshot)
    }
}

fn describe(value: Option<&[u8]>) -> String {
    match value {
        None => "absent".to_owned(),
        Some(bytes) if bytes.len() <= 16 => format!("{bytes:?}"),
        Some(bytes) => format!("{} bytes", bytes.len()),
    }
}
