//! Encryption at rest of stored records, with a non-extractable WebCrypto key.
//!
//! Owns: the per-database [`RecordKey`] (AES-256-GCM, generated once per
//! session database by WebCrypto with `extractable: false` and stored in that
//! database as a `CryptoKey` object, which structured clone keeps
//! non-extractable), and the sealed record format. Does not own where records
//! or the key are stored: that is [`super::IndexedDbStore`].
//!
//! # Sealed record format
//!
//! `0x01 ‖ IV (12 random bytes) ‖ AES-GCM ciphertext ‖ 16-byte tag`, with
//! the additional data `"wa-wasm/at-rest/v1" ‖ 0x00 ‖ namespace ‖ 0x00 ‖ key`,
//! so a record moved to another key or namespace fails to open. A fresh IV is
//! drawn for every write.
//!
//! # What this protects, and what it does not
//!
//! The credentials and keys of a linked device are encrypted before they reach
//! IndexedDB, under a key that page scripts can *use* but never *read*. So:
//!
//! - A copy of the records (an export or dump of the database's contents made
//!   through the IndexedDB API, a backup of the values, a database restored
//!   into another profile or origin without its key record) cannot be
//!   decrypted: without the original `CryptoKey` object the values are
//!   random-looking bytes, and no script can export that key to go with them.
//! - Any tampering with a sealed value is detected on load
//!   ([`crate::store::StoreError::Corrupt`]), and so is a value moved to
//!   another record.
//!
//! It does **not** protect against:
//!
//! - Scripts running in the same origin (an XSS, a malicious dependency, a
//!   browser extension with access to the page): they can open the database
//!   and ask WebCrypto to decrypt with the stored key, exactly as this code
//!   does. Keep the origin clean (CSP, dependency hygiene).
//! - Someone who copies the whole browser profile directory: browsers
//!   serialise a stored `CryptoKey`'s key material next to the records (in
//!   the same IndexedDB files), so a complete on-disk copy loaded into the same
//!   browser can use the key. Use OS disk encryption and OS accounts against
//!   that.
//! - A running tab: while a session is open, the engine holds its credentials
//!   in memory.
//! - Record keys (namespaces and key names, which include the phone numbers
//!   of contacts with a Signal session) and record sizes: only values are
//!   encrypted.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

use super::js::{error_name_and_message, global_field};
use crate::store::{Namespace, StoreError};

/// The first byte of every sealed value.
pub const SEALED_FORMAT_VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The smallest sealed value: header, IV and tag around an empty plaintext.
pub const SEALED_OVERHEAD: usize = 1 + IV_LEN + TAG_LEN;
const AAD_LABEL: &[u8] = b"wa-wasm/at-rest/v1";

