//! Key derivation of the double ratchet and of sender keys, and the body cipher
//! (AES-256-CBC with PKCS#7 padding).

use std::collections::VecDeque;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::{MessagePart, SignalError};
use super::{MAX_FORWARD_JUMP, MAX_SKIPPED_KEYS};
use crate::crypto::{
    PrivateKey, PublicKey, aes256_cbc_decrypt, aes256_cbc_encrypt, hkdf_sha256, hmac_sha256,
};

const INFO_X3DH: &[u8] = b"WhisperText";
const INFO_RATCHET: &[u8] = b"WhisperRatchet";
const INFO_MESSAGE_KEYS: &[u8] = b"WhisperMessageKeys";
const INFO_GROUP: &[u8] = b"WhisperGroup";
const MESSAGE_KEY_SEED: &[u8] = &[0x01];
const CHAIN_KEY_SEED: &[u8] = &[0x02];

/// The root key of a session, advanced by every ratchet turn.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RootKey(pub(crate) [u8; 32]);

/// A symmetric chain key and the index of the next message key it yields.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChainKey {
    pub(crate) key: [u8; 32],
    pub(crate) index: u32,
}

/// The keys of one 1:1 message.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeys {
    pub(crate) cipher_key: [u8; 32],
    pub(crate) mac_key: [u8; 32],
    pub(crate) iv: [u8; 16],
}

/// The keys of one sender key (group) message.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct SenderMessageKeys {
    pub(crate) iv: [u8; 16],
    pub(crate) cipher_key: [u8; 32],
}

/// Derives the first root key and chain key from the X3DH shared secret
/// (`0xFF × 32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4]`).
pub(crate) fn derive_initial_keys(secret: &[u8]) -> (RootKey, ChainKey) {
    let mut okm: [u8; 64] = hkdf_sha256(secret, None, INFO_X3DH);
    let keys = split_root_and_chain(&okm);
    okm.zeroize();
    keys
}

fn split_root_and_chain(okm: &[u8; 64]) -> (RootKey, ChainKey) {
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    (
        RootKey(root),
        ChainKey {
            key: chain,
            index: 0,
        },
    )
}

impl RootKey {
    /// One ratchet turn: mixes `DH(our, their)` into the root key, giving the
    /// next root key and a fresh chain.
    pub(crate) fn create_chain(&self, their: &PublicKey, our: &PrivateKey) -> (RootKey, ChainKey) {
        let mut shared = our.agree(their);
        let mut okm: [u8; 64] = hkdf_sha256(&shared, Some(&self.0), INFO_RATCHET);
        let keys = split_root_and_chain(&okm);
        shared.zeroize();
        okm.zeroize();
        keys
    }
}

impl ChainKey {
    /// The seed of the message key at `self.index`.
    pub(crate) fn message_key_seed(&self) -> [u8; 32] {
        hmac_sha256(&self.key, &[MESSAGE_KEY_SEED])
    }

    /// The chain key one step further.
    pub(crate) fn next(&self) -> Result<ChainKey, SignalError> {
        Ok(ChainKey {
            key: hmac_sha256(&self.key, &[CHAIN_KEY_SEED]),
            index: self
                .index
                .checked_add(1)
                .ok_or(SignalError::CounterExhausted)?,
        })
    }
}

