//! Cryptographic building blocks shared by the protocol layers.
//!
//! Owns: Curve25519 key pairs as WhatsApp and Signal use them (clamped private
//! keys, raw or `0x05`-prefixed public keys), X25519 agreement, XEdDSA
//! signatures compatible with libsignal's `curve25519` signatures, and the
//! symmetric primitives Signal messages and media attachments share: HMAC and
//! HKDF over SHA-256, AES-256-CBC with PKCS#7 padding, and the AES-256-GCM
//! and AES-256-CTR of the Noise channel and the pairing code. Does not own any
//! protocol state: the Noise handshake lives in `noise`, sessions and ratchets
//! in `signal`.
//!
//! A crate of its own so that the release profile can build these hot loops
//! for speed while the rest of the wasm module is built for size; the helpers
//! are plain functions so their generic instances are compiled here.
//!
//! Randomness always comes in as an argument (`rand_core::CryptoRng`).

mod cipher;
mod curve;
mod gcm;
mod kdf;

pub use cipher::{aes256_cbc_decrypt, aes256_cbc_encrypt};
pub use curve::{KeyPair, PrivateKey, PublicKey, SIGNATURE_LEN, Signature};
pub use gcm::{Aes256GcmKey, GCM_NONCE_LEN, GCM_TAG_LEN, aes256_ctr_apply};
pub use kdf::{hkdf_sha256, hmac_sha256, sha256};

/// Errors from key parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A public key had the wrong length.
    #[error("public key must be 32 bytes (or 33 with the 0x05 type byte), got {0}")]
    PublicKeyLength(usize),
    /// A prefixed public key did not start with the Curve25519 type byte 0x05.
    #[error("public key type byte must be 0x05, got {0:#04x}")]
    PublicKeyType(u8),
    /// A private key had the wrong length.
    #[error("private key must be 32 bytes, got {0}")]
    PrivateKeyLength(usize),
    /// A signature had the wrong length.
    #[error("signature must be 64 bytes, got {0}")]
    SignatureLength(usize),
}
