//! Wire formats: `msg` (SignalMessage), `pkmsg` (PreKeySignalMessage), `skmsg`
//! (SenderKeyMessage) and the sender key distribution message.
//!
//! Each is one version byte (`0x33`: message version 3 in the high nibble)
//! followed by a protobuf from `proto/signal_wire.proto`; a SignalMessage ends
//! with an 8-byte truncated HMAC, a SenderKeyMessage with a 64-byte signature.
//! Parsing checks framing, version and field shapes only; MACs and signatures
//! are checked by the operations that know the keys.

use prost::Message;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use super::error::{MessagePart, SignalError};
use super::keys::{IdentityKey, PreKeyId, RegistrationId, SignedPreKeyId};
use crate::crypto::{PrivateKey, PublicKey, SIGNATURE_LEN, hmac_sha256};
use crate::proto::signal as pb;

/// The version byte this implementation writes: version 3, current version 3.
pub const VERSION_BYTE: u8 = 0x33;
/// The message version (high nibble of the version byte) this implementation reads.
const MESSAGE_VERSION: u8 = 3;
/// Length of the truncated MAC that ends a SignalMessage.
const MAC_LEN: usize = 8;

/// `version ‖ protobuf`, with room for a trailer of `trailer_len` bytes.
pub(crate) fn frame(version: u8, body: &impl Message, trailer_len: usize) -> Vec<u8> {
    let encoded = body.encode_to_vec();
    let mut out = Vec::with_capacity(1 + encoded.len() + trailer_len);
    out.push(version);
    out.extend_from_slice(&encoded);
    out
}

/// Splits off and checks the version byte.
fn split_version(bytes: &[u8]) -> Result<&[u8], SignalError> {
    let (&version, rest) = bytes
        .split_first()
        .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
    if version >> 4 != MESSAGE_VERSION {
        return Err(SignalError::UnsupportedVersion(version));
    }
    Ok(rest)
}

fn prefixed_key(field: Option<&[u8]>, part: MessagePart) -> Result<PublicKey, SignalError> {
    field
        .and_then(|bytes| PublicKey::from_prefixed(bytes).ok())
        .ok_or(SignalError::InvalidMessage(part))
}

/// A CBC ciphertext must be a non-empty whole number of blocks.
fn ciphertext(field: Option<Vec<u8>>) -> Result<Vec<u8>, SignalError> {
    match field {
        Some(bytes) if !bytes.is_empty() && bytes.len().is_multiple_of(16) => Ok(bytes),
        _ => Err(SignalError::InvalidMessage(MessagePart::Ciphertext)),
    }
}

/// A `msg`: one ratchet message of an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMessage {
    serialized: Vec<u8>,
    ratchet_key: PublicKey,
    counter: u32,
    previous_counter: u32,
    ciphertext: Vec<u8>,
}

impl SignalMessage {
    /// Builds and MACs a message. The MAC covers the sender's and receiver's
    /// identity keys (33 bytes each), the version byte and the protobuf.
    pub(crate) fn new(
        ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
        mac_key: &[u8; 32],
        sender_identity: &IdentityKey,
        receiver_identity: &IdentityKey,
    ) -> Self {
        let body = pb::SignalMessage {
            ratchet_key: Some(ratchet_key.to_prefixed().to_vec()),
            counter: Some(counter),
            previous_counter: Some(previous_counter),
            ciphertext: Some(ciphertext.clone()),
        };
        let mut serialized = frame(VERSION_BYTE, &body, MAC_LEN);
        let mac = compute_mac(mac_key, sender_identity, receiver_identity, &serialized);
        serialized.extend_from_slice(&mac);
        Self {
            serialized,
            ratchet_key,
            counter,
            previous_counter,
            ciphertext,
        }
    }

