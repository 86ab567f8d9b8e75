//! Store traits, change batches and an in-memory store.
//!
//! The traits are synchronous and read-only: the client engine prefetches the
//! records an operation needs from its own (asynchronous) storage and hands
//! them over through these traits. Operations never write; they return a
//! [`SignalChanges`] batch that the caller commits atomically *before* it
//! acknowledges the message, so a crash can neither lose a message nor
//! desynchronise a ratchet. Records travel as versioned bytes
//! (`to_bytes`/`from_bytes`), so a store may keep opaque blobs.
//!
//! [`StagedStore`] layers uncommitted changes over a store, for a caller that
//! runs several operations (say a `pkmsg` carrying a sender key, then the
//! `skmsg` it unlocks) before one commit.

use std::collections::BTreeMap;

use super::address::{ProtocolAddress, SenderKeyName};
use super::error::SignalError;
use super::group::SenderKeyRecord;
use super::keys::{
    IdentityKey, IdentityKeyPair, PreKey, PreKeyId, RegistrationId, SignedPreKey, SignedPreKeyId,
};
use super::state::SessionRecord;

/// Our identity and the identities of the peers we have talked to.
pub trait IdentityStore {
    /// Our identity key pair.
    fn local_identity(&self) -> &IdentityKeyPair;
    /// Our registration id.
    fn local_registration_id(&self) -> RegistrationId;
    /// The identity key saved for `address` (first seen, or last accepted).
    fn remote_identity(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<IdentityKey>, SignalError>;
}

/// Our one-time pre-keys.
pub trait PreKeyStore {
    /// The pre-key with this id, if we still have it.
    fn pre_key(&self, id: PreKeyId) -> Result<Option<PreKey>, SignalError>;
}

/// Our signed pre-keys.
pub trait SignedPreKeyStore {
    /// The signed pre-key with this id, if we still have it.
    fn signed_pre_key(&self, id: SignedPreKeyId) -> Result<Option<SignedPreKey>, SignalError>;
}

/// 1:1 session records, one per peer device.
pub trait SessionStore {
    /// The session record for `address`, if any.
    fn session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>, SignalError>;
}

/// Sender key records, one per (group, sender device).
pub trait SenderKeyStore {
    /// The sender key record for `name`, if any.
    fn sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>, SignalError>;
}

/// Everything the Signal operations read.
pub trait SignalStore:
    IdentityStore + PreKeyStore + SignedPreKeyStore + SessionStore + SenderKeyStore
{
}

impl<T> SignalStore for T where
    T: IdentityStore + PreKeyStore + SignedPreKeyStore + SessionStore + SenderKeyStore + ?Sized
{
}

/// A peer device presented a different identity key than the one saved: the
/// new one was accepted (and the old session archived); the application
/// should tell the user that the security code changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityChange {
    /// The previously saved identity.
    pub previous: IdentityKey,
    /// The identity now saved.
    pub current: IdentityKey,
}

/// Records keyed by `K` in the order they were first put; a later put of the
/// same key replaces the value in place.
///
/// A batch touches a handful of records (at most one per device of a group),
/// so a vector searched linearly does the job of a map at a fraction of the
/// code a sorted map adds to the wasm module for each key type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puts<K, V>(Vec<(K, V)>);

