//! The Signal store of one simulated device (a phone or a contact's device).
//!
//! Owns [`DeviceStore`]: identity, signed and one-time pre-keys, sessions, peer
//! identities and sender keys, kept as the core's serialized records so the whole store
//! can be saved to the state file and loaded back. Implements the core's store traits;
//! operations return change batches that [`DeviceStore::apply`] commits.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use wa_wasm::signal::store::{
    IdentityStore, PreKeyStore, SenderKeyStore, SessionStore, SignedPreKeyStore,
};
use wa_wasm::signal::{
    IdentityKey, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress, RegistrationId,
    SenderKeyName, SenderKeyRecord, SessionRecord, SignalChanges, SignalError, SignedPreKey,
    SignedPreKeyId,
};

/// How many one-time pre-keys a simulated device keeps published.
pub(crate) const PUBLISHED_PRE_KEYS: u32 = 20;

/// One simulated device's Signal state.
#[derive(Clone)]
pub(crate) struct DeviceStore {
    identity: IdentityKeyPair,
    registration_id: RegistrationId,
    signed: SignedPreKey,
    pre_keys: BTreeMap<PreKeyId, Vec<u8>>,
    /// Next one-time pre-key id to generate, and next to hand out in a bundle.
    next_pre_key_id: u32,
    next_to_hand_out: u32,
    sessions: BTreeMap<ProtocolAddress, Vec<u8>>,
    identities: BTreeMap<ProtocolAddress, IdentityKey>,
    sender_keys: BTreeMap<SenderKeyName, Vec<u8>>,
}

impl std::fmt::Debug for DeviceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStore")
            .field("identity", self.identity.identity_key())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl DeviceStore {
    /// A fresh device with an identity, a signed pre-key and some one-time pre-keys.
    pub(crate) fn generate(now_secs: u64, rng: &mut impl CryptoRng) -> DeviceStore {
        let identity = IdentityKeyPair::generate(rng);
        let signed = SignedPreKey::generate(SignedPreKeyId(1), &identity, now_secs, rng);
        let mut store = DeviceStore {
            registration_id: RegistrationId::generate(rng),
            identity,
            signed,
            pre_keys: BTreeMap::new(),
            next_pre_key_id: 1,
            next_to_hand_out: 1,
            sessions: BTreeMap::new(),
            identities: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
        };
        store.top_up(rng);
        store
    }

    /// Our identity key pair.
    pub(crate) fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// Our registration id.
    pub(crate) fn registration_id(&self) -> RegistrationId {
        self.registration_id
    }

    /// Generates one-time pre-keys until [`PUBLISHED_PRE_KEYS`] are available.
    fn top_up(&mut self, rng: &mut impl CryptoRng) {
        // Ids travel as 3 bytes; a simulated device never gets near the end.
        while self.next_pre_key_id.saturating_sub(self.next_to_hand_out) < PUBLISHED_PRE_KEYS
            && self.next_pre_key_id < 0x00ff_ffff
        {
            let id = PreKeyId(self.next_pre_key_id);
            self.pre_keys
                .insert(id, PreKey::generate(id, rng).to_bytes());
            self.next_pre_key_id += 1;
        }
    }

    /// Our bundle for a peer, handing out one fresh one-time pre-key (as the server
    /// does with uploaded keys).
    pub(crate) fn take_bundle(&mut self, device_id: u32, rng: &mut impl CryptoRng) -> PreKeyBundle {
        self.top_up(rng);
        let id = PreKeyId(self.next_to_hand_out);
        self.next_to_hand_out = self.next_to_hand_out.saturating_add(1);
        let pre_key = self
            .pre_keys
            .get(&id)
            .and_then(|bytes| PreKey::from_bytes(bytes).ok())
            .map(|key| (key.id, key.key_pair.public));
        PreKeyBundle {
            registration_id: self.registration_id,
            device_id,
            identity_key: *self.identity.identity_key(),
            signed_pre_key_id: self.signed.id,
            signed_pre_key: self.signed.key_pair.public,
            signed_pre_key_signature: self.signed.signature,
            pre_key,
        }
    }

    /// Commits a change batch.
    pub(crate) fn apply(&mut self, changes: SignalChanges) {
        for (address, record) in changes.sessions {
            self.sessions.insert(address, record.to_bytes());
        }
        for id in changes.removed_pre_keys {
            self.pre_keys.remove(&id);
        }
        self.identities.extend(changes.identities);
        for (name, record) in changes.sender_keys {
            self.sender_keys.insert(name, record.to_bytes());
        }
    }

    /// Whether a session with `address` exists.
    pub(crate) fn has_session(&self, address: &ProtocolAddress) -> bool {
        self.sessions.contains_key(address)
    }
}

impl IdentityStore for DeviceStore {
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
        Ok(self.identities.get(address).copied())
    }
}

impl PreKeyStore for DeviceStore {
    fn pre_key(&self, id: PreKeyId) -> Result<Option<PreKey>, SignalError> {
        self.pre_keys
            .get(&id)
            .map(|bytes| PreKey::from_bytes(bytes))
            .transpose()
    }
}

impl SignedPreKeyStore for DeviceStore {
    fn signed_pre_key(&self, id: SignedPreKeyId) -> Result<Option<SignedPreKey>, SignalError> {
        Ok((id == self.signed.id).then(|| self.signed.clone()))
    }
}

impl SessionStore for DeviceStore {
    fn session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>, SignalError> {
        self.sessions
            .get(address)
            .map(|bytes| SessionRecord::from_bytes(bytes))
            .transpose()
    }
}

