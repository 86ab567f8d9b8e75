//! Media encryption: how attachments are sealed before they go to the media servers.
//!
//! Owns the media key expansion ([`MediaKeys`]), [`encrypt`] and [`decrypt`] of a blob
//! (AES-256-CBC, then the first 10 bytes of an HMAC-SHA256), and the per-type names
//! ([`MediaType`]: HKDF info string, upload path). Does not own the upload or download
//! (the shell does the HTTP) nor the message that carries the key (`message`).
//!
//! ```
//! use wa_wasm::media::{MediaType, decrypt, encrypt};
//!
//! let key = [7u8; 32];
//! let sealed = encrypt(b"%PDF-1.7", &key, MediaType::Document);
//! assert_eq!(sealed.file_length, 8);
//! assert_eq!(decrypt(&sealed.data, &key, MediaType::Document, Some(&sealed.file_enc_sha256))?, b"%PDF-1.7");
//! # Ok::<(), wa_wasm::media::MediaError>(())
//! ```

use subtle::ConstantTimeEq;

use crate::crypto::{aes256_cbc_decrypt, aes256_cbc_encrypt, hkdf_sha256, hmac_sha256, sha256};

/// Length of the truncated MAC appended to an encrypted blob.
pub const MAC_LEN: usize = 10;

/// Why a blob could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The blob is too short to hold a ciphertext block and a MAC.
    #[error("encrypted media of {0} bytes is too short")]
    TooShort(usize),
    /// The SHA-256 of the blob is not the announced one.
    #[error("encrypted media hash does not match")]
    HashMismatch,
    /// The MAC does not verify (wrong key or tampered blob).
    #[error("encrypted media MAC does not verify")]
    MacMismatch,
    /// The ciphertext is not a whole number of blocks or its padding is wrong.
    #[error("encrypted media does not decrypt")]
    Decrypt,
}

/// The kinds of media, each with its own key derivation info and upload path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// Photos and stickers.
    Image,
    /// Videos and GIFs.
    Video,
    /// Audio and voice notes.
    Audio,
    /// Documents (any file).
    Document,
    /// History sync blobs.
    History,
    /// App state blobs.
    AppState,
}

impl MediaType {
    /// The HKDF info string, `WhatsApp <Type> Keys`.
    pub fn hkdf_info(self) -> &'static str {
        match self {
            MediaType::Image => "WhatsApp Image Keys",
            MediaType::Video => "WhatsApp Video Keys",
            MediaType::Audio => "WhatsApp Audio Keys",
            MediaType::Document => "WhatsApp Document Keys",
            MediaType::History => "WhatsApp History Keys",
            MediaType::AppState => "WhatsApp App State Keys",
        }
    }

    /// The upload path segment: blobs are posted to `/mms/<this>/<token>`.
    pub fn mms_type(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
            MediaType::Audio => "audio",
            MediaType::Document => "document",
            MediaType::History => "md-msg-hist",
            MediaType::AppState => "md-app-state",
        }
    }

    /// The type for an upload path segment, if known.
    pub fn from_mms_type(name: &str) -> Option<MediaType> {
        [
            MediaType::Image,
            MediaType::Video,
            MediaType::Audio,
            MediaType::Document,
            MediaType::History,
            MediaType::AppState,
        ]
        .into_iter()
        .find(|t| t.mms_type() == name)
    }
}

/// The keys expanded from a media key.
#[derive(Clone)]
pub struct MediaKeys {
    /// CBC initialisation vector.
    pub iv: [u8; 16],
    /// AES-256 key.
    pub cipher_key: [u8; 32],
    /// HMAC-SHA256 key.
    pub mac_key: [u8; 32],
}

impl core::fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MediaKeys").finish_non_exhaustive()
    }
}

impl MediaKeys {
    /// Expands a 32-byte media key (HKDF-SHA256, no salt, 112 bytes; the last 32,
    /// the "ref key", are unused).
    pub fn expand(media_key: &[u8; 32], media_type: MediaType) -> MediaKeys {
        let okm: [u8; 112] = hkdf_sha256(media_key, None, media_type.hkdf_info().as_bytes());
        let mut keys = MediaKeys {
            iv: [0; 16],
            cipher_key: [0; 32],
            mac_key: [0; 32],
        };
        keys.iv.copy_from_slice(&okm[..16]);
        keys.cipher_key.copy_from_slice(&okm[16..48]);
        keys.mac_key.copy_from_slice(&okm[48..80]);
        keys
    }
}

/// A sealed blob and the hashes a media message announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedMedia {
    /// Ciphertext followed by the 10-byte MAC: what is uploaded.
    pub data: Vec<u8>,
    /// SHA-256 of the plaintext.
    pub file_sha256: [u8; 32],
    /// SHA-256 of `data` (also the upload token, in URL-safe base64).
    pub file_enc_sha256: [u8; 32],
    /// Plaintext length.
    pub file_length: u64,
}