impl<K, V> Default for Puts<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: PartialEq, V> Puts<K, V> {
    /// Puts `value` under `key`, replacing an earlier value.
    pub fn insert(&mut self, key: K, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value put under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether a value is put under `key`.
    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The value put under `key`, to change in place.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is put.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys in the order they were first put.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The entries in the order they were first put.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: PartialEq, V> Extend<(K, V)> for Puts<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl<K, V> IntoIterator for Puts<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a Puts<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter =
        core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// What an operation wants written, to be committed atomically by the caller
/// before it acknowledges the message. Later puts replace earlier ones.
#[derive(Debug, Clone, Default)]
pub struct SignalChanges {
    /// Session records to write.
    pub sessions: Puts<ProtocolAddress, SessionRecord>,
    /// One-time pre-keys consumed by incoming sessions: delete them.
    pub removed_pre_keys: Vec<PreKeyId>,
    /// Peer identities to save (first seen, or changed).
    pub identities: Puts<ProtocolAddress, IdentityKey>,
    /// Sender key records to write.
    pub sender_keys: Puts<SenderKeyName, SenderKeyRecord>,
    /// Identity changes to report to the user (not to store).
    pub identity_changes: Puts<ProtocolAddress, IdentityChange>,
}

impl SignalChanges {
    /// Whether there is nothing to write or report.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.removed_pre_keys.is_empty()
            && self.identities.is_empty()
            && self.sender_keys.is_empty()
            && self.identity_changes.is_empty()
    }

    /// Folds `later` (produced after `self` was staged) into `self`.
    pub fn merge(&mut self, later: SignalChanges) {
        self.sessions.extend(later.sessions);
        for id in later.removed_pre_keys {
            if !self.removed_pre_keys.contains(&id) {
                self.removed_pre_keys.push(id);
            }
        }
        self.identities.extend(later.identities);
        self.sender_keys.extend(later.sender_keys);
        for (address, change) in later.identity_changes {
            match self.identity_changes.get_mut(&address) {
                Some(earlier) => earlier.current = change.current,
                None => self.identity_changes.insert(address, change),
            }
        }
    }
}

/// The result of an operation plus the changes it needs committed.
#[derive(Debug)]
#[must_use = "the changes must be committed for the operation to take effect"]
pub struct Outcome<T> {
    /// What the operation produced (plaintext, ciphertext, a message…).
    pub value: T,
    /// What to write before acknowledging.
    pub changes: SignalChanges,
}

/// Saves a first-seen identity, or accepts and reports a changed one.
pub(crate) fn note_identity<S: IdentityStore + ?Sized>(
    store: &S,
    address: &ProtocolAddress,
    identity: &IdentityKey,
    changes: &mut SignalChanges,
) -> Result<(), SignalError> {
    match store.remote_identity(address)? {
        Some(saved) if saved == *identity => {}
        Some(saved) => {
            changes.identity_changes.insert(
                address.clone(),
                IdentityChange {
                    previous: saved,
                    current: *identity,
                },
            );
            changes.identities.insert(address.clone(), *identity);
        }
        None => {
            changes.identities.insert(address.clone(), *identity);
        }
    }
    Ok(())
}

/// A store kept in memory, holding every record in its serialised form (as a
/// persistent store would). For tests, tools and as a reference.
#[derive(Clone)]
pub struct InMemorySignalStore {
    identity: IdentityKeyPair,
    registration_id: RegistrationId,
    identities: BTreeMap<ProtocolAddress, Vec<u8>>,
    pre_keys: BTreeMap<PreKeyId, Vec<u8>>,
    signed_pre_keys: BTreeMap<SignedPreKeyId, Vec<u8>>,
    sessions: BTreeMap<ProtocolAddress, Vec<u8>>,
    sender_keys: BTreeMap<SenderKeyName, Vec<u8>>,
}

impl core::fmt::Debug for InMemorySignalStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InMemorySignalStore")
            .field("identity", &self.identity)
            .field("registration_id", &self.registration_id)
            .field("identities", &self.identities.len())
            .field("pre_keys", &self.pre_keys.len())
            .field("signed_pre_keys", &self.signed_pre_keys.len())
            .field("sessions", &self.sessions.len())
            .field("sender_keys", &self.sender_keys.len())
            .finish()
    }
}

/// Two stores are equal when they hold the same identity and the same bytes.
impl PartialEq for InMemorySignalStore {
    fn eq(&self, other: &Self) -> bool {
        self.identity.to_bytes() == other.identity.to_bytes()
            && self.registration_id == other.registration_id
            && self.identities == other.identities
            && self.pre_keys == other.pre_keys
            && self.signed_pre_keys == other.signed_pre_keys
            && self.sessions == other.sessions
            && self.sender_keys == other.sender_keys
    }
}

impl Eq for InMemorySignalStore {}

