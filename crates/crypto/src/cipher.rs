//! AES-256-CBC with PKCS#7 padding, as Signal message bodies and media
//! attachments use it.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

/// Encrypts `plaintext` (padded to whole blocks).
pub fn aes256_cbc_encrypt(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// Inverse of [`aes256_cbc_encrypt`]; `None` for an empty or partial-block
/// ciphertext or bad padding.
pub fn aes256_cbc_decrypt(key: &[u8; 32], iv: &[u8; 16], ciphertext: &[u8]) -> Option<Vec<u8>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return None;
    }
    cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads_to_whole_blocks() {
        let (key, iv) = ([7u8; 32], [9u8; 16]);
        for len in [0, 1, 15, 16, 17, 200] {
            let plaintext = vec![0x42u8; len];
            let sealed = aes256_cbc_encrypt(&key, &iv, &plaintext);
            assert_eq!(sealed.len(), (len / 16 + 1) * 16);
            assert_eq!(aes256_cbc_decrypt(&key, &iv, &sealed), Some(plaintext));
        }
    }

    #[test]
    fn rejects_partial_blocks_and_bad_padding() {
        let (key, iv) = ([7u8; 32], [9u8; 16]);
        assert_eq!(aes256_cbc_decrypt(&key, &iv, &[]), None);
        assert_eq!(aes256_cbc_decrypt(&key, &iv, &[0u8; 17]), None);
        let mut sealed = aes256_cbc_encrypt(&key, &iv, b"hello");
        let last = sealed.len() - 1;
        sealed[last] ^= 0xff;
        assert_eq!(aes256_cbc_decrypt(&key, &iv, &sealed), None);
    }
}
