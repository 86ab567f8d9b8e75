//! Group messaging with sender keys: each member's device has its own chain
//! per group, handed to the others in a [`SenderKeyDistributionMessage`] (sent
//! pairwise), and encrypts each group message once (`skmsg`), signed with the
//! chain's signing key.
//!
//! Every function reads the store and returns an [`Outcome`] whose changes the
//! caller commits; a failed call returns an error and changes nothing.

use core::fmt;
use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::MAX_SENDER_KEY_STATES;
use super::address::SenderKeyName;
use super::error::{RecordKind, SignalError};
use super::ratchet::{
    ChainKey, SenderMessageKeys, SkippedKey, decrypt_body, encrypt_body, receiving_key_seed,
};
use super::record;
use super::state::{
    chain_key_data, chain_key_from_data, skipped_keys_data, skipped_keys_from_data,
};
use super::store::{Outcome, SenderKeyStore, SignalChanges};
use super::wire::{SenderKeyDistributionMessage, SenderKeyMessage};
use crate::crypto::{KeyPair, PrivateKey, PublicKey};
use crate::proto::signal as pb;

const KIND: RecordKind = RecordKind::SenderKey;

/// One sender chain, identified by its key id.
#[derive(Clone)]
struct SenderKeyState {
    key_id: u32,
    chain_key: ChainKey,
    signing_public: PublicKey,
    /// Present only for our own chain.
    signing_private: Option<PrivateKey>,
    skipped: VecDeque<SkippedKey>,
}

/// The sender key states of one sender in one group (newest first, at most 5).
#[derive(Clone, Default)]
pub struct SenderKeyRecord {
    states: VecDeque<SenderKeyState>,
}

impl fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyRecord")
            .field(
                "key_ids",
                &self.states.iter().map(|s| s.key_id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SenderKeyRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the record holds no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The key ids held, newest first.
    pub fn key_ids(&self) -> Vec<u32> {
        self.states.iter().map(|state| state.key_id).collect()
    }

    fn state_mut(&mut self, key_id: u32) -> Option<&mut SenderKeyState> {
        self.states.iter_mut().find(|state| state.key_id == key_id)
    }

    /// Adds a received state. A re-sent distribution message for a state we
    /// already have keeps our copy (it may be further along, and resetting it
    /// would re-open used iterations); a state reusing the key id with another
    /// signing key replaces the old one.
    fn add_received_state(&mut self, message: &SenderKeyDistributionMessage) {
        let same = |state: &SenderKeyState| {
            state.key_id == message.key_id() && state.signing_public == *message.signing_key()
        };
        let state = match self.states.iter().position(same) {
            Some(index) => self.states.remove(index),
            None => None,
        }
        .unwrap_or_else(|| SenderKeyState {
            key_id: message.key_id(),
            chain_key: ChainKey {
                key: *message.chain_key(),
                index: message.iteration(),
            },
            signing_public: *message.signing_key(),
            signing_private: None,
            skipped: VecDeque::new(),
        });
        self.states.retain(|old| old.key_id != message.key_id());
        self.states.push_front(state);
        self.states.truncate(MAX_SENDER_KEY_STATES);
    }

    /// Serialises as a versioned record.
    pub fn to_bytes(&self) -> Vec<u8> {
        record::encode(&pb::SenderKeyRecordData {
            states: self
                .states
                .iter()
                .map(|state| pb::SenderKeyStateData {
                    key_id: Some(state.key_id),
                    chain_key: Some(chain_key_data(&state.chain_key)),
                    signing_public: Some(state.signing_public.to_prefixed().to_vec()),
                    signing_private: state
                        .signing_private
                        .as_ref()
                        .map(|key| key.as_bytes().to_vec()),
                    skipped_keys: skipped_keys_data(&state.skipped),
                })
                .collect(),
        })
    }

    /// Parses a record written by [`SenderKeyRecord::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: pb::SenderKeyRecordData = record::decode(bytes, KIND)?;
        let states = data
            .states
            .iter()
            .take(MAX_SENDER_KEY_STATES)
            .map(|state| {
                Ok(SenderKeyState {
                    key_id: record::required(state.key_id, KIND, "key id")?,
                    chain_key: chain_key_from_data(state.chain_key.as_ref(), KIND)?,
                    signing_public: record::public_key(
                        state.signing_public.as_deref(),
                        KIND,
                        "signing key",
                    )?,
                    signing_private: state
                        .signing_private
                        .as_deref()
                        .map(|bytes| record::private_key(Some(bytes), KIND, "signing private key"))
                        .transpose()?,
                    skipped: skipped_keys_from_data(&state.skipped_keys, KIND)?,
                })
            })
            .collect::<Result<VecDeque<_>, SignalError>>()?;
        Ok(Self { states })
    }
}