    /// Parses a `msg` (framing, version and fields; the MAC is checked on decryption).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let rest = split_version(bytes)?;
        let body_len = rest
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let body = rest
            .get(..body_len)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let proto = pb::SignalMessage::decode(body)
            .map_err(|_| SignalError::InvalidMessage(MessagePart::Protobuf))?;
        Ok(Self {
            ratchet_key: prefixed_key(proto.ratchet_key.as_deref(), MessagePart::RatchetKey)?,
            counter: proto
                .counter
                .ok_or(SignalError::InvalidMessage(MessagePart::Counter))?,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext: ciphertext(proto.ciphertext)?,
            serialized: bytes.to_vec(),
        })
    }

    /// The bytes on the wire (the content of `<enc type="msg">`).
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The sender's current ratchet public key.
    pub const fn ratchet_key(&self) -> &PublicKey {
        &self.ratchet_key
    }

    /// The message's index in the sender's chain.
    pub const fn counter(&self) -> u32 {
        self.counter
    }

    /// The length of the sender's previous chain, minus one.
    pub const fn previous_counter(&self) -> u32 {
        self.previous_counter
    }

    pub(crate) fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// Checks the truncated MAC in constant time.
    pub(crate) fn verify_mac(
        &self,
        mac_key: &[u8; 32],
        sender_identity: &IdentityKey,
        receiver_identity: &IdentityKey,
    ) -> Result<(), SignalError> {
        let split = self
            .serialized
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let (covered, mac) = self.serialized.split_at(split);
        let expected = compute_mac(mac_key, sender_identity, receiver_identity, covered);
        if bool::from(expected.ct_eq(mac)) {
            Ok(())
        } else {
            Err(SignalError::BadMac)
        }
    }
}

fn compute_mac(
    mac_key: &[u8; 32],
    sender_identity: &IdentityKey,
    receiver_identity: &IdentityKey,
    covered: &[u8],
) -> [u8; MAC_LEN] {
    let full = hmac_sha256(
        mac_key,
        &[
            &sender_identity.serialize(),
            &receiver_identity.serialize(),
            covered,
        ],
    );
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&full[..MAC_LEN]);
    mac
}

/// A `pkmsg`: a SignalMessage plus what the receiver needs to build the session
/// (sent by the initiator until the first reply arrives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeySignalMessage {
    serialized: Vec<u8>,
    registration_id: RegistrationId,
    pre_key_id: Option<PreKeyId>,
    signed_pre_key_id: SignedPreKeyId,
    base_key: PublicKey,
    identity_key: IdentityKey,
    message: SignalMessage,
}

impl PreKeySignalMessage {
    pub(crate) fn new(
        registration_id: RegistrationId,
        pre_key_id: Option<PreKeyId>,
        signed_pre_key_id: SignedPreKeyId,
        base_key: PublicKey,
        identity_key: IdentityKey,
        message: SignalMessage,
    ) -> Self {
        let body = pb::PreKeySignalMessage {
            registration_id: Some(registration_id.value()),
            pre_key_id: pre_key_id.map(|id| id.0),
            signed_pre_key_id: Some(signed_pre_key_id.0),
            base_key: Some(base_key.to_prefixed().to_vec()),
            identity_key: Some(identity_key.serialize().to_vec()),
            message: Some(message.serialized.clone()),
        };
        let serialized = frame(VERSION_BYTE, &body, 0);
        Self {
            serialized,
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
        }
    }

    /// Parses a `pkmsg`, including the SignalMessage inside it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let body = split_version(bytes)?;
        let proto = pb::PreKeySignalMessage::decode(body)
            .map_err(|_| SignalError::InvalidMessage(MessagePart::Protobuf))?;
        let inner = proto
            .message
            .as_deref()
            .ok_or(SignalError::InvalidMessage(MessagePart::InnerMessage))?;
        Ok(Self {
            registration_id: RegistrationId::new(
                proto
                    .registration_id
                    .ok_or(SignalError::InvalidMessage(MessagePart::RegistrationId))?,
            ),
            pre_key_id: proto.pre_key_id.map(PreKeyId),
            signed_pre_key_id: SignedPreKeyId(
                proto
                    .signed_pre_key_id
                    .ok_or(SignalError::InvalidMessage(MessagePart::SignedPreKeyId))?,
            ),
            base_key: prefixed_key(proto.base_key.as_deref(), MessagePart::BaseKey)?,
            identity_key: IdentityKey::new(prefixed_key(
                proto.identity_key.as_deref(),
                MessagePart::IdentityKey,
            )?),
            message: SignalMessage::from_bytes(inner)?,
            serialized: bytes.to_vec(),
        })
    }

    /// The bytes on the wire (the content of `<enc type="pkmsg">`).
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The sender's registration id.
    pub const fn registration_id(&self) -> RegistrationId {
        self.registration_id
    }

    /// The one-time pre-key of ours that the sender used, if any.
    pub const fn pre_key_id(&self) -> Option<PreKeyId> {
        self.pre_key_id
    }

    /// The signed pre-key of ours that the sender used.
    pub const fn signed_pre_key_id(&self) -> SignedPreKeyId {
        self.signed_pre_key_id
    }

    /// The sender's base key, which names the session.
    pub const fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The sender's identity key.
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The SignalMessage carried inside.
    pub const fn message(&self) -> &SignalMessage {
        &self.message
    }
}

