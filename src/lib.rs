//! # wa-wasm
//!
//! A WhatsApp Web (multi-device) client whose protocol engine is plain,
//! deterministic Rust that compiles natively and to WebAssembly.
//!
//! Layers, bottom to top (each module's documentation says what it owns):
//! - [`crypto`]: Curve25519 keys, XEdDSA signatures, HMAC/HKDF, AES-CBC, AES-GCM and AES-CTR.
//! - [`binary`]: the WABinary XML-like node format and JIDs.
//! - [`noise`]: the Noise XX handshake, frame codec and transport cipher.
//! - [`signal`]: the Signal protocol (X3DH, double ratchet, sender keys).
//! - [`pairing`]: both sides of companion linking (QR, ADV identity, link codes).
//! - [`payload`]: the `ClientPayload` (registration or login) ending the handshake.
//! - [`message`]: end-to-end message content (text, documents) and its padding.
//! - [`media`]: encryption of attachments for the media servers.
//! - [`store`]: credentials, the key/value persistence model and `Changes` batches.
//! - [`client`]: the sans-IO client engine (connection lifecycle, linking, login, reconnect policy).
//!
//! Everything outside `web` is sans-IO: time, randomness and bytes are
//! arguments; frames, timers, events and state changes are results.
#![cfg_attr(not(test), warn(missing_docs))]

pub use wa_binary as binary;
pub mod client;
pub use wa_crypto as crypto;
pub mod media;
pub mod message;
pub mod noise;
pub mod pairing;
pub mod payload;
#[allow(dead_code)]
pub(crate) mod proto;
pub mod signal;
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod web;
