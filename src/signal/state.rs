//! Session state (one double ratchet) and the session record (the current state
//! plus archived ones), with their stored form.

use core::fmt;
use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::MAX_ARCHIVED_STATES;
use super::MAX_RECEIVER_CHAINS;
use super::error::{RecordKind, SignalError};
use super::keys::{IdentityKey, PreKeyId, RegistrationId, SignedPreKeyId};
use super::ratchet::{
    ChainKey, MessageKeys, RootKey, SkippedKey, decrypt_body, encrypt_body, receiving_key_seed,
};
use super::record;
use super::wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};
use crate::crypto::{KeyPair, PublicKey};
use crate::proto::signal as pb;

const KIND: RecordKind = RecordKind::Session;

/// Our current sending chain and the ratchet key pair it belongs to.
#[derive(Clone)]
pub(crate) struct SenderChain {
    pub(crate) ratchet: KeyPair,
    pub(crate) chain_key: ChainKey,
}

/// A chain for receiving from one of the peer's ratchet keys.
#[derive(Clone)]
pub(crate) struct ReceiverChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain_key: ChainKey,
    pub(crate) skipped: VecDeque<SkippedKey>,
}

/// What the initiator repeats in every message until the first reply.
#[derive(Clone)]
pub(crate) struct PendingPreKey {
    pub(crate) pre_key_id: Option<PreKeyId>,
    pub(crate) signed_pre_key_id: SignedPreKeyId,
    pub(crate) base_key: PublicKey,
}

/// One double ratchet with one peer device.
#[derive(Clone)]
pub(crate) struct SessionState {
    pub(crate) remote_identity: IdentityKey,
    pub(crate) remote_registration_id: RegistrationId,
    pub(crate) root_key: RootKey,
    /// The initiator's base key: names the session (a repeated pre-key
    /// message carries the same one).
    pub(crate) base_key: PublicKey,
    pub(crate) initiated_by_us: bool,
    pub(crate) previous_counter: u32,
    pub(crate) sender_chain: SenderChain,
    /// Oldest first, at most [`MAX_RECEIVER_CHAINS`].
    pub(crate) receiver_chains: Vec<ReceiverChain>,
    pub(crate) pending_pre_key: Option<PendingPreKey>,
}

impl SessionState {
    /// Encrypts with the sending chain and advances it.
    pub(crate) fn encrypt(
        &mut self,
        plaintext: &[u8],
        local_identity: &IdentityKey,
        local_registration_id: RegistrationId,
    ) -> Result<CiphertextMessage, SignalError> {
        let chain_key = &self.sender_chain.chain_key;
        let next = chain_key.next()?;
        let keys = MessageKeys::derive(&chain_key.message_key_seed());
        let ciphertext = encrypt_body(&keys.cipher_key, &keys.iv, plaintext);
        let message = SignalMessage::new(
            self.sender_chain.ratchet.public,
            chain_key.index,
            self.previous_counter,
            ciphertext,
            &keys.mac_key,
            local_identity,
            &self.remote_identity,
        );
        self.sender_chain.chain_key = next;
        Ok(match &self.pending_pre_key {
            Some(pending) => CiphertextMessage::Pkmsg(PreKeySignalMessage::new(
                local_registration_id,
                pending.pre_key_id,
                pending.signed_pre_key_id,
                pending.base_key,
                *local_identity,
                message,
            )),
            None => CiphertextMessage::Msg(message),
        })
    }

