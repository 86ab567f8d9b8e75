//! The engine's copy of the messaging records: Signal sessions, identities,
//! pre-keys and sender keys, plus device lists, LID mappings, the sent-message
//! outbox and processed-message ids.
//!
//! # Why everything is loaded at open
//!
//! The shell loads these namespaces whole when it opens the store
//! ([`load_records`]) and hands them to [`super::Client::restore`]; the engine
//! then reads them synchronously. The alternative — `Output::Load` and a
//! `handle_loaded` answer whenever a message needs a record — would make every
//! decryption a multi-step exchange with the shell and interleave with the
//! persistence barrier; the records are small (a session is a few hundred
//! bytes, 5,000 of them a few MB) and are kept as the stored bytes, parsed
//! only when used, so opening stays a plain bulk read.
//!
//! # Changes and rollback
//!
//! Every [`Changes`] batch the engine hands out is applied here at once, so the
//! next message (already in the same read) sees it, and its previous values
//! are kept until the shell reports the commit. When a commit fails the
//! engine drops everything queued after it, and [`Records::roll_back`] undoes
//! the batches that were not stored, newest first: memory never runs ahead of
//! the store.

use litemap::LiteMap;
use std::collections::VecDeque;

use crate::signal::store::{
    IdentityStore, PreKeyStore, SenderKeyStore, SessionStore, SignedPreKeyStore,
};
use crate::signal::{
    IdentityKey, IdentityKeyPair, PreKey, PreKeyId, ProtocolAddress, RegistrationId, SenderKeyName,
    SenderKeyRecord, SessionRecord, SignalChanges, SignalError, SignedPreKey, SignedPreKeyId,
};
use crate::store::{Change, Changes, Credentials, Namespace, Store, StoreError, keys};

/// The namespaces the engine keeps in memory.
pub const MESSAGING_NAMESPACES: [Namespace; 10] = [
    Namespace::Sessions,
    Namespace::PreKeys,
    Namespace::SignedPreKeys,
    Namespace::Identities,
    Namespace::SenderKeys,
    Namespace::SenderKeyMemory,
    Namespace::DeviceLists,
    Namespace::LidMappings,
    Namespace::Outbox,
    Namespace::ProcessedMessages,
];

/// Records by namespace (indexed by [`Namespace::index`]), then by key.
type ByNamespace = [LiteMap<String, Vec<u8>>; Namespace::ALL.len()];

/// The messaging records of a store, as loaded by [`load_records`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredRecords {
    records: ByNamespace,
}