/// Seals `plaintext` with `media_key`.
pub fn encrypt(plaintext: &[u8], media_key: &[u8; 32], media_type: MediaType) -> EncryptedMedia {
    let keys = MediaKeys::expand(media_key, media_type);
    let mut data = aes256_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
    let mac = hmac_sha256(&keys.mac_key, &[&keys.iv, &data]);
    data.extend_from_slice(&mac[..MAC_LEN]);
    EncryptedMedia {
        file_sha256: sha256(plaintext),
        file_enc_sha256: sha256(&data),
        file_length: plaintext.len() as u64,
        data,
    }
}

/// Opens a sealed blob: checks its hash (when given) and MAC, then decrypts.
pub fn decrypt(
    data: &[u8],
    media_key: &[u8; 32],
    media_type: MediaType,
    expected_enc_sha256: Option<&[u8]>,
) -> Result<Vec<u8>, MediaError> {
    if data.len() < 16 + MAC_LEN {
        return Err(MediaError::TooShort(data.len()));
    }
    if let Some(expected) = expected_enc_sha256 {
        let actual = sha256(data);
        if !bool::from(actual.as_slice().ct_eq(expected)) {
            return Err(MediaError::HashMismatch);
        }
    }
    let (ciphertext, mac) = data.split_at(data.len() - MAC_LEN);
    let keys = MediaKeys::expand(media_key, media_type);
    let expected_mac = hmac_sha256(&keys.mac_key, &[&keys.iv, ciphertext]);
    if !bool::from(expected_mac[..MAC_LEN].ct_eq(mac)) {
        return Err(MediaError::MacMismatch);
    }
    aes256_cbc_decrypt(&keys.cipher_key, &keys.iv, ciphertext).ok_or(MediaError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Node's `crypto` (HKDF, AES-256-CBC, HMAC) from media key 01×32.
    const DOCUMENT_KAT: &str = "9bf109e966b4e7b80ee1f7c4e7519ffe8d53d11b477d1f2365b3";

    #[test]
    fn known_answer_from_node_crypto() {
        let sealed = encrypt(b"hello, media", &[1; 32], MediaType::Document);
        assert_eq!(hex::encode(&sealed.data), DOCUMENT_KAT);
        let data = hex::decode(DOCUMENT_KAT).unwrap();
        assert_eq!(
            decrypt(&data, &[1; 32], MediaType::Document, None).unwrap(),
            b"hello, media"
        );
    }

    #[test]
    fn key_expansion_splits_hkdf_output() {
        let key = [1u8; 32];
        let okm: [u8; 112] = hkdf_sha256(&key, None, b"WhatsApp Document Keys");
        let keys = MediaKeys::expand(&key, MediaType::Document);
        assert_eq!(keys.iv, okm[..16]);
        assert_eq!(keys.cipher_key, okm[16..48]);
        assert_eq!(keys.mac_key, okm[48..80]);
        let image = MediaKeys::expand(&key, MediaType::Image);
        assert_ne!(image.cipher_key, keys.cipher_key, "type changes the keys");
    }

    #[test]
    fn round_trip_and_layout() {
        let key = [2u8; 32];
        let sealed = encrypt(&[0xaa; 33], &key, MediaType::Document);
        assert_eq!(sealed.data.len(), 48 + MAC_LEN, "33 bytes pad to 3 blocks");
        assert_eq!(sealed.file_enc_sha256, sha256(&sealed.data));
        assert_eq!(
            decrypt(&sealed.data, &key, MediaType::Document, None).unwrap(),
            [0xaa; 33]
        );
    }

    #[test]
    fn tampering_and_wrong_keys_are_detected() {
        let key = [3u8; 32];
        let sealed = encrypt(b"secret", &key, MediaType::Document);
        let mut bad = sealed.data.clone();
        bad[0] ^= 1;
        assert_eq!(
            decrypt(&bad, &key, MediaType::Document, None),
            Err(MediaError::MacMismatch)
        );
        assert_eq!(
            decrypt(
                &bad,
                &key,
                MediaType::Document,
                Some(&sealed.file_enc_sha256)
            ),
            Err(MediaError::HashMismatch)
        );
        assert_eq!(
            decrypt(&sealed.data, &key, MediaType::Image, None),
            Err(MediaError::MacMismatch)
        );
        assert_eq!(
            decrypt(&[0; 5], &key, MediaType::Document, None),
            Err(MediaError::TooShort(5))
        );
        assert_eq!(
            MediaType::from_mms_type("document"),
            Some(MediaType::Document)
        );
        assert_eq!(MediaType::from_mms_type("nope"), None);
    }
}
