//! AES-256-GCM, as the Noise handshake and transport and the pairing-code
//! key bundle use it, and AES-256-CTR for the pairing code's wrapped key.
//!
//! Plain functions and one key type, so that every AES user in the module
//! shares the block cipher compiled here (and the transport's frames are
//! sealed by code built for speed).

use aes::Aes256;
use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};

/// Length of an AES-GCM nonce.
pub const GCM_NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const GCM_TAG_LEN: usize = 16;

/// An AES-256-GCM key with its expanded schedule, for sealing many messages.
#[derive(Clone)]
pub struct Aes256GcmKey(Aes256Gcm);

impl core::fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Aes256GcmKey(..)")
    }
}

impl Aes256GcmKey {
    /// Expands `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `buffer` in place and returns the tag; `None` only for a
    /// buffer beyond GCM's limit (64 GiB).
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Option<[u8; GCM_TAG_LEN]> {
        self.0
            .encrypt_inout_detached(nonce.into(), aad, buffer.into())
            .ok()
            .map(Into::into)
    }

    /// Decrypts `buffer` in place if `tag` verifies; `None` (and `buffer`
    /// left encrypted) otherwise.
    pub fn decrypt_in_place(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        buffer: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Option<()> {
        self.0
            .decrypt_inout_detached(nonce.into(), aad, buffer.into(), tag.into())
            .ok()
    }

    /// `plaintext` encrypted, followed by the tag.
    pub fn seal(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Option<Vec<u8>> {
        let mut sealed = Vec::with_capacity(plaintext.len().saturating_add(GCM_TAG_LEN));
        sealed.extend_from_slice(plaintext);
        let tag = self.encrypt_in_place(nonce, aad, &mut sealed)?;
        sealed.extend_from_slice(&tag);
        Some(sealed)
    }

    /// Inverse of [`seal`](Self::seal); `None` when `sealed` is shorter than
    /// a tag or does not verify.
    pub fn open(&self, nonce: &[u8; GCM_NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (body, tag) = sealed.split_last_chunk::<GCM_TAG_LEN>()?;
        let mut plaintext = body.to_vec();
        self.decrypt_in_place(nonce, aad, &mut plaintext, tag)?;
        Some(plaintext)
    }
}

/// XORs `buffer` with the AES-256-CTR keystream (128-bit big-endian counter
/// starting at `iv`): encrypts and decrypts alike.
pub fn aes256_ctr_apply(key: &[u8; 32], iv: &[u8; 16], buffer: &mut [u8]) {
    ctr::Ctr128BE::<Aes256>::new(key.into(), iv.into()).apply_keystream(buffer);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST GCM test case 16 (AES-256, 60-byte plaintext, 20-byte AAD).
    #[test]
    fn matches_the_gcm_spec_vector() {
        let key: [u8; 32] =
            hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
                .unwrap()
                .try_into()
                .unwrap();
        let nonce: [u8; 12] = hex::decode("cafebabefacedbaddecaf888")
            .unwrap()
            .try_into()
            .unwrap();
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").unwrap();
        let plaintext = hex::decode(concat!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ))
        .unwrap();
        let expected = hex::decode(concat!(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa",
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ))
        .unwrap();
        let key = Aes256GcmKey::new(&key);
        let sealed = key.seal(&nonce, &aad, &plaintext).unwrap();
        assert_eq!(sealed, expected);
        assert_eq!(key.open(&nonce, &aad, &sealed), Some(plaintext));
    }

    #[test]
    fn any_change_fails_to_open() {
        let key = Aes256GcmKey::new(&[7u8; 32]);
        let nonce = [9u8; 12];
        let sealed = key.seal(&nonce, b"aad", b"secret").unwrap();
        for at in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            assert_eq!(key.open(&nonce, b"aad", &tampered), None);
        }
        assert_eq!(key.open(&nonce, b"other", &sealed), None);
        assert_eq!(key.open(&[0u8; 12], b"aad", &sealed), None);
        assert_eq!(key.open(&nonce, b"aad", &sealed[..15]), None);
        let mut buffer = *b"secret";
        let tag = key.encrypt_in_place(&nonce, b"", &mut buffer).unwrap();
        let mut wrong = tag;
        wrong[0] ^= 1;
        let encrypted = buffer;
        assert_eq!(key.decrypt_in_place(&nonce, b"", &mut buffer, &wrong), None);
        assert_eq!(buffer, encrypted);
        assert_eq!(
            key.decrypt_in_place(&nonce, b"", &mut buffer, &tag),
            Some(())
        );
        assert_eq!(&buffer, b"secret");
    }

    /// NIST SP 800-38A F.5.5 (CTR-AES256), first two blocks.
    #[test]
    fn ctr_matches_the_spec_vector() {
        let key: [u8; 32] =
            hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap()
                .try_into()
                .unwrap();
        let iv: [u8; 16] = hex::decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .unwrap()
            .try_into()
            .unwrap();
        let mut buffer =
            hex::decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
                .unwrap();
        aes256_ctr_apply(&key, &iv, &mut buffer);
        assert_eq!(
            hex::encode(&buffer),
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        );
        aes256_ctr_apply(&key, &iv, &mut buffer);
        assert_eq!(
            hex::encode(&buffer),
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        );
    }
}
