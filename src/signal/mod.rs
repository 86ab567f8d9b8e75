//! The Signal protocol as WhatsApp uses it.
//!
//! Owns: identity and pre-keys, X3DH, the double ratchet, sender keys (groups),
//! the wire messages (`pkmsg`, `msg`, `skmsg`, sender key distribution), the
//! stored records and the store traits. Does not own storage itself, transport,
//! JIDs (the client maps a device JID to a [`ProtocolAddress`]), WhatsApp's
//! message padding or the protobuf `Message` inside the plaintext.
//!
//! Built on the primitives of [`crate::crypto`] (X25519, XEdDSA, HKDF, HMAC)
//! and RustCrypto's AES-CBC; byte-compatible with libsignal as WhatsApp clients
//! use it.

mod address;
mod error;
mod keys;
// Used by the session and group operations that build on these.
#[allow(dead_code)]
mod ratchet;
mod record;
#[allow(dead_code)]
mod wire;

pub use address::{ProtocolAddress, SenderKeyName};
pub use error::{MessagePart, RecordKind, SignalError};
pub use keys::{
    IdentityKey, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, RegistrationId, SignedPreKey,
    SignedPreKeyId,
};
pub use wire::{
    CiphertextMessage, PreKeySignalMessage, SenderKeyDistributionMessage, SenderKeyMessage,
    SignalMessage, VERSION_BYTE,
};

/// Most message keys a receiving chain may skip at once; a message further
/// ahead is rejected with [`SignalError::TooFarInFuture`].
pub const MAX_FORWARD_JUMP: u32 = 2000;
/// Most skipped message keys kept per receiving chain (or sender key state).
pub const MAX_SKIPPED_KEYS: usize = 2000;
/// Most receiving chains kept per session state.
pub const MAX_RECEIVER_CHAINS: usize = 5;
/// Most archived session states kept per record.
pub const MAX_ARCHIVED_STATES: usize = 40;
/// Most sender key states kept per sender key record.
pub const MAX_SENDER_KEY_STATES: usize = 5;

#[cfg(test)]
mod test_support;
