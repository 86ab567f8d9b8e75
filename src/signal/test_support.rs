//! Helpers for the unit tests of this module.

use crate::crypto::{KeyPair, PrivateKey};

/// A key pair from a hex private key.
pub(crate) fn key_pair(private_hex: &str) -> KeyPair {
    KeyPair::from_private(PrivateKey::from_slice(&hex::decode(private_hex).unwrap()).unwrap())
}
