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
//!
//! # Durability
//!
//! Operations are pure functions of (store, input, RNG): the stores are
//! read-only, and every operation returns an [`Outcome`] with the
//! [`SignalChanges`] to commit. Commit them atomically *before* acknowledging
//! the message; a failed operation returns only an error. A message delivered
//! again after a crash before the commit decrypts again.
//!
//! ```
//! use rand::SeedableRng;
//! use wa_wasm::signal::{
//!     session, store::InMemorySignalStore, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId,
//!     ProtocolAddress, RegistrationId, SignedPreKey, SignedPreKeyId, CiphertextMessage,
//! };
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let mut alice = InMemorySignalStore::new(IdentityKeyPair::generate(&mut rng), RegistrationId::new(1));
//! let bob_identity = IdentityKeyPair::generate(&mut rng);
//! let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(2));
//! let signed = SignedPreKey::generate(SignedPreKeyId(1), &bob_identity, 0, &mut rng);
//! let one_time = PreKey::generate(PreKeyId(1), &mut rng);
//! bob.add_signed_pre_key(&signed);
//! bob.add_pre_key(&one_time);
//!
//! let bundle = PreKeyBundle {
//!     registration_id: RegistrationId::new(2),
//!     device_id: 0,
//!     identity_key: *bob_identity.identity_key(),
//!     signed_pre_key_id: signed.id,
//!     signed_pre_key: signed.key_pair.public,
//!     signed_pre_key_signature: signed.signature,
//!     pre_key: Some((one_time.id, one_time.key_pair.public)),
//! };
//! let bob_address = ProtocolAddress::new("bob", 0);
//! let alice_address = ProtocolAddress::new("alice", 0);
//! let outcome = session::process_bundle(&alice, &bob_address, &bundle, &mut rng).unwrap();
//! alice.apply(outcome.changes);
//! let sent = session::encrypt(&alice, &bob_address, b"hi").unwrap();
//! alice.apply(sent.changes);
//! assert_eq!(sent.value.enc_type(), "pkmsg");
//!
//! let received = CiphertextMessage::parse("pkmsg", sent.value.serialized()).unwrap().unwrap();
//! let outcome = session::decrypt(&bob, &alice_address, &received, &mut rng).unwrap();
//! assert_eq!(outcome.value, b"hi");
//! bob.apply(outcome.changes); // commit, then acknowledge
//! assert_eq!(bob.pre_key_count(), 0);
//! ```

mod address;
mod error;
pub mod group;
mod keys;
mod ratchet;
mod record;
pub mod session;
mod state;
pub mod store;
mod wire;

pub use address::{ProtocolAddress, SenderKeyName};
pub use error::{MessagePart, RecordKind, SignalError};
pub use group::SenderKeyRecord;
pub use keys::{
    IdentityKey, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, RegistrationId, SignedPreKey,
    SignedPreKeyId,
};
pub use state::SessionRecord;
pub use store::{IdentityChange, Outcome, Puts, SignalChanges};
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
