//! The transport phase: AES-256-GCM with empty associated data and one 32-bit
//! nonce counter per direction.

use core::fmt;

use super::frame::{FRAME_HEADER_LEN, FrameError, MAX_FRAME_PAYLOAD, frame_header};
use super::symmetric::nonce;
use super::{Direction, NoiseError};
use crate::crypto::Aes256GcmKey;

/// Length of the AES-GCM authentication tag appended to every ciphertext.
pub use crate::crypto::GCM_TAG_LEN;

/// The established session: encrypts outgoing frames and decrypts incoming ones.
///
/// Built only by a completed handshake ([`super::ClientFinished`],
/// [`super::ServerFinished`]). Use [`split`](Self::split) to hand the two
/// directions to different owners (e.g. a reader task and a writer task).
#[derive(Debug)]
pub struct NoiseTransport {
    sender: TransportSender,
    receiver: TransportReceiver,
}

/// The sending half of a [`NoiseTransport`].
pub struct TransportSender {
    cipher: Aes256GcmKey,
    /// Next nonce; 2^32 (beyond the 32-bit IV counter) means exhausted.
    next: u64,
}

/// The receiving half of a [`NoiseTransport`].
pub struct TransportReceiver {
    cipher: Aes256GcmKey,
    /// Next expected nonce; 2^32 means exhausted.
    next: u64,
}

impl fmt::Debug for TransportSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportSender")
            .field("frames_sent", &self.next)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TransportReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportReceiver")
            .field("frames_received", &self.next)
            .finish_non_exhaustive()
    }
}

impl NoiseTransport {
    pub(crate) fn new(send_key: &[u8; 32], receive_key: &[u8; 32]) -> Self {
        Self {
            sender: TransportSender {
                cipher: Aes256GcmKey::new(send_key),
                next: 0,
            },
            receiver: TransportReceiver {
                cipher: Aes256GcmKey::new(receive_key),
                next: 0,
            },
        }
    }

    /// Encrypts `plaintext` and returns the framed ciphertext, ready to send.
    pub fn encrypt_frame(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.sender.encrypt_frame(plaintext)
    }

    /// Decrypts one received frame payload (as popped from a
    /// [`super::FrameDecoder`]).
    pub fn decrypt(&mut self, frame: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.receiver.decrypt(frame)
    }

    /// Separates the two directions.
    pub fn split(self) -> (TransportSender, TransportReceiver) {
        (self.sender, self.receiver)
    }

    /// The sending half.
    pub fn sender(&mut self) -> &mut TransportSender {
        &mut self.sender
    }

    /// The receiving half.
    pub fn receiver(&mut self) -> &mut TransportReceiver {
        &mut self.receiver
    }
}

fn take_nonce(next: &mut u64, direction: Direction) -> Result<u32, NoiseError> {
    let counter = u32::try_from(*next).map_err(|_| NoiseError::CounterExhausted(direction))?;
    *next = next.saturating_add(1);
    Ok(counter)
}

impl TransportSender {
    /// Encrypts `plaintext` and returns the framed ciphertext, ready to send.
    pub fn encrypt_frame(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut out = Vec::new();
        self.encrypt_frame_into(plaintext, &mut out)?;
        Ok(out)
    }

    /// Appends the framed ciphertext of `plaintext` to `out`. Fails before
    /// using a nonce if the ciphertext would not fit in a frame.
    pub fn encrypt_frame_into(
        &mut self,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), NoiseError> {
        let sealed_len = plaintext.len().saturating_add(GCM_TAG_LEN);
        if sealed_len > MAX_FRAME_PAYLOAD {
            return Err(FrameError::PayloadTooLarge(sealed_len).into());
        }
        let header = frame_header(sealed_len)?;
        let counter = take_nonce(&mut self.next, Direction::Send)?;
        out.reserve(FRAME_HEADER_LEN.saturating_add(sealed_len));
        out.extend_from_slice(&header);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let body = out.get_mut(start..).unwrap_or_default();
        match self.cipher.encrypt_in_place(&nonce(counter), &[], body) {
            Some(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            // AES-GCM refuses only inputs above 64 GiB, excluded by the frame limit.
            None => {
                out.truncate(start.saturating_sub(FRAME_HEADER_LEN));
                Err(FrameError::PayloadTooLarge(sealed_len).into())
            }
        }
    }

    /// Frames sent so far (the next nonce counter).
    pub fn frames_sent(&self) -> u64 {
        self.next
    }

    #[cfg(test)]
    pub(crate) fn set_counter_for_test(&mut self, next: u64) {
        self.next = next;
    }
}

impl TransportReceiver {
    /// Decrypts one received frame payload. A frame that fails authentication
    /// (corrupted, replayed, reordered) is an error and does not move the counter.
    pub fn decrypt(&mut self, frame: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let (body, tag) = frame
            .split_last_chunk::<GCM_TAG_LEN>()
            .ok_or(NoiseError::TransportFrameTooShort(frame.len()))?;
        let counter = u32::try_from(self.next)
            .map_err(|_| NoiseError::CounterExhausted(Direction::Receive))?;
        let mut plaintext = body.to_vec();
        self.cipher
            .decrypt_in_place(&nonce(counter), &[], &mut plaintext, tag)
            .ok_or(NoiseError::TransportDecrypt { counter })?;
        self.next = self.next.saturating_add(1);
        Ok(plaintext)
    }

    /// Frames received so far (the next expected nonce counter).
    pub fn frames_received(&self) -> u64 {
        self.next
    }

    #[cfg(test)]
    pub(crate) fn set_counter_for_test(&mut self, next: u64) {
        self.next = next;
    }
}
