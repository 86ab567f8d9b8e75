//! The ADV device identity: how a phone vouches for a companion and how the
//! companion accepts.
//!
//! The phone signs `06 00 ‖ details ‖ companion identity` with its account
//! identity key and HMACs the result with the adv secret from the QR code; the
//! companion checks both, then signs `06 01 ‖ details ‖ companion identity ‖
//! account key` with its own identity key and sends that back.

use prost::Message;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use super::PairingError;
use crate::crypto::{KeyPair, PublicKey, hmac_sha256};
use crate::proto::wa::{
    AdvDeviceIdentity, AdvEncryptionType, AdvSignedDeviceIdentity, AdvSignedDeviceIdentityHmac,
};

const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];
const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [6, 1];
const HOSTED_ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 5];

/// The facts the phone states about a companion (`ADVDeviceIdentity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The account's raw id.
    pub raw_id: u32,
    /// When the phone issued it (unix seconds).
    pub timestamp: u64,
    /// The key index of this companion in the account's device list.
    pub key_index: u32,
    /// Whether the account is a hosted (business API) one.
    pub hosted_account: bool,
    /// Whether the device is a hosted one.
    pub hosted_device: bool,
}

impl DeviceIdentity {
    fn decode(bytes: &[u8]) -> Result<Self, PairingError> {
        let raw = AdvDeviceIdentity::decode(bytes)
            .map_err(|_| PairingError::Malformed("ADV device identity"))?;
        let hosted = |v: Option<i32>| v == Some(AdvEncryptionType::Hosted as i32);
        Ok(Self {
            raw_id: raw.raw_id.unwrap_or_default(),
            timestamp: raw.timestamp.unwrap_or_default(),
            key_index: raw.key_index.unwrap_or_default(),
            hosted_account: hosted(raw.account_type),
            hosted_device: hosted(raw.device_type),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let kind = |hosted: bool| {
            Some(if hosted {
                AdvEncryptionType::Hosted
            } else {
                AdvEncryptionType::E2ee
            } as i32)
        };
        AdvDeviceIdentity {
            raw_id: Some(self.raw_id),
            timestamp: Some(self.timestamp),
            key_index: Some(self.key_index),
            account_type: kind(self.hosted_account),
            device_type: kind(self.hosted_device),
        }
        .encode_to_vec()
    }
}

/// A parsed `ADVSignedDeviceIdentity` (what travels in `device-identity` nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDeviceIdentity {
    /// The serialized `ADVDeviceIdentity` exactly as signed.
    pub details: Vec<u8>,
    /// The decoded details.
    pub identity: DeviceIdentity,
    /// The account (primary phone) identity key; absent in the companion's reply.
    pub account_signature_key: Option<PublicKey>,
    /// The account's signature over the details and the companion identity.
    pub account_signature: [u8; 64],
    /// The companion's signature, once it has signed.
    pub device_signature: Option<[u8; 64]>,
}

impl SignedDeviceIdentity {
    /// Parses the protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, PairingError> {
        let raw = AdvSignedDeviceIdentity::decode(bytes)
            .map_err(|_| PairingError::Malformed("ADV signed device identity"))?;
        let details = raw
            .details
            .ok_or(PairingError::Missing("device identity details"))?;
        let identity = DeviceIdentity::decode(&details)?;
        let account_signature_key = raw
            .account_signature_key
            .map(|key| {
                PublicKey::from_slice(&key).map_err(|_| PairingError::Length {
                    field: "account signature key",
                    expected: 32,
                    actual: key.len(),
                })
            })
            .transpose()?;
        let account_signature = signature(raw.account_signature, "account signature")?
            .ok_or(PairingError::Missing("account signature"))?;
        let device_signature = signature(raw.device_signature, "device signature")?;
        Ok(Self {
            details,
            identity,
            account_signature_key,
            account_signature,
            device_signature,
        })
    }

    /// Serializes, keeping exactly the fields present.
    pub fn encode(&self) -> Vec<u8> {
        AdvSignedDeviceIdentity {
            details: Some(self.details.clone()),
            account_signature_key: self.account_signature_key.map(|k| k.as_bytes().to_vec()),
            account_signature: Some(self.account_signature.to_vec()),
            device_signature: self.device_signature.map(|s| s.to_vec()),
        }
        .encode_to_vec()
    }

    /// Checks the account signature for the companion with `device_identity`,
    /// using the embedded account key (or `account_key` when given instead).
    pub fn verify_account(
        &self,
        device_identity: &PublicKey,
        account_key: Option<&PublicKey>,
    ) -> Result<(), PairingError> {
        let key = account_key
            .or(self.account_signature_key.as_ref())
            .ok_or(PairingError::Missing("account signature key"))?;
        let prefix = if self.identity.hosted_device {
            HOSTED_ACCOUNT_SIGNATURE_PREFIX
        } else {
            ACCOUNT_SIGNATURE_PREFIX
        };
        let message = [&prefix[..], &self.details, device_identity.as_bytes()].concat();
        if key.verify(&message, &self.account_signature) {
            Ok(())
        } else {
            Err(PairingError::AccountSignatureMismatch)
        }
    }

