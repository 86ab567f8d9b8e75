//! [`Credentials`]: the key material and identity a linked device keeps, and
//! their versioned byte format: one version byte, a `store.CredentialsRecord`
//! protobuf (`proto/store.proto`), and a 4-byte checksum (the start of
//! SHA-256 over everything before it). Protobuf alone would accept a record
//! cut at a field boundary, silently dropping the fields after the cut; the
//! checksum turns any truncation or bit flip into an error.

use core::fmt;

use prost::Message;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{KeyPair, PrivateKey, PublicKey, Signature};
use crate::proto::store as record;
use crate::proto::wa;
use crate::signal::{IdentityKeyPair, SignedPreKey, SignedPreKeyId};

/// The current version byte of the credentials record.
pub const CREDENTIALS_FORMAT_VERSION: u8 = 1;

/// Length of the checksum that ends a credentials record.
const CHECKSUM_LEN: usize = 4;

/// Registration ids are 14-bit, as libsignal generates them.
const REGISTRATION_ID_MASK: u32 = 0x3FFF;

/// Why stored credentials (or an account identity) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The record has no bytes at all.
    #[error("credentials record is empty")]
    Empty,
    /// The leading version byte is not one this build reads.
    #[error("unsupported credentials format version {0}")]
    UnsupportedVersion(u8),
    /// The checksum does not match: the record was truncated or altered.
    #[error("credentials record checksum mismatch (truncated or corrupted)")]
    ChecksumMismatch,
    /// The protobuf body does not parse.
    #[error("malformed credentials record: {0}")]
    Malformed(String),
    /// A required field is absent.
    #[error("credentials field `{0}` is missing")]
    MissingField(&'static str),
    /// A fixed-size field has the wrong size.
    #[error("credentials field `{field}` must be {expected} bytes, got {actual}")]
    FieldLength {
        /// The field.
        field: &'static str,
        /// Its required size.
        expected: usize,
        /// The size found.
        actual: usize,
    },
    /// The signed pre-key's signature does not verify with the identity key.
    #[error("signed pre-key signature does not verify with the identity key")]
    BadSignedPreKeySignature,
}

/// The 32-byte secret shown in the QR code, keying the HMAC of the pairing
/// result. Zeroed on drop; its `Debug` form hides it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AdvSecret([u8; 32]);

impl AdvSecret {
    /// Wraps 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh secret from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The secret bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for AdvSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for AdvSecret {}

impl fmt::Debug for AdvSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdvSecret(..)")
    }
}

/// The account's signed statement that this device belongs to it (the
/// `ADVSignedDeviceIdentity` received at pairing), with our device signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountIdentity {
    /// The serialized `ADVDeviceIdentity`, byte for byte as signed.
    pub details: Vec<u8>,
    /// The primary device's identity key, which made `account_signature`.
    pub account_signature_key: PublicKey,
    /// The primary device's signature over the details and our identity key.
    pub account_signature: Signature,
    /// Our signature over the details, our identity key and the account key.
    pub device_signature: Signature,
}

impl AccountIdentity {
    /// Encodes the `ADVSignedDeviceIdentity` protobuf. Messages carry it with
    /// the account signature key; the `pair-device-sign` reply without it.
    pub fn encode_signed_identity(&self, include_account_signature_key: bool) -> Vec<u8> {
        wa::AdvSignedDeviceIdentity {
            details: Some(self.details.clone()),
            account_signature_key: include_account_signature_key
                .then(|| self.account_signature_key.as_bytes().to_vec()),
            account_signature: Some(self.account_signature.to_vec()),
            device_signature: Some(self.device_signature.to_vec()),
        }
        .encode_to_vec()
    }

    /// Decodes an `ADVSignedDeviceIdentity` protobuf that has every field.
    pub fn decode_signed_identity(bytes: &[u8]) -> Result<Self, CredentialsError> {
        let message = wa::AdvSignedDeviceIdentity::decode(bytes)
            .map_err(|e| CredentialsError::Malformed(e.to_string()))?;
        Self::from_parts(
            message.details,
            message.account_signature_key,
            message.account_signature,
            message.device_signature,
        )
    }

