//! [`Changes`]: an ordered batch of writes the shell commits atomically.

use core::fmt;

use super::Namespace;

/// One write in a [`Changes`] batch.
#[derive(Clone, PartialEq, Eq)]
pub enum Change {
    /// Stores `value` under `key`, replacing any previous value.
    Put {
        /// Where.
        namespace: Namespace,
        /// Under which key.
        key: String,
        /// The opaque record.
        value: Vec<u8>,
    },
    /// Removes `key` (no error if it is absent).
    Delete {
        /// Where.
        namespace: Namespace,
        /// Which key.
        key: String,
    },
    /// Removes every key of `namespace`.
    Clear {
        /// Which namespace.
        namespace: Namespace,
    },
}

impl Change {
    /// The namespace this change writes to.
    pub fn namespace(&self) -> Namespace {
        match self {
            Change::Put { namespace, .. }
            | Change::Delete { namespace, .. }
            | Change::Clear { namespace } => *namespace,
        }
    }
}

// Values hold key material: print their length only.
impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Put {
                namespace,
                key,
                value,
            } => write!(f, "Put({namespace}/{key:?}, {} bytes)", value.len()),
            Change::Delete { namespace, key } => write!(f, "Delete({namespace}/{key:?})"),
            Change::Clear { namespace } => write!(f, "Clear({namespace})"),
        }
    }
}

/// An ordered batch of puts, deletes and namespace clears.
///
/// Applied in order: a put followed by a delete of the same key leaves it
/// deleted, a delete followed by a put leaves it present. A store applies a
/// whole batch atomically ([`super::Store::commit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    ops: Vec<Change>,
}

impl Changes {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a put of `value` under `key`.
    pub fn put(
        &mut self,
        namespace: Namespace,
        key: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(Change::Put {
            namespace,
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Appends a delete of `key`.
    pub fn delete(&mut self, namespace: Namespace, key: impl Into<String>) -> &mut Self {
        self.ops.push(Change::Delete {
            namespace,
            key: key.into(),
        });
        self
    }

    /// Appends a delete of every key in `namespace`.
    pub fn clear(&mut self, namespace: Namespace) -> &mut Self {
        self.ops.push(Change::Clear { namespace });
        self
    }

    /// Appends every change of `later` after this batch's own (so `later` wins
    /// where both write the same key).
    pub fn merge(&mut self, later: Changes) -> &mut Self {
        self.ops.extend(later.ops);
        self
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The number of changes in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The changes, in order.
    pub fn ops(&self) -> &[Change] {
        &self.ops
    }

    /// Iterates over the changes, in order.
    pub fn iter(&self) -> core::slice::Iter<'_, Change> {
        self.ops.iter()
    }

    /// Whether any change writes to `namespace`.
    pub fn touches(&self, namespace: Namespace) -> bool {
        self.ops.iter().any(|op| op.namespace() == namespace)
    }

    /// The total size of the keys and values put, in bytes (to check a quota
    /// before committing).
    pub fn payload_len(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Change::Put { key, value, .. } => key.len().saturating_add(value.len()),
                Change::Delete { key, .. } => key.len(),
                Change::Clear { .. } => 0,
            })
            .fold(0usize, usize::saturating_add)
    }

    /// An equivalent batch with at most one change per key: the namespace
    /// clears first, then the final put or delete of each key (deletes after a
    /// clear of the same namespace are dropped as redundant).
    pub fn compact(self) -> Changes {
        let mut cleared: Vec<Namespace> = Vec::new();
        // (namespace, key, position in the batch, value or deletion)
        let mut writes: Vec<(Namespace, String, usize, Option<Vec<u8>>)> = Vec::new();
        for (position, op) in self.ops.into_iter().enumerate() {
            match op {
                Change::Put {
                    namespace,
                    key,
                    value,
                } => writes.push((namespace, key, position, Some(value))),
                Change::Delete { namespace, key } => writes.push((namespace, key, position, None)),
                Change::Clear { namespace } => {
                    writes.retain(|(ns, ..)| *ns != namespace);
                    if !cleared.contains(&namespace) {
                        cleared.push(namespace);
                    }
                }
            }
        }
        cleared.sort_unstable();
        // By key, the latest write first; then keep only that one.
        writes.sort_unstable_by(|a, b| (a.0, &a.1, b.2).cmp(&(b.0, &b.1, a.2)));
        writes.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1);
        let mut ops: Vec<Change> = cleared
            .iter()
            .map(|&namespace| Change::Clear { namespace })
            .collect();
        for (namespace, key, _, value) in writes {
            match value {
                Some(value) => ops.push(Change::Put {
                    namespace,
                    key,
                    value,
                }),
                None if cleared.contains(&namespace) => {}
                None => ops.push(Change::Delete { namespace, key }),
            }
        }
        Changes { ops }
    }
}

