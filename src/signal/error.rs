//! The typed errors of the Signal layer.

/// The part of a wire message that was missing or malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessagePart {
    /// The message is shorter than its fixed framing (version byte, MAC or signature).
    Length,
    /// The protobuf body does not decode.
    Protobuf,
    /// The sender's ratchet public key.
    RatchetKey,
    /// The message counter.
    Counter,
    /// The encrypted body (missing, not a whole number of AES blocks, or bad padding).
    Ciphertext,
    /// The registration id of a pre-key message.
    RegistrationId,
    /// The signed pre-key id of a pre-key message.
    SignedPreKeyId,
    /// The base key of a pre-key message.
    BaseKey,
    /// The identity key of a pre-key message.
    IdentityKey,
    /// The inner `SignalMessage` of a pre-key message.
    InnerMessage,
    /// The sender key id.
    KeyId,
    /// The sender key iteration.
    Iteration,
    /// The sender chain key of a distribution message.
    ChainKey,
    /// The signing key of a distribution message.
    SigningKey,
}

/// The kind of stored record that failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A [`SessionRecord`](super::SessionRecord).
    Session,
    /// A [`SenderKeyRecord`](super::SenderKeyRecord).
    SenderKey,
    /// A one-time [`PreKey`](super::PreKey).
    PreKey,
    /// A [`SignedPreKey`](super::SignedPreKey).
    SignedPreKey,
    /// An [`IdentityKeyPair`](super::IdentityKeyPair).
    IdentityKeyPair,
    /// A remote [`IdentityKey`](super::IdentityKey).
    IdentityKey,
}

/// Everything that can go wrong in the Signal layer.
///
/// Decryption errors never leave partial state behind: an operation that fails
/// returns no [`SignalChanges`](super::SignalChanges) at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// A wire message was truncated or malformed; the field says where.
    #[error("invalid message: bad {0:?}")]
    InvalidMessage(MessagePart),
    /// A wire message carries a protocol version other than 3.
    #[error("unsupported message version byte {0:#04x}")]
    UnsupportedVersion(u8),
    /// The message authentication code did not verify (wrong session or tampering).
    #[error("bad MAC")]
    BadMac,
    /// A signature (signed pre-key or sender key message) did not verify.
    #[error("bad signature")]
    BadSignature,
    /// The message's counter was already used: a duplicate or a replay.
    #[error("duplicate message (counter {counter} already used)")]
    DuplicateMessage {
        /// The counter (1:1) or iteration (group) of the rejected message.
        counter: u32,
    },
    /// The message is further ahead of the chain than the skipped-key limit allows.
    #[error("message counter {counter} is more than {limit} ahead of the chain at {current}")]
    TooFarInFuture {
        /// The message's counter or iteration.
        counter: u32,
        /// The chain's next counter.
        current: u32,
        /// The maximum number of keys that may be skipped.
        limit: u32,
    },
    /// A chain counter would overflow; the session must be rebuilt.
    #[error("chain counter exhausted")]
    CounterExhausted,
    /// There is no session with this address (or none that can encrypt).
    #[error("no session")]
    NoSession,
    /// No sender key state matches the message's key id (or none exists yet).
    #[error("no sender key state for key id {0:?}")]
    NoSenderKeyState(Option<u32>),
    /// The sender key state can only decrypt: it is someone else's key.
    #[error("sender key has no signing private key (not our own)")]
    NotOwnSenderKey,
    /// The pre-key message names a one-time pre-key we do not have (any more).
    #[error("invalid pre-key id {0}")]
    InvalidPreKeyId(u32),
    /// The pre-key message names a signed pre-key we do not have.
    #[error("invalid signed pre-key id {0}")]
    InvalidSignedPreKeyId(u32),
    /// A pre-key bundle's key was malformed.
    #[error("invalid pre-key bundle: {0}")]
    InvalidBundle(&'static str),
    /// A stored record did not decode.
    #[error("invalid {kind:?} record: {reason}")]
    InvalidRecord {
        /// Which record type.
        kind: RecordKind,
        /// What was wrong.
        reason: &'static str,
    },
    /// A stored record has a version this build does not know (written by a newer one).
    #[error("unsupported {kind:?} record version {version}")]
    UnsupportedRecordVersion {
        /// Which record type.
        kind: RecordKind,
        /// The version byte found.
        version: u8,
    },
}

impl SignalError {
    /// Shorthand for a malformed record.
    pub(crate) const fn record(kind: RecordKind, reason: &'static str) -> Self {
        Self::InvalidRecord { kind, reason }
    }
}