/// The result of a 1:1 encryption: which `enc` type to send, with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiphertextMessage {
    /// A pre-key message (`<enc type="pkmsg">`): the session is not yet confirmed.
    Pkmsg(PreKeySignalMessage),
    /// A normal message (`<enc type="msg">`).
    Msg(SignalMessage),
}

impl CiphertextMessage {
    /// The `type` attribute of the `enc` node: `"pkmsg"` or `"msg"`.
    pub const fn enc_type(&self) -> &'static str {
        match self {
            Self::Pkmsg(_) => "pkmsg",
            Self::Msg(_) => "msg",
        }
    }

    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        match self {
            Self::Pkmsg(message) => message.serialized(),
            Self::Msg(message) => message.serialized(),
        }
    }

    /// Parses the content of an `enc` node of type `"pkmsg"` or `"msg"`;
    /// `None` for any other type (e.g. `"skmsg"`, handled by `group`).
    pub fn parse(enc_type: &str, bytes: &[u8]) -> Option<Result<Self, SignalError>> {
        match enc_type {
            "pkmsg" => Some(PreKeySignalMessage::from_bytes(bytes).map(Self::Pkmsg)),
            "msg" => Some(SignalMessage::from_bytes(bytes).map(Self::Msg)),
            _ => None,
        }
    }
}

/// An `skmsg`: a group message encrypted with the sender's sender key and
/// signed with its signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    serialized: Vec<u8>,
    key_id: u32,
    iteration: u32,
    ciphertext: Vec<u8>,
}

impl SenderKeyMessage {
    /// Builds and signs a message (signature over version byte ‖ protobuf).
    pub(crate) fn new(
        key_id: u32,
        iteration: u32,
        ciphertext: Vec<u8>,
        signing_key: &PrivateKey,
        rng: &mut impl CryptoRng,
    ) -> Self {
        let body = pb::SenderKeyMessage {
            id: Some(key_id),
            iteration: Some(iteration),
            ciphertext: Some(ciphertext.clone()),
        };
        let mut serialized = frame(VERSION_BYTE, &body, SIGNATURE_LEN);
        let signature = signing_key.sign(&serialized, rng);
        serialized.extend_from_slice(&signature);
        Self {
            serialized,
            key_id,
            iteration,
            ciphertext,
        }
    }

    /// Parses an `skmsg` (framing, version and fields; the signature is checked on decryption).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let rest = split_version(bytes)?;
        let body_len = rest
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let body = rest
            .get(..body_len)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let proto = pb::SenderKeyMessage::decode(body)
            .map_err(|_| SignalError::InvalidMessage(MessagePart::Protobuf))?;
        Ok(Self {
            key_id: proto
                .id
                .ok_or(SignalError::InvalidMessage(MessagePart::KeyId))?,
            iteration: proto
                .iteration
                .ok_or(SignalError::InvalidMessage(MessagePart::Iteration))?,
            ciphertext: ciphertext(proto.ciphertext)?,
            serialized: bytes.to_vec(),
        })
    }

    /// The bytes on the wire (the content of `<enc type="skmsg">`).
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The id of the sender key state it was encrypted with.
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Its index in the sender's chain.
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(crate) fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// Checks the trailing signature against the sender's signing key.
    pub(crate) fn verify_signature(&self, signing_key: &PublicKey) -> Result<(), SignalError> {
        let split = self
            .serialized
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(SignalError::InvalidMessage(MessagePart::Length))?;
        let (signed, signature) = self.serialized.split_at(split);
        if signing_key.verify(signed, signature) {
            Ok(())
        } else {
            Err(SignalError::BadSignature)
        }
    }
}

