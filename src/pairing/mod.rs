//! Companion-device linking: both sides of the pairing protocol.
//!
//! Owns: the QR string format ([`QrData`]), the ADV device identity (the
//! phone's signed statement that a companion belongs to the account, with the
//! companion's counter-signature — [`verify_pair_success`] on the companion
//! side, [`issue_device_identity`] and [`verify_device_sign`] on the phone
//! side), and the link-code ("pairing code") key exchange ([`LinkCode`],
//! [`wrap_ephemeral`], [`companion_finish`], [`primary_open_bundle`]).
//!
//! Does not own the stanzas that carry these bytes nor any state: the client
//! engine and the simulator build the nodes and keep what must persist. Both
//! sides live here so that the simulator's phone and the client are checked
//! against one another, and both against the facts of the protocol.

mod adv;
mod code;
mod qr;

pub use adv::{
    DeviceIdentity, DeviceIdentityGrant, PairSuccess, SignedDeviceIdentity, issue_device_identity,
    verify_device_sign, verify_pair_success,
};
pub use code::{
    CompanionFinish, LINK_CODE_ALPHABET, LinkCode, WRAPPED_EPHEMERAL_LEN, companion_finish,
    primary_open_bundle, unwrap_ephemeral, wrap_ephemeral,
};
pub use qr::{QR_PREFIX, QrData};

/// Why a pairing step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// A protobuf in the exchange could not be parsed.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A required field was absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A field had the wrong length.
    #[error("{field} must be {expected} bytes, got {actual}")]
    Length {
        /// Which field.
        field: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it had.
        actual: usize,
    },
    /// The HMAC over the device identity did not match the adv secret.
    #[error("device identity HMAC does not match the adv secret")]
    HmacMismatch,
    /// The account (phone) signature over the device identity is invalid.
    #[error("account signature over the device identity is invalid")]
    AccountSignatureMismatch,
    /// The companion's device signature is invalid.
    #[error("device signature over the device identity is invalid")]
    DeviceSignatureMismatch,
    /// A QR string was not in the expected form.
    #[error("invalid QR string: {0}")]
    InvalidQr(&'static str),
    /// A link code was not 8 characters of the link-code alphabet.
    #[error("invalid link code: {0}")]
    InvalidLinkCode(&'static str),
    /// The key bundle could not be decrypted (wrong code or tampered).
    #[error("link-code key bundle failed to decrypt")]
    BundleDecrypt,
    /// The key bundle names a different primary identity than ours.
    #[error("link-code key bundle names another primary identity")]
    BundleIdentityMismatch,
    /// A key agreement produced the all-zero secret (a low-order public key).
    #[error("key agreement with a low-order public key")]
    WeakKey,
}

impl PairingError {
    /// The `<error code text>` a companion answers the server with, as whatsmeow does.
    pub fn iq_error(&self) -> (u16, &'static str) {
        match self {
            Self::HmacMismatch => (401, "hmac-mismatch"),
            Self::AccountSignatureMismatch => (401, "signature-mismatch"),
            _ => (500, "internal-error"),
        }
    }
}

/// X25519 that refuses an all-zero result (a low-order peer key).
fn agree(
    ours: &crate::crypto::PrivateKey,
    theirs: &crate::crypto::PublicKey,
) -> Result<[u8; 32], PairingError> {
    let shared = ours.agree(theirs);
    if shared == [0u8; 32] {
        Err(PairingError::WeakKey)
    } else {
        Ok(shared)
    }
}
