//! A small harness shared by the Signal integration tests: a party with an
//! in-memory store that commits each operation's changes, and checks that a
//! failed operation changed nothing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::signal::group::{
    create_distribution, group_decrypt, group_encrypt, process_distribution,
};
use wa_wasm::signal::session::{decrypt, encrypt, process_bundle};
use wa_wasm::signal::store::{InMemorySignalStore, SessionStore};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress,
    RegistrationId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyName, SessionRecord,
    SignalChanges, SignalError, SignedPreKey, SignedPreKeyId,
};

/// Number of one-time pre-keys each party starts with.
pub const PRE_KEYS: u32 = 8;

pub struct Party {
    pub store: InMemorySignalStore,
    pub address: ProtocolAddress,
    pub rng: StdRng,
    pub signed_pre_key: SignedPreKey,
    pub pre_keys: Vec<PreKey>,
    /// Every change batch committed, in order.
    pub committed: Vec<SignalChanges>,
}

impl Party {
    pub fn new(name: &str, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let registration_id = RegistrationId::generate(&mut rng);
        let mut store = InMemorySignalStore::new(identity.clone(), registration_id);
        let signed_pre_key =
            SignedPreKey::generate(SignedPreKeyId(1), &identity, 1_700_000_000, &mut rng);
        store.add_signed_pre_key(&signed_pre_key);
        let pre_keys: Vec<_> = (1..=PRE_KEYS)
            .map(|id| PreKey::generate(PreKeyId(id), &mut rng))
            .collect();
        for pre_key in &pre_keys {
            store.add_pre_key(pre_key);
        }
        Self {
            store,
            address: ProtocolAddress::new(name, 1),
            rng,
            signed_pre_key,
            pre_keys,
            committed: Vec::new(),
        }
    }

    /// Our bundle, offering one-time pre-key `pre_key` (1-based) or none.
    pub fn bundle(&self, pre_key: Option<u32>) -> PreKeyBundle {
        use wa_wasm::signal::store::IdentityStore;
        PreKeyBundle {
            registration_id: self.store.local_registration_id(),
            device_id: self.address.device_id(),
            identity_key: *self.store.local_identity().identity_key(),
            signed_pre_key_id: self.signed_pre_key.id,
            signed_pre_key: self.signed_pre_key.key_pair.public,
            signed_pre_key_signature: self.signed_pre_key.signature,
            pre_key: pre_key.map(|id| {
                let key = &self.pre_keys[(id - 1) as usize];
                (key.id, key.key_pair.public)
            }),
        }
    }

    pub fn commit(&mut self, changes: SignalChanges) {
        self.committed.push(changes.clone());
        self.store.apply(changes);
    }

    pub fn start_session(&mut self, with: &Party, pre_key: Option<u32>) -> SignalChanges {
        let outcome = process_bundle(
            &self.store,
            &with.address,
            &with.bundle(pre_key),
            &mut self.rng,
        )
        .unwrap();
        self.commit(outcome.changes.clone());
        outcome.changes
    }

    pub fn send(&mut self, to: &ProtocolAddress, plaintext: &[u8]) -> CiphertextMessage {
        let outcome = encrypt(&self.store, to, plaintext).unwrap();
        self.commit(outcome.changes);
        outcome.value
    }

    /// Decrypts from its wire form; commits on success, and on failure checks
    /// that nothing changed.
    pub fn receive(
        &mut self,
        from: &ProtocolAddress,
        message: &CiphertextMessage,
    ) -> Result<Vec<u8>, SignalError> {
        let parsed = CiphertextMessage::parse(message.enc_type(), message.serialized())
            .expect("a 1:1 type")?;
        let before = self.store.clone();
        match decrypt(&self.store, from, &parsed, &mut self.rng) {
            Ok(outcome) => {
                self.commit(outcome.changes);
                Ok(outcome.value)
            }
            Err(error) => {
                assert_eq!(self.store, before, "a failed decryption changed the store");
                Err(error)
            }
        }
    }

    pub fn session(&self, with: &ProtocolAddress) -> Option<SessionRecord> {
        self.store.session(with).unwrap()
    }

    pub fn sender_key_name(&self, group: &str) -> SenderKeyName {
        SenderKeyName::new(group, self.address.clone())
    }

    pub fn distribution(&mut self, group: &str) -> SenderKeyDistributionMessage {
        let outcome =
            create_distribution(&self.store, &self.sender_key_name(group), &mut self.rng).unwrap();
        self.commit(outcome.changes);
        outcome.value
    }

    pub fn process_distribution(
        &mut self,
        group: &str,
        sender: &ProtocolAddress,
        message: &SenderKeyDistributionMessage,
    ) {
        let parsed = SenderKeyDistributionMessage::from_bytes(message.serialized()).unwrap();
        let name = SenderKeyName::new(group, sender.clone());
        let outcome = process_distribution(&self.store, &name, &parsed).unwrap();
        self.commit(outcome.changes);
    }

    pub fn group_send(&mut self, group: &str, plaintext: &[u8]) -> SenderKeyMessage {
        let outcome = group_encrypt(
            &self.store,
            &self.sender_key_name(group),
            plaintext,
            &mut self.rng,
        )
        .unwrap();
        self.commit(outcome.changes);
        outcome.value
    }

    pub fn group_receive(
        &mut self,
        group: &str,
        sender: &ProtocolAddress,
        message: &SenderKeyMessage,
    ) -> Result<Vec<u8>, SignalError> {
        let parsed = SenderKeyMessage::from_bytes(message.serialized())?;
        let name = SenderKeyName::new(group, sender.clone());
        let before = self.store.clone();
        match group_decrypt(&self.store, &name, &parsed) {
            Ok(outcome) => {
                self.commit(outcome.changes);
                Ok(outcome.value)
            }
            Err(error) => {
                assert_eq!(self.store, before, "a failed decryption changed the store");
                Err(error)
            }
        }
    }
}