    fn from_parts(
        details: Option<Vec<u8>>,
        account_signature_key: Option<Vec<u8>>,
        account_signature: Option<Vec<u8>>,
        device_signature: Option<Vec<u8>>,
    ) -> Result<Self, CredentialsError> {
        let key = required("account.account_signature_key", account_signature_key)?;
        Ok(Self {
            details: required("account.details", details)?,
            account_signature_key: PublicKey::from_bytes(fixed(
                "account.account_signature_key",
                &key,
            )?),
            account_signature: fixed(
                "account.account_signature",
                &required("account.account_signature", account_signature)?,
            )?,
            device_signature: fixed(
                "account.device_signature",
                &required("account.device_signature", device_signature)?,
            )?,
        })
    }
}

/// Everything a linked device must keep between runs.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The Noise static key pair (its public key is in the QR code).
    pub noise_key: KeyPair,
    /// The Signal identity key pair.
    pub identity_key: KeyPair,
    /// The current signed pre-key.
    pub signed_pre_key: SignedPreKey,
    /// The Signal registration id.
    pub registration_id: u32,
    /// The secret shown in the QR code.
    pub adv_secret: AdvSecret,
    /// The id the next generated one-time pre-key gets.
    pub next_pre_key_id: u32,
    /// The lowest pre-key id not yet uploaded to the server.
    pub first_unuploaded_pre_key_id: u32,
    /// Our device JID as text (e.g. `15551234567:12@s.whatsapp.net`); `None`
    /// until pairing succeeded.
    pub me: Option<String>,
    /// Our own LID device JID as text (e.g. `12345678901234:12@lid`).
    pub lid: Option<String>,
    /// The account's signed device identity from pairing.
    pub account: Option<AccountIdentity>,
    /// The primary device's platform (`<platform name>` at pairing).
    pub platform: Option<String>,
    /// The business name (`<biz name>` at pairing), for business accounts.
    pub business_name: Option<String>,
    /// The push name shown to contacts.
    pub push_name: Option<String>,
    /// When these credentials were made, unix seconds.
    pub created_at: u64,
}

impl Credentials {
    /// Makes fresh credentials as a new device does before its first QR code:
    /// Noise and identity key pairs, signed pre-key 1, a 14-bit non-zero
    /// registration id and a 32-byte adv secret. `now` is unix seconds.
    pub fn generate(rng: &mut impl CryptoRng, now: u64) -> Self {
        let noise_key = KeyPair::generate(rng);
        let identity_key = KeyPair::generate(rng);
        let signed_pre_key = SignedPreKey::generate(
            SignedPreKeyId(1),
            &IdentityKeyPair::from(identity_key.clone()),
            now,
            rng,
        );
        let registration_id = generate_registration_id(rng);
        let adv_secret = AdvSecret::generate(rng);
        Self {
            noise_key,
            identity_key,
            signed_pre_key,
            registration_id,
            adv_secret,
            next_pre_key_id: 1,
            first_unuploaded_pre_key_id: 1,
            me: None,
            lid: None,
            account: None,
            platform: None,
            business_name: None,
            push_name: None,
            created_at: now,
        }
    }

    /// The identity key pair in the form the Signal layer takes.
    pub fn identity_key_pair(&self) -> IdentityKeyPair {
        IdentityKeyPair::from(self.identity_key.clone())
    }

    /// Whether the signed pre-key's signature verifies with the identity key.
    pub fn signed_pre_key_is_valid(&self) -> bool {
        signed_pre_key_verifies(&self.signed_pre_key, &self.identity_key.public)
    }

    /// Whether pairing finished: the device knows its JID and holds the
    /// account's signed identity.
    pub fn is_registered(&self) -> bool {
        self.me.is_some() && self.account.is_some()
    }