    /// Checks the companion's signature, made with `device_identity`, over the
    /// details and `account_key`.
    pub fn verify_device(
        &self,
        device_identity: &PublicKey,
        account_key: &PublicKey,
    ) -> Result<(), PairingError> {
        let signature = self
            .device_signature
            .ok_or(PairingError::Missing("device signature"))?;
        let message = device_signature_message(&self.details, device_identity, account_key);
        if device_identity.verify(&message, &signature) {
            Ok(())
        } else {
            Err(PairingError::DeviceSignatureMismatch)
        }
    }
}

fn signature(
    value: Option<Vec<u8>>,
    field: &'static str,
) -> Result<Option<[u8; 64]>, PairingError> {
    value
        .map(|bytes| {
            let actual = bytes.len();
            <[u8; 64]>::try_from(bytes).map_err(|_| PairingError::Length {
                field,
                expected: 64,
                actual,
            })
        })
        .transpose()
}

fn device_signature_message(details: &[u8], device: &PublicKey, account: &PublicKey) -> Vec<u8> {
    [
        &DEVICE_SIGNATURE_PREFIX[..],
        details,
        device.as_bytes(),
        account.as_bytes(),
    ]
    .concat()
}

/// What a companion keeps and sends after accepting `pair-success`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSuccess {
    /// The signed identity with our device signature and the account key: persist it
    /// and attach it as `device-identity` to messages that carry a `pkmsg`.
    pub account: Vec<u8>,
    /// The same without the account key: the `pair-device-sign` reply's content.
    pub reply: Vec<u8>,
    /// `key-index` for the reply's `device-identity` node.
    pub key_index: u32,
    /// The primary phone's identity key (trust it for the account's device 0).
    pub account_identity: PublicKey,
    /// The decoded device identity.
    pub identity: DeviceIdentity,
}

/// Companion side: checks the `device-identity` of `pair-success` (HMAC with the
/// adv secret, account signature over our identity) and counter-signs it.
pub fn verify_pair_success(
    container: &[u8],
    adv_secret: &[u8; 32],
    identity: &KeyPair,
    rng: &mut impl CryptoRng,
) -> Result<PairSuccess, PairingError> {
    let container = AdvSignedDeviceIdentityHmac::decode(container)
        .map_err(|_| PairingError::Malformed("ADV signed device identity HMAC"))?;
    let details = container
        .details
        .ok_or(PairingError::Missing("device identity"))?;
    let hmac = container
        .hmac
        .ok_or(PairingError::Missing("device identity HMAC"))?;
    let hosted = container.account_type == Some(AdvEncryptionType::Hosted as i32);
    let expected = if hosted {
        hmac_sha256(adv_secret, &[&HOSTED_ACCOUNT_SIGNATURE_PREFIX, &details])
    } else {
        hmac_sha256(adv_secret, &[&details])
    };
    if !bool::from(expected.as_slice().ct_eq(&hmac)) {
        return Err(PairingError::HmacMismatch);
    }

    let mut signed = SignedDeviceIdentity::decode(&details)?;
    let account_identity = signed
        .account_signature_key
        .ok_or(PairingError::Missing("account signature key"))?;
    signed.verify_account(&identity.public, None)?;

    let message = device_signature_message(&signed.details, &identity.public, &account_identity);
    signed.device_signature = Some(identity.private.sign(&message, rng));
    let account = signed.encode();
    signed.account_signature_key = None;
    let reply = signed.encode();
    Ok(PairSuccess {
        account,
        reply,
        key_index: signed.identity.key_index,
        account_identity,
        identity: signed.identity,
    })
}

/// What the phone grants a companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentityGrant {
    /// The account's raw id.
    pub raw_id: u32,
    /// The companion's key index.
    pub key_index: u32,
    /// Issue time (unix seconds).
    pub timestamp: u64,
}