    /// Decrypts one message, turning the ratchet if it carries a new ratchet key.
    /// On error `self` may be half-updated: callers work on a copy.
    pub(crate) fn decrypt(
        &mut self,
        message: &SignalMessage,
        local_identity: &IdentityKey,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, SignalError> {
        let position = match self
            .receiver_chains
            .iter()
            .position(|chain| chain.ratchet_key == *message.ratchet_key())
        {
            Some(position) => position,
            None => self.turn_ratchet(message.ratchet_key(), rng)?,
        };
        let chain = self
            .receiver_chains
            .get_mut(position)
            .ok_or(SignalError::NoSession)?;
        let seed = receiving_key_seed(&mut chain.chain_key, &mut chain.skipped, message.counter())?;
        let keys = MessageKeys::derive(&seed);
        message.verify_mac(&keys.mac_key, &self.remote_identity, local_identity)?;
        let plaintext = decrypt_body(&keys.cipher_key, &keys.iv, message.ciphertext())?;
        // The peer has answered: it has the session, stop sending pre-key messages.
        self.pending_pre_key = None;
        Ok(plaintext)
    }

    /// The peer's new ratchet key: derive its receiving chain, then a new
    /// sending ratchet key and chain. Returns the new receiving chain's position.
    fn turn_ratchet(
        &mut self,
        their_ratchet: &PublicKey,
        rng: &mut impl CryptoRng,
    ) -> Result<usize, SignalError> {
        let (root_key, receiving) = self
            .root_key
            .create_chain(their_ratchet, &self.sender_chain.ratchet.private);
        let ratchet = KeyPair::generate(rng);
        let (root_key, sending) = root_key.create_chain(their_ratchet, &ratchet.private);
        self.root_key = root_key;
        // The index of the last message sent on the chain being replaced.
        self.previous_counter = self.sender_chain.chain_key.index.saturating_sub(1);
        self.sender_chain = SenderChain {
            ratchet,
            chain_key: sending,
        };
        self.receiver_chains.push(ReceiverChain {
            ratchet_key: *their_ratchet,
            chain_key: receiving,
            skipped: VecDeque::new(),
        });
        if self.receiver_chains.len() > MAX_RECEIVER_CHAINS {
            self.receiver_chains.remove(0);
        }
        Ok(self.receiver_chains.len().saturating_sub(1))
    }

    fn to_data(&self) -> pb::SessionStateData {
        pb::SessionStateData {
            remote_identity: Some(self.remote_identity.serialize().to_vec()),
            remote_registration_id: Some(self.remote_registration_id.value()),
            root_key: Some(self.root_key.0.to_vec()),
            base_key: Some(self.base_key.to_prefixed().to_vec()),
            initiated_by_us: Some(self.initiated_by_us),
            previous_counter: Some(self.previous_counter),
            sender_ratchet_public: Some(self.sender_chain.ratchet.public.to_prefixed().to_vec()),
            sender_ratchet_private: Some(self.sender_chain.ratchet.private.as_bytes().to_vec()),
            sender_chain_key: Some(chain_key_data(&self.sender_chain.chain_key)),
            receiver_chains: self
                .receiver_chains
                .iter()
                .map(|chain| pb::ReceiverChainData {
                    ratchet_key: Some(chain.ratchet_key.to_prefixed().to_vec()),
                    chain_key: Some(chain_key_data(&chain.chain_key)),
                    skipped_keys: skipped_keys_data(&chain.skipped),
                })
                .collect(),
            pending_pre_key: self
                .pending_pre_key
                .as_ref()
                .map(|pending| pb::PendingPreKeyData {
                    pre_key_id: pending.pre_key_id.map(|id| id.0),
                    signed_pre_key_id: Some(pending.signed_pre_key_id.0),
                    base_key: Some(pending.base_key.to_prefixed().to_vec()),
                }),
        }
    }

    fn from_data(data: &pb::SessionStateData) -> Result<Self, SignalError> {
        let ratchet_private = record::private_key(
            data.sender_ratchet_private.as_deref(),
            KIND,
            "sender ratchet key",
        )?;
        let ratchet_public = record::public_key(
            data.sender_ratchet_public.as_deref(),
            KIND,
            "sender ratchet key",
        )?;
        let receiver_chains = data
            .receiver_chains
            .iter()
            .map(|chain| {
                Ok(ReceiverChain {
                    ratchet_key: record::public_key(
                        chain.ratchet_key.as_deref(),
                        KIND,
                        "receiver ratchet key",
                    )?,
                    chain_key: chain_key_from_data(chain.chain_key.as_ref(), KIND)?,
                    skipped: skipped_keys_from_data(&chain.skipped_keys, KIND)?,
                })
            })
            .collect::<Result<Vec<_>, SignalError>>()?;
        let pending_pre_key = data
            .pending_pre_key
            .as_ref()
            .map(|pending| {
                Ok::<_, SignalError>(PendingPreKey {
                    pre_key_id: pending.pre_key_id.map(PreKeyId),
                    signed_pre_key_id: SignedPreKeyId(record::required(
                        pending.signed_pre_key_id,
                        KIND,
                        "pending signed pre-key id",
                    )?),
                    base_key: record::public_key(
                        pending.base_key.as_deref(),
                        KIND,
                        "pending base key",
                    )?,
                })
            })
            .transpose()?;
        Ok(Self {
            remote_identity: IdentityKey::new(record::public_key(
                data.remote_identity.as_deref(),
                KIND,
                "remote identity",
            )?),
            remote_registration_id: RegistrationId::new(record::required(
                data.remote_registration_id,
                KIND,
                "remote registration id",
            )?),
            root_key: RootKey(record::bytes32(data.root_key.as_deref(), KIND, "root key")?),
            base_key: record::public_key(data.base_key.as_deref(), KIND, "base key")?,
            initiated_by_us: data.initiated_by_us.unwrap_or(false),
            previous_counter: data.previous_counter.unwrap_or(0),
            sender_chain: SenderChain {
                ratchet: KeyPair {
                    private: ratchet_private,
                    public: ratchet_public,
                },
                chain_key: chain_key_from_data(data.sender_chain_key.as_ref(), KIND)?,
            },
            receiver_chains,
            pending_pre_key,
        })
    }
}

pub(crate) fn chain_key_data(chain_key: &ChainKey) -> pb::ChainKeyData {
    pb::ChainKeyData {
        key: Some(chain_key.key.to_vec()),
        index: Some(chain_key.index),
    }
}

pub(crate) fn chain_key_from_data(
    data: Option<&pb::ChainKeyData>,
    kind: RecordKind,
) -> Result<ChainKey, SignalError> {
    let data = data.ok_or(SignalError::record(kind, "chain key"))?;
    Ok(ChainKey {
        key: record::bytes32(data.key.as_deref(), kind, "chain key")?,
        index: record::required(data.index, kind, "chain index")?,
    })
}

pub(crate) fn skipped_keys_data(keys: &VecDeque<SkippedKey>) -> Vec<pb::SkippedKeyData> {
    keys.iter()
        .map(|key| pb::SkippedKeyData {
            index: Some(key.index),
            seed: Some(key.seed.to_vec()),
        })
        .collect()
}

pub(crate) fn skipped_keys_from_data(
    data: &[pb::SkippedKeyData],
    kind: RecordKind,
) -> Result<VecDeque<SkippedKey>, SignalError> {
    data.iter()
        .map(|key| {
            Ok(SkippedKey {
                index: record::required(key.index, kind, "skipped key index")?,
                seed: record::bytes32(key.seed.as_deref(), kind, "skipped key")?,
            })
        })
        .collect()
}

/// Everything we keep about one peer device: the current session state and up
/// to 40 archived ones (older sessions that late messages may still need).
#[derive(Clone, Default)]
pub struct SessionRecord {
    current: Option<SessionState>,
    /// Most recently archived first.
    previous: VecDeque<SessionState>,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("has_current_session", &self.current.is_some())
            .field("previous_states", &self.previous.len())
            .finish()
    }
}

