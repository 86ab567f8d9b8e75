//! Helpers for the unit tests of this module.

use std::collections::VecDeque;
use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

use crate::crypto::{KeyPair, PrivateKey};

/// An "RNG" that hands out predetermined bytes, so that known-answer tests
/// can feed the exact keys an independent implementation used.
pub(crate) struct QueueRng(VecDeque<u8>);

impl QueueRng {
    pub(crate) fn new(chunks: &[&str]) -> Self {
        Self(
            chunks
                .iter()
                .flat_map(|chunk| hex::decode(chunk).unwrap())
                .collect(),
        )
    }
}

impl TryRng for QueueRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = self.0.pop_front().expect("QueueRng ran out of bytes");
        }
        Ok(())
    }
}

impl TryCryptoRng for QueueRng {}

/// A key pair from a hex private key.
pub(crate) fn key_pair(private_hex: &str) -> KeyPair {
    KeyPair::from_private(PrivateKey::from_slice(&hex::decode(private_hex).unwrap()).unwrap())
}