/// Our distribution message for the group (`name` = group + our own address),
/// creating our sender key first if we have none. Send it pairwise to every
/// member device that does not have it yet.
///
/// To rotate the key (e.g. after a member left), delete the record first.
pub fn create_distribution<S: SenderKeyStore + ?Sized>(
    store: &S,
    name: &SenderKeyName,
    rng: &mut impl CryptoRng,
) -> Result<Outcome<SenderKeyDistributionMessage>, SignalError> {
    let mut changes = SignalChanges::default();
    let existing = store.sender_key(name)?.and_then(|record| {
        record
            .states
            .front()
            .filter(|state| state.signing_private.is_some())
            .cloned()
    });
    let state = match existing {
        Some(state) => state,
        None => {
            let mut chain_key = [0u8; 32];
            rng.fill_bytes(&mut chain_key);
            let key_id = rng.next_u32() & 0x7fff_ffff;
            let signing = KeyPair::generate(rng);
            let state = SenderKeyState {
                key_id,
                chain_key: ChainKey {
                    key: chain_key,
                    index: 0,
                },
                signing_public: signing.public,
                signing_private: Some(signing.private),
                skipped: VecDeque::new(),
            };
            let record = SenderKeyRecord {
                states: VecDeque::from([state.clone()]),
            };
            changes.sender_keys.insert(name.clone(), record);
            state
        }
    };
    Ok(Outcome {
        value: SenderKeyDistributionMessage::new(
            state.key_id,
            state.chain_key.index,
            state.chain_key.key,
            state.signing_public,
        ),
        changes,
    })
}

/// Stores the sender key that `name`'s sender distributed, so that its group
/// messages can be decrypted.
pub fn process_distribution<S: SenderKeyStore + ?Sized>(
    store: &S,
    name: &SenderKeyName,
    message: &SenderKeyDistributionMessage,
) -> Result<Outcome<()>, SignalError> {
    let mut record = store.sender_key(name)?.unwrap_or_default();
    record.add_received_state(message);
    let mut changes = SignalChanges::default();
    changes.sender_keys.insert(name.clone(), record);
    Ok(Outcome { value: (), changes })
}

