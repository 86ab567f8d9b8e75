//! The Noise symmetric state (`h`, `ck`, `k`, `n`) shared by both handshake roles.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::frame::INTRO_HEADER;
use super::transport::GCM_TAG_LEN;
use crate::crypto::{PrivateKey, PublicKey, hkdf_sha256};

/// The protocol name, NUL-padded to exactly 32 bytes so it is used directly as
/// the initial hash and chaining key (Noise hashes only longer names).
pub const NOISE_PROTOCOL_NAME: [u8; 32] = *b"Noise_XX_25519_AESGCM_SHA256\0\0\0\0";

/// The AES-GCM nonce WhatsApp uses: 8 zero bytes, then the counter big-endian.
pub(crate) fn nonce(counter: u32) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut iv = [0u8; 12];
    let [a, b, c, d] = counter.to_be_bytes();
    iv[8] = a;
    iv[9] = b;
    iv[10] = c;
    iv[11] = d;
    Nonce::from(iv)
}

pub(crate) fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(&(*key).into())
}

/// X25519 that refuses low-order peer keys (an all-zero shared secret), like
/// Go's `curve25519.X25519` that whatsmeow uses.
pub(crate) fn diffie_hellman(ours: &PrivateKey, theirs: &PublicKey) -> Option<[u8; 32]> {
    let shared = ours.agree(theirs);
    if bool::from(shared.ct_eq(&[0u8; 32])) {
        None
    } else {
        Some(shared)
    }
}

/// The handshake's hash, chaining key and current cipher key with its counter.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SymmetricState {
    h: [u8; 32],
    ck: [u8; 32],
    /// Unused until the first `mix_key`: the XX pattern mixes a key before it
    /// first encrypts.
    k: [u8; 32],
    /// At most two messages are encrypted under one key in XX.
    n: u32,
}

impl SymmetricState {
    /// Initialises with the protocol name and mixes in the WhatsApp prologue.
    pub(crate) fn new() -> Self {
        let mut state = Self {
            h: NOISE_PROTOCOL_NAME,
            ck: NOISE_PROTOCOL_NAME,
            k: [0; 32],
            n: 0,
        };
        state.mix_hash(&INTRO_HEADER);
        state
    }

    /// `h = SHA-256(h || data)`.
    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.h);
        hasher.update(data);
        self.h = hasher.finalize().into();
    }

    /// `ck, k = HKDF(salt = ck, ikm = shared secret)`; resets the counter.
    pub(crate) fn mix_key(&mut self, shared_secret: &[u8; 32]) {
        let mut out: [u8; 64] = hkdf_sha256(shared_secret, Some(&self.ck), b"");
        self.ck.copy_from_slice(&out[..32]);
        self.k.copy_from_slice(&out[32..]);
        out.zeroize();
        self.n = 0;
    }

    fn next_nonce(&mut self) -> u32 {
        let n = self.n;
        // XX uses one key for at most two messages (the state types fix the
        // sequence), so the counter stays far below `u32::MAX`.
        self.n = self.n.saturating_add(1);
        n
    }

    /// AES-GCM encryption with `h` as associated data, then `mix_hash(ciphertext)`.
    pub(crate) fn encrypt_and_hash(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut buffer = Vec::with_capacity(plaintext.len().saturating_add(GCM_TAG_LEN));
        buffer.extend_from_slice(plaintext);
        let nonce = nonce(self.next_nonce());
        match cipher(&self.k).encrypt_inout_detached(&nonce, &self.h, buffer.as_mut_slice().into())
        {
            Ok(tag) => buffer.extend_from_slice(&tag),
            // AES-GCM only refuses inputs above 64 GiB; frames are below 16 MiB.
            Err(_) => buffer.clear(),
        }
        self.mix_hash(&buffer);
        buffer
    }

    /// Checks and decrypts with `h` as associated data, then `mix_hash(ciphertext)`.
    /// `None` when the tag does not verify (or the input is shorter than a tag).
    pub(crate) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let body_len = ciphertext.len().checked_sub(GCM_TAG_LEN)?;
        let (body, tag) = ciphertext.split_at(body_len);
        let tag = <&[u8; GCM_TAG_LEN]>::try_from(tag).ok()?;
        let mut plaintext = body.to_vec();
        let nonce = nonce(self.next_nonce());
        cipher(&self.k)
            .decrypt_inout_detached(
                &nonce,
                &self.h,
                plaintext.as_mut_slice().into(),
                &(*tag).into(),
            )
            .ok()?;
        self.mix_hash(ciphertext);
        Some(plaintext)
    }

    /// The two transport keys: (initiator → responder, responder → initiator).
    pub(crate) fn split(&self) -> ([u8; 32], [u8; 32]) {
        let mut out: [u8; 64] = hkdf_sha256(&[], Some(&self.ck), b"");
        let mut first = [0u8; 32];
        let mut second = [0u8; 32];
        first.copy_from_slice(&out[..32]);
        second.copy_from_slice(&out[32..]);
        out.zeroize();
        (first, second)
    }
}