impl InMemorySignalStore {
    /// An empty store for the given identity.
    pub fn new(identity: IdentityKeyPair, registration_id: RegistrationId) -> Self {
        Self {
            identity,
            registration_id,
            identities: BTreeMap::new(),
            pre_keys: BTreeMap::new(),
            signed_pre_keys: BTreeMap::new(),
            sessions: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a one-time pre-key.
    pub fn add_pre_key(&mut self, pre_key: &PreKey) {
        self.pre_keys.insert(pre_key.id, pre_key.to_bytes());
    }

    /// Adds (or replaces) a signed pre-key.
    pub fn add_signed_pre_key(&mut self, signed_pre_key: &SignedPreKey) {
        self.signed_pre_keys
            .insert(signed_pre_key.id, signed_pre_key.to_bytes());
    }

    /// Commits a change batch.
    pub fn apply(&mut self, changes: SignalChanges) {
        for (address, record) in changes.sessions {
            self.sessions.insert(address, record.to_bytes());
        }
        for id in changes.removed_pre_keys {
            self.pre_keys.remove(&id);
        }
        for (address, identity) in changes.identities {
            self.identities
                .insert(address, identity.serialize().to_vec());
        }
        for (name, record) in changes.sender_keys {
            self.sender_keys.insert(name, record.to_bytes());
        }
    }

    /// Forgets the session with `address` (the next message to it needs a bundle).
    pub fn remove_session(&mut self, address: &ProtocolAddress) {
        self.sessions.remove(address);
    }

    /// Number of one-time pre-keys left.
    pub fn pre_key_count(&self) -> usize {
        self.pre_keys.len()
    }

    /// The stored bytes of a session record (for inspection in tests).
    pub fn session_bytes(&self, address: &ProtocolAddress) -> Option<&[u8]> {
        self.sessions.get(address).map(Vec::as_slice)
    }
}

impl IdentityStore for InMemorySignalStore {
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
        self.identities
            .get(address)
            .map(|bytes| IdentityKey::deserialize(bytes))
            .transpose()
    }
}

impl PreKeyStore for InMemorySignalStore {
    fn pre_key(&self, id: PreKeyId) -> Result<Option<PreKey>, SignalError> {
        self.pre_keys
            .get(&id)
            .map(|bytes| PreKey::from_bytes(bytes))
            .transpose()
    }
}

impl SignedPreKeyStore for InMemorySignalStore {
    fn signed_pre_key(&self, id: SignedPreKeyId) -> Result<Option<SignedPreKey>, SignalError> {
        self.signed_pre_keys
            .get(&id)
            .map(|bytes| SignedPreKey::from_bytes(bytes))
            .transpose()
    }
}

impl SessionStore for InMemorySignalStore {
    fn session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>, SignalError> {
        self.sessions
            .get(address)
            .map(|bytes| SessionRecord::from_bytes(bytes))
            .transpose()
    }
}

impl SenderKeyStore for InMemorySignalStore {
    fn sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>, SignalError> {
        self.sender_keys
            .get(name)
            .map(|bytes| SenderKeyRecord::from_bytes(bytes))
            .transpose()
    }
}

/// A store seen through changes that are not committed yet.
#[derive(Debug)]
pub struct StagedStore<'a, S: ?Sized> {
    base: &'a S,
    staged: SignalChanges,
}

impl<'a, S: SignalStore + ?Sized> StagedStore<'a, S> {
    /// Starts with nothing staged.
    pub fn new(base: &'a S) -> Self {
        Self {
            base,
            staged: SignalChanges::default(),
        }
    }

    /// Adds an operation's changes; later operations see them.
    pub fn stage(&mut self, changes: SignalChanges) {
        self.staged.merge(changes);
    }

    /// What is staged so far.
    pub fn staged(&self) -> &SignalChanges {
        &self.staged
    }

    /// Everything staged, as one batch to commit.
    pub fn into_changes(self) -> SignalChanges {
        self.staged
    }
}

impl<S: SignalStore + ?Sized> IdentityStore for StagedStore<'_, S> {
    fn local_identity(&self) -> &IdentityKeyPair {
        self.base.local_identity()
    }

    fn local_registration_id(&self) -> RegistrationId {
        self.base.local_registration_id()
    }

    fn remote_identity(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<IdentityKey>, SignalError> {
        match self.staged.identities.get(address) {
            Some(identity) => Ok(Some(*identity)),
            None => self.base.remote_identity(address),
        }
    }
}

impl<S: SignalStore + ?Sized> PreKeyStore for StagedStore<'_, S> {
    fn pre_key(&self, id: PreKeyId) -> Result<Option<PreKey>, SignalError> {
        if self.staged.removed_pre_keys.contains(&id) {
            Ok(None)
        } else {
            self.base.pre_key(id)
        }
    }
}

impl<S: SignalStore + ?Sized> SignedPreKeyStore for StagedStore<'_, S> {
    fn signed_pre_key(&self, id: SignedPreKeyId) -> Result<Option<SignedPreKey>, SignalError> {
        self.base.signed_pre_key(id)
    }
}

impl<S: SignalStore + ?Sized> SessionStore for StagedStore<'_, S> {
    fn session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>, SignalError> {
        match self.staged.sessions.get(address) {
            Some(record) => Ok(Some(record.clone())),
            None => self.base.session(address),
        }
    }
}

impl<S: SignalStore + ?Sized> SenderKeyStore for StagedStore<'_, S> {
    fn sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>, SignalError> {
        match self.staged.sender_keys.get(name) {
            Some(record) => Ok(Some(record.clone())),
            None => self.base.sender_key(name),
        }
    }
}