impl From<Change> for Changes {
    fn from(change: Change) -> Self {
        Changes { ops: vec![change] }
    }
}

impl FromIterator<Change> for Changes {
    fn from_iter<I: IntoIterator<Item = Change>>(iter: I) -> Self {
        Changes {
            ops: iter.into_iter().collect(),
        }
    }
}

impl Extend<Change> for Changes {
    fn extend<I: IntoIterator<Item = Change>>(&mut self, iter: I) {
        self.ops.extend(iter);
    }
}

impl IntoIterator for Changes {
    type Item = Change;
    type IntoIter = std::vec::IntoIter<Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = core::slice::Iter<'a, Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_merge_and_empty() {
        let mut first = Changes::new();
        assert!(first.is_empty());
        first
            .put(Namespace::Sessions, "a", vec![1])
            .delete(Namespace::PreKeys, "7");
        let mut second = Changes::new();
        second.clear(Namespace::Outbox);
        first.merge(second);
        assert_eq!(first.len(), 3);
        assert!(!first.is_empty());
        assert!(first.touches(Namespace::Outbox));
        assert!(!first.touches(Namespace::Identities));
        assert_eq!(
            first.ops().last(),
            Some(&Change::Clear {
                namespace: Namespace::Outbox
            })
        );
        assert_eq!(first.payload_len(), 1 + 1 + 1);
    }

    #[test]
    fn debug_hides_values() {
        let mut changes = Changes::new();
        changes.put(Namespace::Credentials, "creds", vec![0xAB; 40]);
        let text = format!("{changes:?}");
        assert!(text.contains("40 bytes"), "{text}");
        assert!(!text.contains("171"), "{text}");
    }

    #[test]
    fn compact_keeps_last_write_per_key() {
        let mut changes = Changes::new();
        changes
            .put(Namespace::Sessions, "a", vec![1])
            .put(Namespace::Sessions, "a", vec![2])
            .put(Namespace::PreKeys, "1", vec![3])
            .delete(Namespace::PreKeys, "1")
            .put(Namespace::Outbox, "old", vec![4])
            .clear(Namespace::Outbox)
            .delete(Namespace::Outbox, "gone")
            .put(Namespace::Outbox, "new", vec![5]);
        let compact = changes.compact();
        assert_eq!(
            compact.ops(),
            &[
                Change::Clear {
                    namespace: Namespace::Outbox
                },
                Change::Put {
                    namespace: Namespace::Sessions,
                    key: "a".into(),
                    value: vec![2]
                },
                Change::Delete {
                    namespace: Namespace::PreKeys,
                    key: "1".into()
                },
                Change::Put {
                    namespace: Namespace::Outbox,
                    key: "new".into(),
                    value: vec![5]
                },
            ]
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use crate::store::{MemoryStore, Store};
        use proptest::prelude::*;

        fn namespace() -> impl Strategy<Value = Namespace> {
            prop_oneof![
                Just(Namespace::Sessions),
                Just(Namespace::PreKeys),
                Just(Namespace::Outbox),
            ]
        }

        fn change() -> impl Strategy<Value = Change> {
            let key = "[ab]";
            prop_oneof![
                4 => (namespace(), key, proptest::collection::vec(any::<u8>(), 0..3))
                    .prop_map(|(namespace, key, value)| Change::Put { namespace, key, value }),
                3 => (namespace(), key).prop_map(|(namespace, key)| Change::Delete { namespace, key }),
                1 => namespace().prop_map(|namespace| Change::Clear { namespace }),
            ]
        }

        async fn snapshot(store: &MemoryStore) -> Vec<(Namespace, String, Option<Vec<u8>>)> {
            let mut out = Vec::new();
            for namespace in Namespace::ALL {
                for key in ["a", "b", "seed"] {
                    out.push((
                        namespace,
                        key.to_owned(),
                        store.load(namespace, key).await.unwrap(),
                    ));
                }
            }
            out
        }

        proptest! {
            /// Compacting never changes what a batch does to a store.
            #[test]
            fn compact_is_equivalent(ops in proptest::collection::vec(change(), 0..24)) {
                let changes: Changes = ops.into_iter().collect();
                let mut seed = Changes::new();
                for namespace in Namespace::ALL {
                    seed.put(namespace, "a", vec![9]).put(namespace, "seed", vec![8]);
                }
                let (plain, compacted) = pollster::block_on(async {
                    let plain = MemoryStore::new();
                    let compacted = MemoryStore::new();
                    plain.commit(&seed).await.unwrap();
                    compacted.commit(&seed).await.unwrap();
                    plain.commit(&changes).await.unwrap();
                    let compact = changes.clone().compact();
                    prop_assert!(compact.len() <= changes.len());
                    compacted.commit(&compact).await.unwrap();
                    Ok((snapshot(&plain).await, snapshot(&compacted).await))
                })?;
                prop_assert_eq!(plain, compacted);
            }
        }
    }
}