impl StoredRecords {
    /// Nothing stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one record (for shells that read the store themselves).
    pub fn insert(&mut self, namespace: Namespace, key: impl Into<String>, value: Vec<u8>) {
        if let Some(map) = self.records.get_mut(namespace.index()) {
            map.insert(key.into(), value);
        }
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.records.iter().map(LiteMap::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads every messaging namespace of `store` (one `keys` and one
/// `load_many` per namespace).
pub async fn load_records<S: Store>(store: &S) -> Result<StoredRecords, StoreError> {
    let mut loaded = StoredRecords::new();
    for namespace in MESSAGING_NAMESPACES {
        let names = store.keys(namespace).await?;
        if names.is_empty() {
            continue;
        }
        let values = store.load_many(namespace, &names).await?;
        for (name, value) in names.into_iter().zip(values) {
            if let Some(value) = value {
                loaded.insert(namespace, name, value);
            }
        }
    }
    Ok(loaded)
}

type Undo = Vec<(Namespace, String, Option<Vec<u8>>)>;

/// The in-memory records with the undo logs of batches not yet committed.
#[derive(Debug, Default)]
pub(crate) struct Records {
    records: ByNamespace,
    pending: VecDeque<Undo>,
}

impl Records {
    pub(crate) fn restore(&mut self, stored: StoredRecords) {
        self.records = stored.records;
        self.pending.clear();
    }

    pub(crate) fn get(&self, namespace: Namespace, key: &str) -> Option<&[u8]> {
        self.records
            .get(namespace.index())
            .and_then(|m| m.get(key))
            .map(Vec::as_slice)
    }

    pub(crate) fn count(&self, namespace: Namespace) -> usize {
        self.records.get(namespace.index()).map_or(0, LiteMap::len)
    }

    pub(crate) fn iter(&self, namespace: Namespace) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.records.get(namespace.index()).into_iter().flatten()
    }

    fn set(&mut self, namespace: Namespace, key: &str, value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let map = self.records.get_mut(namespace.index())?;
        match value {
            Some(value) => map.insert(key.to_owned(), value),
            None => map.remove(key),
        }
    }

    /// Applies a batch about to be persisted and keeps how to undo it.
    pub(crate) fn apply(&mut self, changes: &Changes) {
        let mut undo = Undo::new();
        for change in changes.iter() {
            if !MESSAGING_NAMESPACES.contains(&change.namespace()) {
                continue;
            }
            match change {
                Change::Put {
                    namespace,
                    key,
                    value,
                } => {
                    let old = self.set(*namespace, key, Some(value.clone()));
                    undo.push((*namespace, key.clone(), old));
                }
                Change::Delete { namespace, key } => {
                    let old = self.set(*namespace, key, None);
                    undo.push((*namespace, key.clone(), old));
                }
                Change::Clear { namespace } => {
                    let old = self
                        .records
                        .get_mut(namespace.index())
                        .map(core::mem::take)
                        .unwrap_or_default();
                    undo.extend(old.into_iter().map(|(k, v)| (*namespace, k, Some(v))));
                }
            }
        }
        self.pending.push_back(undo);
    }

    /// The oldest pending batch was stored.
    pub(crate) fn committed(&mut self) {
        self.pending.pop_front();
    }

    /// Every pending batch is void (a commit failed): undo them, newest first.
    pub(crate) fn roll_back(&mut self) {
        while let Some(undo) = self.pending.pop_back() {
            for (namespace, key, old) in undo.into_iter().rev() {
                self.set(namespace, &key, old);
            }
        }
    }

    /// The store was wiped.
    pub(crate) fn wipe(&mut self) {
        self.records.iter_mut().for_each(LiteMap::clear);
        self.pending.clear();
    }
}

/// Converts a Signal change batch into store changes (key conventions of
/// [`crate::store::keys`]).
pub(crate) fn signal_changes(changes: &SignalChanges) -> Changes {
    let mut out = Changes::new();
    for (address, record) in &changes.sessions {
        out.put(
            Namespace::Sessions,
            keys::signal_address(address.name(), address.device_id()),
            record.to_bytes(),
        );
    }
    for id in &changes.removed_pre_keys {
        out.delete(Namespace::PreKeys, keys::pre_key(id.0));
    }
    for (address, identity) in &changes.identities {
        out.put(
            Namespace::Identities,
            keys::signal_address(address.name(), address.device_id()),
            identity.serialize().to_vec(),
        );
    }
    for (name, record) in &changes.sender_keys {
        out.put(
            Namespace::SenderKeys,
            sender_key_key(name),
            record.to_bytes(),
        );
    }
    out
}

fn sender_key_key(name: &SenderKeyName) -> String {
    let sender = name.sender();
    keys::sender_key(
        name.group_id(),
        &keys::signal_address(sender.name(), sender.device_id()),
    )
}

fn corrupt(kind: &'static str) -> impl Fn(SignalError) -> SignalError {
    move |error| {
        tracing::warn!(%error, kind, "stored record unreadable");
        error
    }
}

/// The records seen through the Signal store traits, with our identity from
/// the credentials.
pub(crate) struct SignalView<'a> {
    pub(crate) records: &'a Records,
    pub(crate) identity: IdentityKeyPair,
    pub(crate) registration_id: RegistrationId,
    pub(crate) signed_pre_key: &'a SignedPreKey,
}

impl<'a> SignalView<'a> {
    pub(crate) fn new(records: &'a Records, creds: &'a Credentials) -> Self {
        Self {
            records,
            identity: creds.identity_key_pair(),
            registration_id: RegistrationId::new(creds.registration_id),
            signed_pre_key: &creds.signed_pre_key,
        }
    }

    fn address_key(address: &ProtocolAddress) -> String {
        keys::signal_address(address.name(), address.device_id())
    }
}

impl IdentityStore for SignalView<'_> {
    fn local_identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    fn local_registration_id(&self) -> RegistrationId {
        self.registration_id
    }

    fn remote_identity(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<IdentityKey>, SignalError> {
        self.records
            .get(Namespace::Identities, &Self::address_key(address))
            .map(IdentityKey::deserialize)
            .transpose()
            .map_err(corrupt("identity"))
    }
}

impl PreKeyStore for SignalView<'_> {
    fn pre_key(&self, id: PreKeyId) -> Result<Option<PreKey>, SignalError> {
        self.records
            .get(Namespace::PreKeys, &keys::pre_key(id.0))
            .map(PreKey::from_bytes)
            .transpose()
            .map_err(corrupt("pre-key"))
    }
}

impl SignedPreKeyStore for SignalView<'_> {
    fn signed_pre_key(&self, id: SignedPreKeyId) -> Result<Option<SignedPreKey>, SignalError> {
        if self.signed_pre_key.id == id {
            return Ok(Some(self.signed_pre_key.clone()));
        }
        self.records
            .get(Namespace::SignedPreKeys, &keys::pre_key(id.0))
            .map(SignedPreKey::from_bytes)
            .transpose()
            .map_err(corrupt("signed pre-key"))
    }
}

impl SessionStore for SignalView<'_> {
    fn session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>, SignalError> {
        self.records
            .get(Namespace::Sessions, &Self::address_key(address))
            .map(SessionRecord::from_bytes)
            .transpose()
            .map_err(corrupt("session"))
    }
}

impl SenderKeyStore for SignalView<'_> {
    fn sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>, SignalError> {
        self.records
            .get(Namespace::SenderKeys, &sender_key_key(name))
            .map(SenderKeyRecord::from_bytes)
            .transpose()
            .map_err(corrupt("sender key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: u8) -> Changes {
        let mut changes = Changes::new();
        changes.put(Namespace::Sessions, key, vec![value]);
        changes
    }

    #[test]
    fn uncommitted_batches_roll_back_newest_first() {
        let mut records = Records::default();
        records.apply(&put("a.0", 1));
        records.committed();
        records.apply(&put("a.0", 2));
        let mut second = put("b.0", 3);
        second.delete(Namespace::Sessions, "a.0");
        records.apply(&second);
        assert_eq!(records.get(Namespace::Sessions, "a.0"), None);
        assert_eq!(records.get(Namespace::Sessions, "b.0"), Some(&[3][..]));
        records.roll_back();
        assert_eq!(records.get(Namespace::Sessions, "a.0"), Some(&[1][..]));
        assert_eq!(records.get(Namespace::Sessions, "b.0"), None);
    }

    #[test]
    fn other_namespaces_are_not_mirrored() {
        let mut records = Records::default();
        let mut changes = Changes::new();
        changes.put(Namespace::Credentials, "creds", vec![1]);
        records.apply(&changes);
        assert_eq!(records.get(Namespace::Credentials, "creds"), None);
        records.committed();
        assert!(records.pending.is_empty());
    }
}