/// Why sealing or opening a record failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtRestError {
    /// WebCrypto is missing (`crypto.subtle` exists only in secure contexts:
    /// HTTPS or localhost).
    #[error("WebCrypto is not available (the page must be served over HTTPS or from localhost)")]
    NotAvailable,
    /// The stored key is not a usable AES-GCM key.
    #[error("the stored record key is unusable: {0}")]
    BadKey(String),
    /// No random IV could be drawn.
    #[error("no randomness for an IV: {0}")]
    Randomness(String),
    /// WebCrypto failed for another reason.
    #[error("WebCrypto {operation} failed: {name}: {message}")]
    Failed {
        /// What we were doing.
        operation: &'static str,
        /// The `DOMException` name.
        name: String,
        /// The browser's message.
        message: String,
    },
    /// A sealed value failed to open: tampered with, truncated, moved, or
    /// sealed under another key.
    #[error("record {namespace}/{key} cannot be decrypted: {reason}")]
    Corrupt {
        /// Where the record lives.
        namespace: Namespace,
        /// Its key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<AtRestError> for StoreError {
    fn from(error: AtRestError) -> Self {
        match error {
            AtRestError::Corrupt {
                namespace,
                key,
                reason,
            } => StoreError::Corrupt {
                namespace,
                key,
                reason,
            },
            AtRestError::NotAvailable => StoreError::Unavailable(error.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl AtRestError {
    fn from_js(operation: &'static str, value: &JsValue) -> Self {
        let (name, message) = error_name_and_message(value);
        AtRestError::Failed {
            operation,
            name,
            message,
        }
    }
}

/// A database's record key: a non-extractable AES-256-GCM `CryptoKey`.
#[derive(Debug, Clone)]
pub struct RecordKey {
    key: CryptoKey,
    subtle: SubtleCrypto,
}

fn subtle() -> Result<SubtleCrypto, AtRestError> {
    let crypto = global_field("crypto").ok_or(AtRestError::NotAvailable)?;
    js_sys::Reflect::get(&crypto, &JsValue::from_str("subtle"))
        .ok()
        .and_then(|subtle| subtle.dyn_into::<SubtleCrypto>().ok())
        .ok_or(AtRestError::NotAvailable)
}

fn additional_data(namespace: Namespace, key: &str) -> Uint8Array {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 2 + namespace.as_str().len() + key.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(namespace.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    Uint8Array::from(aad.as_slice())
}

fn params(iv: &[u8], namespace: Namespace, key: &str) -> AesGcmParams {
    let params = AesGcmParams::new_with_u8_array("AES-GCM", &Uint8Array::from(iv));
    params.set_additional_data_u8_array(&additional_data(namespace, key));
    params
}

impl RecordKey {
    /// Generates a new non-extractable key.
    pub async fn generate() -> Result<Self, AtRestError> {
        let subtle = subtle()?;
        let usages: Array = ["encrypt", "decrypt"]
            .iter()
            .map(|usage| JsValue::from_str(usage))
            .collect();
        let promise = subtle
            .generate_key_with_object(&AesKeyGenParams::new("AES-GCM", 256), false, &usages)
            .map_err(|error| AtRestError::from_js("generateKey", &error))?;
        let key = JsFuture::from(promise)
            .await
            .map_err(|error| AtRestError::from_js("generateKey", &error))?;
        Self::from_crypto_key(key)
    }

    /// Wraps a key read back from storage, checking that it is a
    /// non-extractable AES-GCM key.
    pub fn from_crypto_key(key: JsValue) -> Result<Self, AtRestError> {
        let key: CryptoKey = key
            .dyn_into()
            .map_err(|_| AtRestError::BadKey("not a CryptoKey".to_owned()))?;
        if key.extractable() {
            return Err(AtRestError::BadKey("the key is extractable".to_owned()));
        }
        let algorithm = key
            .algorithm()
            .ok()
            .and_then(|algorithm| super::js::string_field(&algorithm, "name"));
        if algorithm.as_deref() != Some("AES-GCM") {
            return Err(AtRestError::BadKey(format!("algorithm {algorithm:?}")));
        }
        Ok(Self {
            key,
            subtle: subtle()?,
        })
    }

    /// The `CryptoKey`, to store it.
    pub fn crypto_key(&self) -> &CryptoKey {
        &self.key
    }

    /// Starts sealing `plaintext` as the value of `namespace`/`key`.
    ///
    /// The work starts at once; await the result with [`Sealing::finish`].
    /// Starting many before awaiting any lets the browser run them together.
    pub fn seal(&self, namespace: Namespace, key: &str, plaintext: &[u8]) -> Sealing {
        let mut iv = [0u8; IV_LEN];
        if let Err(error) = getrandom::fill(&mut iv) {
            return Sealing(Err(AtRestError::Randomness(error.to_string())));
        }
        let started = self
            .subtle
            .encrypt_with_object_and_u8_array(&params(&iv, namespace, key), &self.key, plaintext)
            .map_err(|error| AtRestError::from_js("encrypt", &error))
            .map(|promise| (iv, JsFuture::from(promise)));
        Sealing(started)
    }

    /// Starts opening `sealed`, the stored value of `namespace`/`key`.
    ///
    /// The work starts at once; await the result with [`Opening::finish`].
    pub fn open(&self, namespace: Namespace, key: &str, sealed: &[u8]) -> Opening {
        let corrupt = |reason: &str| AtRestError::Corrupt {
            namespace,
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let started = match sealed.split_first() {
            None => Err(corrupt("empty value")),
            Some((&version, _)) if version != SEALED_FORMAT_VERSION => {
                Err(corrupt(&format!("unknown format version {version}")))
            }
            Some(_) if sealed.len() < SEALED_OVERHEAD => {
                Err(corrupt(&format!("{} bytes is too short", sealed.len())))
            }
            Some((_, rest)) => {
                let (iv, ciphertext) = rest.split_at(IV_LEN.min(rest.len()));
                self.subtle
                    .decrypt_with_object_and_u8_array(
                        &params(iv, namespace, key),
                        &self.key,
                        ciphertext,
                    )
                    .map_err(|error| AtRestError::from_js("decrypt", &error))
            }
        };
        Opening {
            started: started.map(JsFuture::from),
            namespace,
            key: key.to_owned(),
        }
    }
}

/// A seal in progress (see [`RecordKey::seal`]).
#[derive(Debug)]
#[must_use = "sealing does nothing unless finished"]
pub struct Sealing(Result<([u8; IV_LEN], JsFuture), AtRestError>);

impl Sealing {
    /// The sealed value.
    pub async fn finish(self) -> Result<Vec<u8>, AtRestError> {
        let (iv, encrypting) = self.0?;
        let ciphertext = encrypting
            .await
            .map_err(|error| AtRestError::from_js("encrypt", &error))?;
        let ciphertext = Uint8Array::new(&ciphertext);
        let mut sealed = Vec::with_capacity(1 + IV_LEN + ciphertext.length() as usize);
        sealed.push(SEALED_FORMAT_VERSION);
        sealed.extend_from_slice(&iv);
        let start = sealed.len();
        sealed.resize(start + ciphertext.length() as usize, 0);
        if let Some(tail) = sealed.get_mut(start..) {
            ciphertext.copy_to(tail);
        }
        Ok(sealed)
    }
}

/// An open (decryption) in progress (see [`RecordKey::open`]).
#[derive(Debug)]
#[must_use = "opening does nothing unless finished"]
pub struct Opening {
    started: Result<JsFuture, AtRestError>,
    namespace: Namespace,
    key: String,
}

impl Opening {
    /// The plaintext, or [`AtRestError::Corrupt`] if the value does not
    /// authenticate under this key at this place.
    pub async fn finish(self) -> Result<Vec<u8>, AtRestError> {
        match self.started?.await {
            Ok(plaintext) => Ok(Uint8Array::new(&plaintext).to_vec()),
            Err(error) => {
                let (name, message) = error_name_and_message(&error);
                if name == "OperationError" {
                    // AES-GCM's only failure: the tag does not verify.
                    Err(AtRestError::Corrupt {
                        namespace: self.namespace,
                        key: self.key,
                        reason: "authentication failed (tampered, moved, or another key)"
                            .to_owned(),
                    })
                } else {
                    Err(AtRestError::Failed {
                        operation: "decrypt",
                        name,
                        message,
                    })
                }
            }
        }
    }
}

/// Seals every `(namespace, key, plaintext)`, running them together.
pub async fn seal_all<'a>(
    record_key: &RecordKey,
    items: impl IntoIterator<Item = (Namespace, &'a str, &'a [u8])>,
) -> Result<Vec<Vec<u8>>, AtRestError> {
    let started: Vec<Sealing> = items
        .into_iter()
        .map(|(namespace, key, plaintext)| record_key.seal(namespace, key, plaintext))
        .collect();
    let mut sealed = Vec::with_capacity(started.len());
    for sealing in started {
        sealed.push(sealing.finish().await?);
    }
    Ok(sealed)
}