    /// The versioned byte form stored under [`super::keys::CREDENTIALS`].
    pub fn encode(&self) -> Vec<u8> {
        let body = record::CredentialsRecord {
            noise_private_key: self.noise_key.private.as_bytes().to_vec(),
            identity_private_key: self.identity_key.private.as_bytes().to_vec(),
            signed_pre_key: Some(record::SignedPreKeyRecord {
                id: self.signed_pre_key.id.0,
                private_key: self.signed_pre_key.key_pair.private.as_bytes().to_vec(),
                signature: self.signed_pre_key.signature.to_vec(),
                created_at: self.signed_pre_key.timestamp,
            }),
            registration_id: self.registration_id,
            adv_secret: self.adv_secret.as_bytes().to_vec(),
            next_pre_key_id: self.next_pre_key_id,
            first_unuploaded_pre_key_id: self.first_unuploaded_pre_key_id,
            me: self.me.clone(),
            lid: self.lid.clone(),
            account: self
                .account
                .as_ref()
                .map(|account| record::AccountIdentityRecord {
                    details: account.details.clone(),
                    account_signature_key: account.account_signature_key.as_bytes().to_vec(),
                    account_signature: account.account_signature.to_vec(),
                    device_signature: account.device_signature.to_vec(),
                }),
            platform: self.platform.clone(),
            business_name: self.business_name.clone(),
            push_name: self.push_name.clone(),
            created_at: self.created_at,
        };
        let mut out = Vec::with_capacity(1 + body.encoded_len() + CHECKSUM_LEN);
        out.push(CREDENTIALS_FORMAT_VERSION);
        body.encode_raw(&mut out);
        let checksum = checksum(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// Parses [`Credentials::encode`]'s output, checking every field's size
    /// and the signed pre-key's signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, CredentialsError> {
        let (&version, _) = bytes.split_first().ok_or(CredentialsError::Empty)?;
        if version != CREDENTIALS_FORMAT_VERSION {
            return Err(CredentialsError::UnsupportedVersion(version));
        }
        let split = bytes
            .len()
            .checked_sub(CHECKSUM_LEN)
            .filter(|&split| split >= 1)
            .ok_or(CredentialsError::ChecksumMismatch)?;
        let (content, stored_checksum) = bytes.split_at(split);
        if checksum(content) != stored_checksum {
            return Err(CredentialsError::ChecksumMismatch);
        }
        let body = record::CredentialsRecord::decode(content.get(1..).unwrap_or_default())
            .map_err(|e| CredentialsError::Malformed(e.to_string()))?;
        let identity_key = key_pair("identity_private_key", &body.identity_private_key)?;
        let signed = required("signed_pre_key", body.signed_pre_key)?;
        let signed_pre_key = SignedPreKey {
            id: SignedPreKeyId(signed.id),
            key_pair: key_pair("signed_pre_key.private_key", &signed.private_key)?,
            signature: fixed("signed_pre_key.signature", &signed.signature)?,
            timestamp: signed.created_at,
        };
        if !signed_pre_key_verifies(&signed_pre_key, &identity_key.public) {
            return Err(CredentialsError::BadSignedPreKeySignature);
        }
        let account = body
            .account
            .map(|account| {
                AccountIdentity::from_parts(
                    Some(account.details),
                    Some(account.account_signature_key),
                    Some(account.account_signature),
                    Some(account.device_signature),
                )
            })
            .transpose()?;
        Ok(Self {
            noise_key: key_pair("noise_private_key", &body.noise_private_key)?,
            identity_key,
            signed_pre_key,
            registration_id: body.registration_id,
            adv_secret: AdvSecret::from_bytes(fixed("adv_secret", &body.adv_secret)?),
            next_pre_key_id: body.next_pre_key_id,
            first_unuploaded_pre_key_id: body.first_unuploaded_pre_key_id,
            me: body.me,
            lid: body.lid,
            account,
            platform: body.platform,
            business_name: body.business_name,
            push_name: body.push_name,
            created_at: body.created_at,
        })
    }
}

/// Whether the identity key signed `0x05 ‖ signed pre-key` (libsignal's form).
fn signed_pre_key_verifies(signed: &SignedPreKey, identity: &PublicKey) -> bool {
    identity.verify(&signed.key_pair.public.to_prefixed(), &signed.signature)
}

/// The first bytes of SHA-256 over `content`.
fn checksum(content: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest: [u8; 32] = Sha256::digest(content).into();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// A 14-bit non-zero id, drawn like libsignal (`random u16 & 0x3FFF`).
fn generate_registration_id(rng: &mut impl CryptoRng) -> u32 {
    // Zero has odds 2^-14 per draw; a few redraws make a fallback unreachable
    // for any working RNG.
    for _ in 0..8 {
        let id = rng.next_u32() & REGISTRATION_ID_MASK;
        if id != 0 {
            return id;
        }
    }
    1
}

fn required<T>(field: &'static str, value: Option<T>) -> Result<T, CredentialsError> {
    value.ok_or(CredentialsError::MissingField(field))
}

fn fixed<const N: usize>(field: &'static str, bytes: &[u8]) -> Result<[u8; N], CredentialsError> {
    bytes.try_into().map_err(|_| CredentialsError::FieldLength {
        field,
        expected: N,
        actual: bytes.len(),
    })
}

fn key_pair(field: &'static str, private: &[u8]) -> Result<KeyPair, CredentialsError> {
    if private.is_empty() {
        return Err(CredentialsError::MissingField(field));
    }
    Ok(KeyPair::from_private(PrivateKey::from_bytes(fixed(
        field, private,
    )?)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Field-by-field equality, private keys included (tests only).
    pub(crate) fn assert_same(a: &Credentials, b: &Credentials) {
        assert_eq!(
            a.noise_key.private.as_bytes(),
            b.noise_key.private.as_bytes()
        );
        assert_eq!(a.noise_key.public, b.noise_key.public);
        assert_eq!(
            a.identity_key.private.as_bytes(),
            b.identity_key.private.as_bytes()
        );
        assert_eq!(a.identity_key.public, b.identity_key.public);
        assert_eq!(a.signed_pre_key.id, b.signed_pre_key.id);
        assert_eq!(
            a.signed_pre_key.key_pair.private.as_bytes(),
            b.signed_pre_key.key_pair.private.as_bytes()
        );
        assert_eq!(a.signed_pre_key.signature, b.signed_pre_key.signature);
        assert_eq!(a.signed_pre_key.timestamp, b.signed_pre_key.timestamp);
        assert_eq!(a.registration_id, b.registration_id);
        assert_eq!(a.adv_secret, b.adv_secret);
        assert_eq!(a.next_pre_key_id, b.next_pre_key_id);
        assert_eq!(a.first_unuploaded_pre_key_id, b.first_unuploaded_pre_key_id);
        assert_eq!(a.me, b.me);
        assert_eq!(a.lid, b.lid);
        assert_eq!(a.account, b.account);
        assert_eq!(a.platform, b.platform);
        assert_eq!(a.business_name, b.business_name);
        assert_eq!(a.push_name, b.push_name);
        assert_eq!(a.created_at, b.created_at);
    }

    pub(crate) fn registered(seed: u64) -> Credentials {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut creds = Credentials::generate(&mut rng, 1_700_000_000);
        creds.me = Some("15551234567:12@s.whatsapp.net".into());
        creds.lid = Some("98765432109876:12@lid".into());
        creds.account = Some(AccountIdentity {
            details: vec![0x08, 0x01, 0x10, 0x02],
            account_signature_key: PublicKey::from_bytes([0x33; 32]),
            account_signature: [0x44; 64],
            device_signature: [0x55; 64],
        });
        creds.platform = Some("smba".into());
        creds.business_name = Some("Café Ñandú".into());
        creds.push_name = Some("Front desk".into());
        creds.next_pre_key_id = 813;
        creds.first_unuploaded_pre_key_id = 813;
        creds
    }

    #[test]
    fn generate_makes_a_fresh_unregistered_device() {
        let mut rng = StdRng::seed_from_u64(1);
        let creds = Credentials::generate(&mut rng, 1_700_000_123);
        assert!(!creds.is_registered());
        assert_eq!(creds.signed_pre_key.id, SignedPreKeyId(1));
        assert!(creds.signed_pre_key_is_valid());
        // The signature covers the 0x05-prefixed key, not the raw one.
        assert!(!creds.identity_key.public.verify(
            creds.signed_pre_key.key_pair.public.as_bytes(),
            &creds.signed_pre_key.signature
        ));
        assert!((1..=0x3FFF).contains(&creds.registration_id));
        assert_eq!(creds.next_pre_key_id, 1);
        assert_eq!(creds.first_unuploaded_pre_key_id, 1);
        assert_eq!(creds.created_at, 1_700_000_123);
        assert_eq!(creds.signed_pre_key.timestamp, 1_700_000_123);
        assert_ne!(creds.noise_key.public, creds.identity_key.public);
        assert_ne!(creds.adv_secret.as_bytes(), &[0u8; 32]);
        let other = Credentials::generate(&mut rng, 1_700_000_123);
        assert_ne!(other.adv_secret, creds.adv_secret);
    }

    #[test]
    fn registration_ids_are_14_bit_and_spread() {
        let mut rng = StdRng::seed_from_u64(2);
        let ids: Vec<u32> = (0..2000)
            .map(|_| generate_registration_id(&mut rng))
            .collect();
        assert!(ids.iter().all(|id| (1..=0x3FFF).contains(id)));
        assert!(ids.iter().any(|&id| id > 0x2000), "top bit of 14 never set");
    }

    /// An RNG stuck at zero still yields a valid (non-zero) id.
    #[test]
    fn registration_id_never_zero() {
        struct Zero;
        impl rand_core::TryRng for Zero {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0)
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                dst.fill(0);
                Ok(())
            }
        }
        impl rand_core::TryCryptoRng for Zero {}
        assert_eq!(generate_registration_id(&mut Zero), 1);
    }

    #[test]
    fn is_registered_needs_me_and_account() {
        let mut creds = registered(3);
        assert!(creds.is_registered());
        let account = creds.account.take();
        assert!(!creds.is_registered());
        creds.account = account;
        creds.me = None;
        assert!(!creds.is_registered());
    }

    #[test]
    fn round_trip_registered_and_fresh() {
        let creds = registered(4);
        let bytes = creds.encode();
        assert_eq!(bytes.first(), Some(&CREDENTIALS_FORMAT_VERSION));
        assert_same(&Credentials::decode(&bytes).unwrap(), &creds);

        let fresh = Credentials::generate(&mut StdRng::seed_from_u64(5), 9);
        assert_same(&Credentials::decode(&fresh.encode()).unwrap(), &fresh);
    }

    /// The storage format, byte for byte, written out by hand from
    /// `proto/store.proto` (a change here breaks stored sessions).
    #[test]
    fn encoding_known_answer() {
        let mut creds = Credentials {
            noise_key: KeyPair::from_private(PrivateKey::from_bytes([0x40; 32])),
            identity_key: KeyPair::from_private(PrivateKey::from_bytes([0x48; 32])),
            signed_pre_key: SignedPreKey {
                id: SignedPreKeyId(7),
                key_pair: KeyPair::from_private(PrivateKey::from_bytes([0x50; 32])),
                signature: [0x11; 64],
                timestamp: 1_700_000_000,
            },
            registration_id: 0x1234,
            adv_secret: AdvSecret::from_bytes([0x22; 32]),
            next_pre_key_id: 1,
            first_unuploaded_pre_key_id: 1,
            me: Some("1:2@s.whatsapp.net".into()),
            lid: None,
            account: Some(AccountIdentity {
                details: vec![0x08, 0x01],
                account_signature_key: PublicKey::from_bytes([0x33; 32]),
                account_signature: [0x44; 64],
                device_signature: [0x55; 64],
            }),
            platform: None,
            business_name: None,
            push_name: Some("A".into()),
            created_at: 1_700_000_000,
        };
        let expected = concat!(
            "01",
            "0a20",
            "4040404040404040404040404040404040404040404040404040404040404040",
            "1220",
            "4848484848484848484848484848484848484848484848484848484848484848",
            "1a6c",
            "0807",
            "1220",
            "5050505050505050505050505050505050505050505050505050505050505050",
            "1a40",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "2080e2cfaa06",
            "20b424",
            "2a20",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "3001",
            "3801",
            "4212",
            "313a3240732e77686174736170702e6e6574",
            "52aa01",
            "0a020801",
            "1220",
            "3333333333333333333333333333333333333333333333333333333333333333",
            "1a40",
            "4444444444444444444444444444444444444444444444444444444444444444",
            "4444444444444444444444444444444444444444444444444444444444444444",
            "2240",
            "5555555555555555555555555555555555555555555555555555555555555555",
            "5555555555555555555555555555555555555555555555555555555555555555",
            "6a0141",
            "7080e2cfaa06",
            // SHA-256 of all the above, first 4 bytes.
            "920830f8",
        );
        assert_eq!(hex::encode(creds.encode()), expected);
        // The signature above is not real, which decoding notices.
        assert_eq!(
            Credentials::decode(&hex::decode(expected).unwrap()).err(),
            Some(CredentialsError::BadSignedPreKeySignature)
        );
        // With a real signature the same layout decodes.
        let mut rng = StdRng::seed_from_u64(6);
        creds.signed_pre_key.signature = creds.identity_key.private.sign(
            &creds.signed_pre_key.key_pair.public.to_prefixed(),
            &mut rng,
        );
        assert_same(&Credentials::decode(&creds.encode()).unwrap(), &creds);
    }

    /// Version byte + `body` + checksum.
    fn seal(body: &[u8]) -> Vec<u8> {
        let mut out = vec![CREDENTIALS_FORMAT_VERSION];
        out.extend_from_slice(body);
        let sum = checksum(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// The protobuf body of an encoded record.
    fn body_of(encoded: &[u8]) -> record::CredentialsRecord {
        record::CredentialsRecord::decode(&encoded[1..encoded.len() - CHECKSUM_LEN]).unwrap()
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let good = registered(7).encode();
        assert_eq!(
            Credentials::decode(&[]).err(),
            Some(CredentialsError::Empty)
        );
        let mut wrong_version = good.clone();
        wrong_version[0] = 2;
        assert_eq!(
            Credentials::decode(&wrong_version).err(),
            Some(CredentialsError::UnsupportedVersion(2))
        );
        for short in [&[1u8][..], &[1, 2, 3, 4], &[1, 2, 3, 4, 5]] {
            assert_eq!(
                Credentials::decode(short).err(),
                Some(CredentialsError::ChecksumMismatch)
            );
        }
        assert!(matches!(
            Credentials::decode(&seal(&[0x0a, 0x40, 1, 2])),
            Err(CredentialsError::Malformed(_))
        ));
        // No body: every key is missing.
        assert_eq!(
            Credentials::decode(&seal(&[])).err(),
            Some(CredentialsError::MissingField("identity_private_key"))
        );
        // A 31-byte noise key.
        let mut record = body_of(&good);
        record.noise_private_key.pop();
        assert_eq!(
            Credentials::decode(&seal(&record.encode_to_vec())).err(),
            Some(CredentialsError::FieldLength {
                field: "noise_private_key",
                expected: 32,
                actual: 31
            })
        );
        // No signed pre-key.
        let mut record = body_of(&good);
        record.signed_pre_key = None;
        assert_eq!(
            Credentials::decode(&seal(&record.encode_to_vec())).err(),
            Some(CredentialsError::MissingField("signed_pre_key"))
        );
        // A truncated account signature.
        let mut record = body_of(&good);
        if let Some(account) = record.account.as_mut() {
            account.account_signature.truncate(10);
        }
        assert_eq!(
            Credentials::decode(&seal(&record.encode_to_vec())).err(),
            Some(CredentialsError::FieldLength {
                field: "account.account_signature",
                expected: 64,
                actual: 10
            })
        );
        // The untouched body re-sealed still decodes (the helpers are sound).
        assert!(Credentials::decode(&seal(&body_of(&good).encode_to_vec())).is_ok());
    }

    /// Protobuf would accept a record cut at a field boundary; the checksum
    /// does not.
    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let good = registered(8).encode();
        for len in 0..good.len() {
            assert!(Credentials::decode(&good[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let good = registered(11).encode();
        for index in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                bad[index] ^= bit;
                assert!(
                    Credentials::decode(&bad).is_err(),
                    "byte {index} bit {bit:#x}"
                );
            }
        }
    }

    #[test]
    fn signed_identity_wire_forms() {
        let account = registered(9).account.unwrap();
        let with_key = account.encode_signed_identity(true);
        assert_eq!(
            AccountIdentity::decode_signed_identity(&with_key).unwrap(),
            account
        );
        let without_key = account.encode_signed_identity(false);
        let parsed = wa::AdvSignedDeviceIdentity::decode(without_key.as_slice()).unwrap();
        assert_eq!(parsed.account_signature_key, None);
        assert_eq!(parsed.details.as_deref(), Some(&account.details[..]));
        assert_eq!(
            AccountIdentity::decode_signed_identity(&without_key).err(),
            Some(CredentialsError::MissingField(
                "account.account_signature_key"
            ))
        );
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let creds = registered(10);
        let text = format!("{creds:?}");
        assert!(text.contains("AdvSecret(..)"));
        assert!(!text.contains(&hex::encode(creds.identity_key.private.as_bytes())));
    }
}