/// Encrypts a group message with our sender key (`name` = group + our address).
pub fn group_encrypt<S: SenderKeyStore + ?Sized>(
    store: &S,
    name: &SenderKeyName,
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Outcome<SenderKeyMessage>, SignalError> {
    let mut record = store
        .sender_key(name)?
        .ok_or(SignalError::NoSenderKeyState(None))?;
    let state = record
        .states
        .front_mut()
        .ok_or(SignalError::NoSenderKeyState(None))?;
    let signing_key = state
        .signing_private
        .as_ref()
        .ok_or(SignalError::NotOwnSenderKey)?;
    let next = state.chain_key.next()?;
    let keys = SenderMessageKeys::derive(&state.chain_key.message_key_seed());
    let ciphertext = encrypt_body(&keys.cipher_key, &keys.iv, plaintext);
    let message = SenderKeyMessage::new(
        state.key_id,
        state.chain_key.index,
        ciphertext,
        signing_key,
        rng,
    );
    state.chain_key = next;
    let mut changes = SignalChanges::default();
    changes.sender_keys.insert(name.clone(), record);
    Ok(Outcome {
        value: message,
        changes,
    })
}

/// Decrypts a group message from `name`'s sender. Tolerates gaps and
/// reordering (keys of skipped iterations are kept, within the limits);
/// rejects replays with [`SignalError::DuplicateMessage`].
pub fn group_decrypt<S: SenderKeyStore + ?Sized>(
    store: &S,
    name: &SenderKeyName,
    message: &SenderKeyMessage,
) -> Result<Outcome<Vec<u8>>, SignalError> {
    let key_id = message.key_id();
    let mut record = store
        .sender_key(name)?
        .ok_or(SignalError::NoSenderKeyState(Some(key_id)))?;
    let state = record
        .state_mut(key_id)
        .ok_or(SignalError::NoSenderKeyState(Some(key_id)))?;
    message.verify_signature(&state.signing_public)?;
    let seed = receiving_key_seed(
        &mut state.chain_key,
        &mut state.skipped,
        message.iteration(),
    )?;
    let keys = SenderMessageKeys::derive(&seed);
    let plaintext = decrypt_body(&keys.cipher_key, &keys.iv, message.ciphertext())?;
    let mut changes = SignalChanges::default();
    changes.sender_keys.insert(name.clone(), record);
    Ok(Outcome {
        value: plaintext,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::signal::MAX_FORWARD_JUMP;
    use crate::signal::address::ProtocolAddress;
    use crate::signal::keys::{IdentityKeyPair, RegistrationId};
    use crate::signal::store::InMemorySignalStore;
    use crate::signal::test_support::QueueRng;

    // From Baileys' sender key classes run with the same keys and signature
    // randomness (tests/interop/vectors.mjs).
    const CHAIN_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    const KEY_ID_LE: &str = "06120f00"; // 987654
    const SIGNING_PRIVATE: &str =
        "68ee2aefc5d53fe3a547d4bdc77cacb531cd4e071e943cefdab4098cec0ff66e";
    const SKDM: &str = "330886a43c10001a205a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a22210524201e532700ad54c360b5b63156185e527ba9cf181a85e72d104e1418df207d";
    const SKMSG: [&str; 2] = [
        "330886a43c10001a106e9f3c58d5760b04ed15f584ebd2140b9f810b6b0f7daa501c9230edffce0f269d2302051c7af56423da9e982c5ad0c23020009d61a508c4459b09e9f5b16332933f22bd5f663cd97db7fa163f285106",
        "330886a43c10011a1002c7ba29dfc7e5d779cf3a127d0131b5c9245a1618df3e49322ecba66acc2b19ed901850fc70791295a7d410629d9c8467a107eb67c1d26e756a18e721674528df26cab045397319e17eb6a678629c04",
    ];

    fn store(seed: u64) -> InMemorySignalStore {
        let mut rng = StdRng::seed_from_u64(seed);
        InMemorySignalStore::new(IdentityKeyPair::generate(&mut rng), RegistrationId::new(1))
    }

    fn name() -> SenderKeyName {
        SenderKeyName::new("120363@g.us", ProtocolAddress::from_user("4477", 1, 0))
    }

    #[test]
    fn sender_key_transcript_matches_baileys() {
        let mut sender = store(1);
        let mut rng = QueueRng::new(&[CHAIN_KEY, KEY_ID_LE, SIGNING_PRIVATE]);
        let created = create_distribution(&sender, &name(), &mut rng).unwrap();
        assert_eq!(hex::encode(created.value.serialized()), SKDM);
        sender.apply(created.changes);
        // Asking again returns the same key and changes nothing.
        let again = create_distribution(&sender, &name(), &mut rng).unwrap();
        assert_eq!(hex::encode(again.value.serialized()), SKDM);
        assert!(again.changes.is_empty());

        let plaintexts = [&b"group one"[..], b"group two"];
        for (index, (plaintext, expected)) in plaintexts.iter().zip(SKMSG).enumerate() {
            let random = format!("{:02x}", 0x21 + index).repeat(64);
            let mut rng = QueueRng::new(&[&random]);
            let sent = group_encrypt(&sender, &name(), plaintext, &mut rng).unwrap();
            assert_eq!(hex::encode(sent.value.serialized()), expected);
            sender.apply(sent.changes);
        }

        let mut receiver = store(2);
        let skdm = SenderKeyDistributionMessage::from_bytes(&hex::decode(SKDM).unwrap()).unwrap();
        receiver.apply(
            process_distribution(&receiver, &name(), &skdm)
                .unwrap()
                .changes,
        );
        for (bytes, plaintext) in SKMSG.iter().zip(plaintexts) {
            let message = SenderKeyMessage::from_bytes(&hex::decode(bytes).unwrap()).unwrap();
            let got = group_decrypt(&receiver, &name(), &message).unwrap();
            assert_eq!(got.value, plaintext);
            receiver.apply(got.changes);
        }
    }

    #[test]
    fn gaps_reordering_and_replays() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut sender = store(1);
        let created = create_distribution(&sender, &name(), &mut rng).unwrap();
        let skdm = created.value;
        sender.apply(created.changes);
        let messages: Vec<_> = (0..6u8)
            .map(|i| {
                let sent = group_encrypt(&sender, &name(), &[i; 3], &mut rng).unwrap();
                sender.apply(sent.changes);
                sent.value
            })
            .collect();
        let mut receiver = store(2);
        receiver.apply(
            process_distribution(&receiver, &name(), &skdm)
                .unwrap()
                .changes,
        );
        for index in [4usize, 1, 5, 0] {
            let got = group_decrypt(&receiver, &name(), &messages[index]).unwrap();
            assert_eq!(got.value, vec![index as u8; 3]);
            receiver.apply(got.changes);
        }
        let before = receiver.clone();
        for index in [4usize, 0] {
            assert_eq!(
                group_decrypt(&receiver, &name(), &messages[index]).unwrap_err(),
                SignalError::DuplicateMessage {
                    counter: index as u32
                }
            );
        }
        assert_eq!(receiver, before);
        // A re-sent distribution message does not reset the chain (no replay window).
        receiver.apply(
            process_distribution(&receiver, &name(), &skdm)
                .unwrap()
                .changes,
        );
        assert!(matches!(
            group_decrypt(&receiver, &name(), &messages[4]),
            Err(SignalError::DuplicateMessage { counter: 4 })
        ));
        let got = group_decrypt(&receiver, &name(), &messages[2]).unwrap();
        assert_eq!(got.value, vec![2; 3]);
    }

    #[test]
    fn limits_on_states_and_keys() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut receiver = store(2);
        let mut skdms = Vec::new();
        for seed in 0..7 {
            let mut sender = store(10 + seed);
            let created = create_distribution(&sender, &name(), &mut rng).unwrap();
            sender.apply(created.changes);
            skdms.push((sender, created.value));
        }
        for (_, skdm) in &skdms {
            receiver.apply(
                process_distribution(&receiver, &name(), skdm)
                    .unwrap()
                    .changes,
            );
        }
        let record = receiver.sender_key(&name()).unwrap().unwrap();
        let expected: Vec<u32> = skdms
            .iter()
            .rev()
            .take(5)
            .map(|(_, m)| m.key_id())
            .collect();
        assert_eq!(record.key_ids(), expected);
        // The oldest state is gone.
        let (oldest_sender, _) = &skdms[0];
        let sent = group_encrypt(oldest_sender, &name(), b"x", &mut rng).unwrap();
        assert_eq!(
            group_decrypt(&receiver, &name(), &sent.value).unwrap_err(),
            SignalError::NoSenderKeyState(Some(skdms[0].1.key_id()))
        );

        // More than MAX_FORWARD_JUMP ahead is rejected; exactly that far is fine.
        let (newest_sender, _) = skdms.last_mut().unwrap();
        let mut far = None;
        for _ in 0..=MAX_FORWARD_JUMP + 1 {
            let sent = group_encrypt(newest_sender, &name(), b"y", &mut rng).unwrap();
            newest_sender.apply(sent.changes);
            far = Some(sent.value);
        }
        let far = far.unwrap();
        assert_eq!(far.iteration(), MAX_FORWARD_JUMP + 1);
        assert_eq!(
            group_decrypt(&receiver, &name(), &far).unwrap_err(),
            SignalError::TooFarInFuture {
                counter: MAX_FORWARD_JUMP + 1,
                current: 0,
                limit: MAX_FORWARD_JUMP
            }
        );
    }

    #[test]
    fn errors_for_missing_or_foreign_keys() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut sender = store(1);
        assert_eq!(
            group_encrypt(&sender, &name(), b"x", &mut rng).unwrap_err(),
            SignalError::NoSenderKeyState(None)
        );
        let created = create_distribution(&sender, &name(), &mut rng).unwrap();
        sender.apply(created.changes);
        let sent = group_encrypt(&sender, &name(), b"x", &mut rng).unwrap();
        let receiver = store(2);
        assert_eq!(
            group_decrypt(&receiver, &name(), &sent.value).unwrap_err(),
            SignalError::NoSenderKeyState(Some(created.value.key_id()))
        );
        let mut receiver = receiver;
        receiver.apply(
            process_distribution(&receiver, &name(), &created.value)
                .unwrap()
                .changes,
        );
        // A receiver cannot encrypt with someone else's key.
        assert_eq!(
            group_encrypt(&receiver, &name(), b"x", &mut rng).unwrap_err(),
            SignalError::NotOwnSenderKey
        );
        // A message under the genuine key id but signed by another key is
        // rejected before any state change.
        let forged = SenderKeyMessage::new(
            created.value.key_id(),
            0,
            sent.value.ciphertext().to_vec(),
            &PrivateKey::from_bytes([9; 32]),
            &mut rng,
        );
        let message = SenderKeyMessage::from_bytes(forged.serialized()).unwrap();
        assert_eq!(
            group_decrypt(&receiver, &name(), &message).unwrap_err(),
            SignalError::BadSignature
        );
    }
}