/// Phone side: the `ADVSignedDeviceIdentityHMAC` bytes for `pair-success`.
pub fn issue_device_identity(
    account: &KeyPair,
    companion_identity: &PublicKey,
    adv_secret: &[u8; 32],
    grant: DeviceIdentityGrant,
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    let details = DeviceIdentity {
        raw_id: grant.raw_id,
        timestamp: grant.timestamp,
        key_index: grant.key_index,
        hosted_account: false,
        hosted_device: false,
    }
    .encode();
    let message = [
        &ACCOUNT_SIGNATURE_PREFIX[..],
        &details,
        companion_identity.as_bytes(),
    ]
    .concat();
    let signed = AdvSignedDeviceIdentity {
        details: Some(details),
        account_signature_key: Some(account.public.as_bytes().to_vec()),
        account_signature: Some(account.private.sign(&message, rng).to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    AdvSignedDeviceIdentityHmac {
        hmac: Some(hmac_sha256(adv_secret, &[&signed]).to_vec()),
        details: Some(signed),
        account_type: Some(AdvEncryptionType::E2ee as i32),
    }
    .encode_to_vec()
}

/// Phone/server side: checks a companion's `pair-device-sign` reply — the
/// account signature is ours and the device signature is the companion's.
pub fn verify_device_sign(
    reply: &[u8],
    account_key: &PublicKey,
    companion_identity: &PublicKey,
) -> Result<SignedDeviceIdentity, PairingError> {
    let signed = SignedDeviceIdentity::decode(reply)?;
    signed.verify_account(companion_identity, Some(account_key))?;
    signed.verify_device(companion_identity, account_key)?;
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn setup() -> (StdRng, KeyPair, KeyPair, [u8; 32]) {
        let mut rng = StdRng::seed_from_u64(11);
        let phone = KeyPair::generate(&mut rng);
        let companion = KeyPair::generate(&mut rng);
        (rng, phone, companion, [9; 32])
    }

    const GRANT: DeviceIdentityGrant = DeviceIdentityGrant {
        raw_id: 77,
        key_index: 3,
        timestamp: 1_700_000_000,
    };

    #[test]
    fn phone_and_companion_agree() {
        let (mut rng, phone, companion, secret) = setup();
        let container = issue_device_identity(&phone, &companion.public, &secret, GRANT, &mut rng);
        let success = verify_pair_success(&container, &secret, &companion, &mut rng).unwrap();
        assert_eq!(success.key_index, 3);
        assert_eq!(success.account_identity, phone.public);
        assert_eq!(success.identity.raw_id, 77);

        let checked = verify_device_sign(&success.reply, &phone.public, &companion.public).unwrap();
        assert_eq!(
            checked.account_signature_key, None,
            "reply drops the account key"
        );
        let stored = SignedDeviceIdentity::decode(&success.account).unwrap();
        assert_eq!(stored.account_signature_key, Some(phone.public));
        stored.verify_account(&companion.public, None).unwrap();
        stored
            .verify_device(&companion.public, &phone.public)
            .unwrap();
    }

    #[test]
    fn wrong_secret_is_hmac_mismatch() {
        let (mut rng, phone, companion, secret) = setup();
        let container = issue_device_identity(&phone, &companion.public, &secret, GRANT, &mut rng);
        let err = verify_pair_success(&container, &[8; 32], &companion, &mut rng).unwrap_err();
        assert_eq!(err, PairingError::HmacMismatch);
        assert_eq!(err.iq_error(), (401, "hmac-mismatch"));
    }

    #[test]
    fn identity_for_another_companion_is_signature_mismatch() {
        let (mut rng, phone, companion, secret) = setup();
        let other = KeyPair::generate(&mut rng);
        let container = issue_device_identity(&phone, &other.public, &secret, GRANT, &mut rng);
        let err = verify_pair_success(&container, &secret, &companion, &mut rng).unwrap_err();
        assert_eq!(err, PairingError::AccountSignatureMismatch);
        assert_eq!(err.iq_error(), (401, "signature-mismatch"));
    }

    #[test]
    fn forged_device_signature_is_rejected() {
        let (mut rng, phone, companion, secret) = setup();
        let container = issue_device_identity(&phone, &companion.public, &secret, GRANT, &mut rng);
        let success = verify_pair_success(&container, &secret, &companion, &mut rng).unwrap();
        let mut reply = SignedDeviceIdentity::decode(&success.reply).unwrap();
        let mut signature = reply.device_signature.unwrap();
        signature[5] ^= 1;
        reply.device_signature = Some(signature);
        assert_eq!(
            verify_device_sign(&reply.encode(), &phone.public, &companion.public),
            Err(PairingError::DeviceSignatureMismatch)
        );
        reply.device_signature = None;
        assert_eq!(
            verify_device_sign(&reply.encode(), &phone.public, &companion.public),
            Err(PairingError::Missing("device signature"))
        );
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let (mut rng, _, companion, secret) = setup();
        for bytes in [&b"\xff\xff\xff"[..], &[0x0a, 0x05, 1], &[]] {
            let err = verify_pair_success(bytes, &secret, &companion, &mut rng).unwrap_err();
            assert!(
                matches!(err, PairingError::Malformed(_) | PairingError::Missing(_)),
                "{err:?}"
            );
            assert_eq!(err.iq_error().0, 500);
        }
    }
}