impl SessionRecord {
    /// An empty record (no session).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a current session exists (so [`encrypt`](super::session::encrypt) can work).
    pub fn has_current_session(&self) -> bool {
        self.current.is_some()
    }

    /// Whether the current session is still unconfirmed: we started it and the
    /// peer has not answered yet, so our messages are `pkmsg`.
    pub fn awaiting_first_reply(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|state| state.pending_pre_key.is_some())
    }

    /// The peer's registration id in the current session.
    pub fn remote_registration_id(&self) -> Option<RegistrationId> {
        self.current
            .as_ref()
            .map(|state| state.remote_registration_id)
    }

    /// The peer's identity key in the current session.
    pub fn remote_identity(&self) -> Option<IdentityKey> {
        self.current.as_ref().map(|state| state.remote_identity)
    }

    /// How many archived states are kept.
    pub fn previous_state_count(&self) -> usize {
        self.previous.len()
    }

    /// Archives the current session (e.g. before asking the peer for a fresh
    /// one); later messages of it still decrypt.
    pub fn archive_current_state(&mut self) {
        if let Some(current) = self.current.take() {
            self.previous.push_front(current);
            self.previous.truncate(MAX_ARCHIVED_STATES);
        }
    }

    pub(crate) fn current_mut(&mut self) -> Option<&mut SessionState> {
        self.current.as_mut()
    }

    /// Makes `state` current, archiving the one it replaces.
    pub(crate) fn promote(&mut self, state: SessionState) {
        self.archive_current_state();
        self.current = Some(state);
    }

    /// Decrypts with the current state or, failing that, an archived one, which
    /// then becomes current. A duplicate stops the search: the right state was found.
    pub(crate) fn decrypt(
        &mut self,
        message: &SignalMessage,
        local_identity: &IdentityKey,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, SignalError> {
        let mut first_error = None;
        if let Some(current) = &self.current {
            let mut state = current.clone();
            match state.decrypt(message, local_identity, rng) {
                Ok(plaintext) => {
                    self.current = Some(state);
                    return Ok(plaintext);
                }
                Err(error @ SignalError::DuplicateMessage { .. }) => return Err(error),
                Err(error) => first_error = Some(error),
            }
        }
        for index in 0..self.previous.len() {
            let Some(mut state) = self.previous.get(index).cloned() else {
                break;
            };
            match state.decrypt(message, local_identity, rng) {
                Ok(plaintext) => {
                    self.previous.remove(index);
                    self.promote(state);
                    return Ok(plaintext);
                }
                Err(error @ SignalError::DuplicateMessage { .. }) => return Err(error),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or(SignalError::NoSession))
    }

    /// Decrypts with the state the peer started with `base_key` (a repeated
    /// pre-key message), promoting it; `None` when no such state exists.
    pub(crate) fn decrypt_with_base_key(
        &mut self,
        base_key: &PublicKey,
        message: &SignalMessage,
        local_identity: &IdentityKey,
        rng: &mut impl CryptoRng,
    ) -> Option<Result<Vec<u8>, SignalError>> {
        let names_it = |state: &SessionState| !state.initiated_by_us && state.base_key == *base_key;
        if let Some(current) = self.current.as_ref().filter(|state| names_it(state)) {
            let mut state = current.clone();
            let result = state.decrypt(message, local_identity, rng);
            if result.is_ok() {
                self.current = Some(state);
            }
            return Some(result);
        }
        let index = self.previous.iter().position(names_it)?;
        let mut state = self.previous.get(index)?.clone();
        let result = state.decrypt(message, local_identity, rng);
        if result.is_ok() {
            self.previous.remove(index);
            self.promote(state);
        }
        Some(result)
    }

    /// Serialises as a versioned record.
    pub fn to_bytes(&self) -> Vec<u8> {
        record::encode(&pb::SessionRecordData {
            current: self.current.as_ref().map(SessionState::to_data),
            previous: self.previous.iter().map(SessionState::to_data).collect(),
        })
    }

    /// Parses a record written by [`SessionRecord::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: pb::SessionRecordData = record::decode(bytes, KIND)?;
        let current = data
            .current
            .as_ref()
            .map(SessionState::from_data)
            .transpose()?;
        let previous = data
            .previous
            .iter()
            .take(MAX_ARCHIVED_STATES)
            .map(SessionState::from_data)
            .collect::<Result<VecDeque<_>, _>>()?;
        Ok(Self { current, previous })
    }
}