/// An SKDM: hands a sender key (chain key at some iteration plus the public
/// signing key) to a group member; sent inside a pairwise-encrypted message.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyDistributionMessage {
    serialized: Vec<u8>,
    key_id: u32,
    iteration: u32,
    chain_key: [u8; 32],
    signing_key: PublicKey,
}

impl core::fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SenderKeyDistributionMessage")
            .field("key_id", &self.key_id)
            .field("iteration", &self.iteration)
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

impl SenderKeyDistributionMessage {
    pub(crate) fn new(
        key_id: u32,
        iteration: u32,
        chain_key: [u8; 32],
        signing_key: PublicKey,
    ) -> Self {
        let body = pb::SenderKeyDistributionMessage {
            id: Some(key_id),
            iteration: Some(iteration),
            chain_key: Some(chain_key.to_vec()),
            signing_key: Some(signing_key.to_prefixed().to_vec()),
        };
        let serialized = frame(VERSION_BYTE, &body, 0);
        Self {
            serialized,
            key_id,
            iteration,
            chain_key,
            signing_key,
        }
    }

    /// Parses an SKDM (the `axolotlSenderKeyDistributionMessage` bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        let body = split_version(bytes)?;
        let proto = pb::SenderKeyDistributionMessage::decode(body)
            .map_err(|_| SignalError::InvalidMessage(MessagePart::Protobuf))?;
        Ok(Self {
            key_id: proto
                .id
                .ok_or(SignalError::InvalidMessage(MessagePart::KeyId))?,
            iteration: proto
                .iteration
                .ok_or(SignalError::InvalidMessage(MessagePart::Iteration))?,
            chain_key: proto
                .chain_key
                .as_deref()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or(SignalError::InvalidMessage(MessagePart::ChainKey))?,
            signing_key: prefixed_key(proto.signing_key.as_deref(), MessagePart::SigningKey)?,
            serialized: bytes.to_vec(),
        })
    }

    /// The bytes to put in `Message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage`.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The sender key state's id.
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The iteration the chain key is at.
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(crate) const fn chain_key(&self) -> &[u8; 32] {
        &self.chain_key
    }

    /// The sender's public signing key.
    pub const fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::crypto::KeyPair;

    fn identities() -> (IdentityKey, IdentityKey) {
        let mut rng = StdRng::seed_from_u64(9);
        (
            IdentityKey::new(KeyPair::generate(&mut rng).public),
            IdentityKey::new(KeyPair::generate(&mut rng).public),
        )
    }

    fn signal_message() -> SignalMessage {
        let (alice, bob) = identities();
        SignalMessage::new(
            PublicKey::from_bytes([3; 32]),
            17,
            4,
            vec![0xcc; 32],
            &[5; 32],
            &alice,
            &bob,
        )
    }

    #[test]
    fn signal_message_round_trip_and_mac() {
        let (alice, bob) = identities();
        let message = signal_message();
        let bytes = message.serialized();
        assert_eq!(bytes[0], 0x33);
        let parsed = SignalMessage::from_bytes(bytes).unwrap();
        assert_eq!(parsed, message);
        assert_eq!((parsed.counter(), parsed.previous_counter()), (17, 4));
        assert_eq!(parsed.verify_mac(&[5; 32], &alice, &bob), Ok(()));
        // The MAC binds the key, both identities and their order.
        assert_eq!(
            parsed.verify_mac(&[6; 32], &alice, &bob),
            Err(SignalError::BadMac)
        );
        assert_eq!(
            parsed.verify_mac(&[5; 32], &bob, &alice),
            Err(SignalError::BadMac)
        );
        let mut tampered = bytes.to_vec();
        let last = tampered.len() - 9;
        tampered[last] ^= 1;
        let tampered = SignalMessage::from_bytes(&tampered).unwrap();
        assert_eq!(
            tampered.verify_mac(&[5; 32], &alice, &bob),
            Err(SignalError::BadMac)
        );
    }

    #[test]
    fn prekey_message_round_trip() {
        let (alice, _) = identities();
        let inner = signal_message();
        let message = PreKeySignalMessage::new(
            RegistrationId::new(77),
            Some(PreKeyId(5)),
            SignedPreKeyId(6),
            PublicKey::from_bytes([8; 32]),
            alice,
            inner.clone(),
        );
        let parsed = PreKeySignalMessage::from_bytes(message.serialized()).unwrap();
        assert_eq!(parsed, message);
        assert_eq!(parsed.message(), &inner);
        assert_eq!(parsed.pre_key_id(), Some(PreKeyId(5)));
        assert_eq!(parsed.signed_pre_key_id(), SignedPreKeyId(6));
        assert_eq!(parsed.registration_id().value(), 77);
        let without = PreKeySignalMessage::new(
            RegistrationId::new(77),
            None,
            SignedPreKeyId(6),
            PublicKey::from_bytes([8; 32]),
            alice,
            inner,
        );
        assert_eq!(
            PreKeySignalMessage::from_bytes(without.serialized())
                .unwrap()
                .pre_key_id(),
            None
        );
        let wrapped = CiphertextMessage::Pkmsg(without.clone());
        assert_eq!(
            CiphertextMessage::parse("pkmsg", wrapped.serialized()),
            Some(Ok(wrapped))
        );
        assert_eq!(
            CiphertextMessage::parse("skmsg", without.serialized()),
            None
        );
    }

    #[test]
    fn sender_key_messages_round_trip_and_signature() {
        let mut rng = StdRng::seed_from_u64(10);
        let signing = KeyPair::generate(&mut rng);
        let message = SenderKeyMessage::new(42, 7, vec![1; 16], &signing.private, &mut rng);
        let parsed = SenderKeyMessage::from_bytes(message.serialized()).unwrap();
        assert_eq!(parsed, message);
        assert_eq!((parsed.key_id(), parsed.iteration()), (42, 7));
        assert_eq!(parsed.verify_signature(&signing.public), Ok(()));
        let other = KeyPair::generate(&mut rng);
        assert_eq!(
            parsed.verify_signature(&other.public),
            Err(SignalError::BadSignature)
        );

        let skdm = SenderKeyDistributionMessage::new(42, 9, [4; 32], signing.public);
        let parsed = SenderKeyDistributionMessage::from_bytes(skdm.serialized()).unwrap();
        assert_eq!(parsed, skdm);
        assert_eq!(
            (parsed.key_id(), parsed.iteration(), parsed.chain_key()),
            (42, 9, &[4; 32])
        );
        assert_eq!(parsed.signing_key(), &signing.public);
    }

    #[test]
    fn version_and_length_checks() {
        let message = signal_message();
        let mut bytes = message.serialized().to_vec();
        bytes[0] = 0x23;
        assert_eq!(
            SignalMessage::from_bytes(&bytes),
            Err(SignalError::UnsupportedVersion(0x23))
        );
        bytes[0] = 0x43;
        assert_eq!(
            SignalMessage::from_bytes(&bytes),
            Err(SignalError::UnsupportedVersion(0x43))
        );
        // The low nibble (sender's current version) is not checked, as libsignal.
        bytes[0] = 0x34;
        assert!(SignalMessage::from_bytes(&bytes).is_ok());
        assert_eq!(
            SignalMessage::from_bytes(&[]),
            Err(SignalError::InvalidMessage(MessagePart::Length))
        );
        assert_eq!(
            SignalMessage::from_bytes(&[0x33; 8]),
            Err(SignalError::InvalidMessage(MessagePart::Length))
        );
        assert_eq!(
            SenderKeyMessage::from_bytes(&[0x33; 64]),
            Err(SignalError::InvalidMessage(MessagePart::Length))
        );
    }
}