impl MessageKeys {
    /// Expands a 1:1 message key seed into cipher key, MAC key and IV.
    pub(crate) fn derive(seed: &[u8; 32]) -> Self {
        let mut okm: [u8; 80] = hkdf_sha256(seed, None, INFO_MESSAGE_KEYS);
        let mut keys = Self {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        keys.cipher_key.copy_from_slice(&okm[..32]);
        keys.mac_key.copy_from_slice(&okm[32..64]);
        keys.iv.copy_from_slice(&okm[64..]);
        okm.zeroize();
        keys
    }
}

impl SenderMessageKeys {
    /// Expands a sender key message seed into IV and cipher key.
    pub(crate) fn derive(seed: &[u8; 32]) -> Self {
        let mut okm: [u8; 48] = hkdf_sha256(seed, None, INFO_GROUP);
        let mut keys = Self {
            iv: [0; 16],
            cipher_key: [0; 32],
        };
        keys.iv.copy_from_slice(&okm[..16]);
        keys.cipher_key.copy_from_slice(&okm[16..]);
        okm.zeroize();
        keys
    }
}

/// AES-256-CBC with PKCS#7 padding.
pub(crate) fn encrypt_body(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    aes256_cbc_encrypt(key, iv, plaintext)
}

/// Inverse of [`encrypt_body`]; fails on a partial block or bad padding.
pub(crate) fn decrypt_body(
    key: &[u8; 32],
    iv: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Vec<u8>, SignalError> {
    aes256_cbc_decrypt(key, iv, ciphertext)
        .ok_or(SignalError::InvalidMessage(MessagePart::Ciphertext))
}

/// A message key kept for a message that has not arrived yet.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SkippedKey {
    pub(crate) index: u32,
    pub(crate) seed: [u8; 32],
}

/// Returns the message key seed for `counter` on a receiving chain, advancing
/// the chain and keeping the keys it skips (so that late messages still
/// decrypt), or taking a kept key for a message that arrives late.
///
/// Bounded as libsignal: at most [`MAX_FORWARD_JUMP`] keys skipped at once,
/// at most [`MAX_SKIPPED_KEYS`] kept (the oldest are dropped first).
pub(crate) fn receiving_key_seed(
    chain_key: &mut ChainKey,
    skipped: &mut VecDeque<SkippedKey>,
    counter: u32,
) -> Result<[u8; 32], SignalError> {
    let current = chain_key.index;
    if counter < current {
        let position = skipped
            .iter()
            .position(|key| key.index == counter)
            .ok_or(SignalError::DuplicateMessage { counter })?;
        return skipped
            .remove(position)
            .map(|key| key.seed)
            .ok_or(SignalError::DuplicateMessage { counter });
    }
    if counter - current > MAX_FORWARD_JUMP {
        return Err(SignalError::TooFarInFuture {
            counter,
            current,
            limit: MAX_FORWARD_JUMP,
        });
    }
    while chain_key.index < counter {
        skipped.push_back(SkippedKey {
            index: chain_key.index,
            seed: chain_key.message_key_seed(),
        });
        *chain_key = chain_key.next()?;
    }
    while skipped.len() > MAX_SKIPPED_KEYS {
        skipped.pop_front();
    }
    let seed = chain_key.message_key_seed();
    *chain_key = chain_key.next()?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_support::key_pair;

    // Vectors from the `libsignal` npm package and Baileys' sender key classes
    // (tests/interop/vectors.mjs).

    #[test]
    fn chain_step_and_message_keys_match_libsignal() {
        let chain = ChainKey {
            key: hex_literal::hex!(
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            ),
            index: 4,
        };
        let seed = chain.message_key_seed();
        assert_eq!(
            hex::encode(seed),
            "9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7"
        );
        let next = chain.next().unwrap();
        assert_eq!(
            hex::encode(next.key),
            "4304c22c84a53755ab08ead8d97a8d429be5efa480682d7ad1da27f73e1fbe1d"
        );
        assert_eq!(next.index, 5);
        let keys = MessageKeys::derive(&seed);
        assert_eq!(
            hex::encode(keys.cipher_key),
            "86268814b41f5fd154659f26873660e3dbc8b205155c3b59b8570b015d773c0c"
        );
        assert_eq!(
            hex::encode(keys.mac_key),
            "dea51fa5beca2618971c4292647b81e83f2b4edd03e0d292a87ec66e0163abdb"
        );
        assert_eq!(hex::encode(keys.iv), "21cfd5b9956a1631f6b7b5b5bdf7b791");
    }

    #[test]
    fn root_step_matches_libsignal() {
        let root = RootKey([0xab; 32]);
        let ours = key_pair("68c0b466731792fa748f3cac66c1583a79914ad017346cbdd2e7392193217a65");
        let theirs = PublicKey::from_slice(&hex_literal::hex!(
            "05bb8d2d35c599ece43649f8df1efd978ef7ec4a68f36c605d7379d25fa4479d77"
        ))
        .unwrap();
        let (new_root, chain) = root.create_chain(&theirs, &ours.private);
        assert_eq!(
            hex::encode(new_root.0),
            "da8e547ce7cbfe4be467d504b8350f0364b4d21eab7512f1bbbdba15ec6b3948"
        );
        assert_eq!(
            hex::encode(chain.key),
            "ada13f34c50b3d7ac0b1579731e1c984c6617d511934aa7a54d21d340744b655"
        );
        assert_eq!(chain.index, 0);
    }

    #[test]
    fn sender_message_keys_match_baileys() {
        let chain = ChainKey {
            key: [0x5a; 32],
            index: 0,
        };
        let keys = SenderMessageKeys::derive(&chain.message_key_seed());
        assert_eq!(hex::encode(keys.iv), "86df5445c9af1da5505466deeac1229c");
        assert_eq!(
            hex::encode(keys.cipher_key),
            "5b3f469e5c7406983d590f5b00ee13349fe2e9d463ff608107c5d8c22becf7f2"
        );
        assert_eq!(
            hex::encode(chain.next().unwrap().key),
            "e434e3e5b00ff7f5cee416e79ea8f37ee8412270ba41fa4dc9d1c76972b16260"
        );
    }

    #[test]
    fn body_cipher_round_trip_and_padding_errors() {
        let key = [7; 32];
        let iv = [9; 16];
        for len in [0, 1, 15, 16, 17, 100] {
            let plaintext = vec![0x41; len];
            let ciphertext = encrypt_body(&key, &iv, &plaintext);
            assert_eq!(ciphertext.len(), (len / 16 + 1) * 16, "PKCS#7 always pads");
            assert_eq!(decrypt_body(&key, &iv, &ciphertext).unwrap(), plaintext);
        }
        let bad = SignalError::InvalidMessage(MessagePart::Ciphertext);
        assert_eq!(decrypt_body(&key, &iv, &[]), Err(bad.clone()));
        assert_eq!(decrypt_body(&key, &iv, &[0; 15]), Err(bad.clone()));
        // Wrong key: the padding check fails (with overwhelming probability for this input).
        let ciphertext = encrypt_body(&key, &iv, b"hello");
        assert_eq!(decrypt_body(&[8; 32], &iv, &ciphertext), Err(bad));
    }

    #[test]
    fn receiving_keys_skip_keep_and_reject() {
        let mut chain = ChainKey {
            key: [1; 32],
            index: 0,
        };
        let reference: Vec<[u8; 32]> = {
            let mut c = chain.clone();
            (0..10)
                .map(|_| {
                    let seed = c.message_key_seed();
                    c = c.next().unwrap();
                    seed
                })
                .collect()
        };
        let mut skipped = VecDeque::new();
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 3).unwrap(),
            reference[3]
        );
        assert_eq!(skipped.len(), 3);
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 1).unwrap(),
            reference[1]
        );
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 1).err(),
            Some(SignalError::DuplicateMessage { counter: 1 })
        );
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 3).err(),
            Some(SignalError::DuplicateMessage { counter: 3 })
        );
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 4 + MAX_FORWARD_JUMP + 1).err(),
            Some(SignalError::TooFarInFuture {
                counter: 4 + MAX_FORWARD_JUMP + 1,
                current: 4,
                limit: MAX_FORWARD_JUMP
            })
        );
        // Exactly the limit is accepted, and the kept keys stay bounded.
        let far = 4 + MAX_FORWARD_JUMP;
        receiving_key_seed(&mut chain, &mut skipped, far).unwrap();
        assert_eq!(skipped.len(), MAX_SKIPPED_KEYS);
        assert_eq!(chain.index, far + 1);
        // The oldest kept keys (0 and 2) were dropped first.
        assert_eq!(
            receiving_key_seed(&mut chain, &mut skipped, 0).err(),
            Some(SignalError::DuplicateMessage { counter: 0 })
        );
        assert!(skipped.iter().all(|key| key.index >= 4));
    }
}