impl SenderKeyStore for DeviceStore {
    fn sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>, SignalError> {
        self.sender_keys
            .get(name)
            .map(|bytes| SenderKeyRecord::from_bytes(bytes))
            .transpose()
    }
}

/// The saved form of a [`DeviceStore`] (records as hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedDeviceStore {
    identity: String,
    registration_id: u32,
    signed_pre_key: String,
    pre_keys: Vec<String>,
    next_pre_key_id: u32,
    next_to_hand_out: u32,
    sessions: Vec<(String, u32, String)>,
    identities: Vec<(String, u32, String)>,
    sender_keys: Vec<(String, String, u32, String)>,
}

/// Why a saved store could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("not hex: {0}")]
    Hex(#[from] hex::FromHexError),
    #[error(transparent)]
    Signal(#[from] SignalError),
}

impl From<&DeviceStore> for SavedDeviceStore {
    fn from(store: &DeviceStore) -> Self {
        SavedDeviceStore {
            identity: hex::encode(store.identity.to_bytes()),
            registration_id: store.registration_id.value(),
            signed_pre_key: hex::encode(store.signed.to_bytes()),
            pre_keys: store.pre_keys.values().map(hex::encode).collect(),
            next_pre_key_id: store.next_pre_key_id,
            next_to_hand_out: store.next_to_hand_out,
            sessions: store
                .sessions
                .iter()
                .map(|(a, r)| (a.name().to_owned(), a.device_id(), hex::encode(r)))
                .collect(),
            identities: store
                .identities
                .iter()
                .map(|(a, k)| {
                    (
                        a.name().to_owned(),
                        a.device_id(),
                        hex::encode(k.serialize()),
                    )
                })
                .collect(),
            sender_keys: store
                .sender_keys
                .iter()
                .map(|(n, r)| {
                    (
                        n.group_id().to_owned(),
                        n.sender().name().to_owned(),
                        n.sender().device_id(),
                        hex::encode(r),
                    )
                })
                .collect(),
        }
    }
}

impl TryFrom<&SavedDeviceStore> for DeviceStore {
    type Error = LoadError;

    fn try_from(saved: &SavedDeviceStore) -> Result<Self, LoadError> {
        let mut pre_keys = BTreeMap::new();
        for text in &saved.pre_keys {
            let bytes = hex::decode(text)?;
            let key = PreKey::from_bytes(&bytes)?;
            pre_keys.insert(key.id, bytes);
        }
        let mut sessions = BTreeMap::new();
        for (name, device, record) in &saved.sessions {
            sessions.insert(
                ProtocolAddress::new(name.clone(), *device),
                hex::decode(record)?,
            );
        }
        let mut identities = BTreeMap::new();
        for (name, device, key) in &saved.identities {
            identities.insert(
                ProtocolAddress::new(name.clone(), *device),
                IdentityKey::deserialize(&hex::decode(key)?)?,
            );
        }
        let mut sender_keys = BTreeMap::new();
        for (group, name, device, record) in &saved.sender_keys {
            sender_keys.insert(
                SenderKeyName::new(group.clone(), ProtocolAddress::new(name.clone(), *device)),
                hex::decode(record)?,
            );
        }
        Ok(DeviceStore {
            identity: IdentityKeyPair::from_bytes(&hex::decode(&saved.identity)?)?,
            registration_id: RegistrationId::new(saved.registration_id),
            signed: SignedPreKey::from_bytes(&hex::decode(&saved.signed_pre_key)?)?,
            pre_keys,
            next_pre_key_id: saved.next_pre_key_id,
            next_to_hand_out: saved.next_to_hand_out,
            sessions,
            identities,
            sender_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use wa_wasm::signal::{CiphertextMessage, session};

    use super::*;

    #[test]
    fn bundles_sessions_and_save_load() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut alice = DeviceStore::generate(1_700_000_000, &mut rng);
        let mut bob = DeviceStore::generate(1_700_000_000, &mut rng);
        let bundle = bob.take_bundle(0, &mut rng);
        let second = bob.take_bundle(0, &mut rng);
        assert_ne!(
            bundle.pre_key, second.pre_key,
            "each bundle has its own pre-key"
        );

        let bob_address = ProtocolAddress::new("bob", 0);
        let alice_address = ProtocolAddress::new("alice", 0);
        let outcome = session::process_bundle(&alice, &bob_address, &bundle, &mut rng).unwrap();
        alice.apply(outcome.changes);
        let sent = session::encrypt(&alice, &bob_address, b"hi").unwrap();
        alice.apply(sent.changes);

        let saved = SavedDeviceStore::from(&bob);
        let json = serde_json::to_string(&saved).unwrap();
        let mut bob =
            DeviceStore::try_from(&serde_json::from_str::<SavedDeviceStore>(&json).unwrap())
                .unwrap();
        let message = CiphertextMessage::parse("pkmsg", sent.value.serialized())
            .unwrap()
            .unwrap();
        let received = session::decrypt(&bob, &alice_address, &message, &mut rng).unwrap();
        assert_eq!(received.value, b"hi");
        bob.apply(received.changes);
        assert!(bob.has_session(&alice_address));

        let reloaded = DeviceStore::try_from(&SavedDeviceStore::from(&bob)).unwrap();
        assert!(reloaded.has_session(&alice_address));
        assert_eq!(
            reloaded.remote_identity(&alice_address).unwrap(),
            Some(*alice.identity().identity_key())
        );
    }
}
