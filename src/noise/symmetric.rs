//! The Noise symmetric state (`h`, `ck`, `k`, `n`) shared by both handshake roles.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::frame::INTRO_HEADER;
use crate::crypto::{Aes256GcmKey, GCM_NONCE_LEN, PrivateKey, PublicKey, hkdf_sha256};

/// The protocol name, NUL-padded to exactly 32 bytes so it is used directly as
/// the initial hash and chaining key (Noise hashes only longer names).
pub const NOISE_PROTOCOL_NAME: [u8; 32] = *b"Noise_XX_25519_AESGCM_SHA256\0\0\0\0";

/// The AES-GCM nonce WhatsApp uses: 8 zero bytes, then the counter big-endian.
pub(crate) fn nonce(counter: u32) -> [u8; GCM_NONCE_LEN] {
    let mut iv = [0u8; GCM_NONCE_LEN];
    let [a, b, c, d] = counter.to_be_bytes();
    iv[8] = a;
    iv[9] = b;
    iv[10] = c;
    iv[11] = d;
    iv
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
        let nonce = nonce(self.next_nonce());
        // AES-GCM only refuses inputs above 64 GiB; frames are below 16 MiB.
        let buffer = Aes256GcmKey::new(&self.k)
            .seal(&nonce, &self.h, plaintext)
            .unwrap_or_default();
        self.mix_hash(&buffer);
        buffer
    }

    /// Checks and decrypts with `h` as associated data, then `mix_hash(ciphertext)`.
    /// `None` when the tag does not verify (or the input is shorter than a tag).
    pub(crate) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let nonce = nonce(self.next_nonce());
        let plaintext = Aes256GcmKey::new(&self.k).open(&nonce, &self.h, ciphertext)?;
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
