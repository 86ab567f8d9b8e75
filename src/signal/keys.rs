//! Long-term keys: identity, registration id, signed and one-time pre-keys, and
//! the pre-key bundle a peer publishes so that sessions can be started with it.

use core::fmt;

use rand_core::CryptoRng;

use super::error::{RecordKind, SignalError};
use super::record;
use crate::crypto::{KeyPair, PrivateKey, PublicKey, Signature};
use crate::proto::signal as pb;

/// A device's long-term public identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(PublicKey);

impl IdentityKey {
    /// Wraps a public key.
    pub const fn new(key: PublicKey) -> Self {
        Self(key)
    }

    /// The public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.0
    }

    /// The 33-byte form (`0x05` + key) used inside Signal messages and MACs,
    /// and as this key's stored form.
    pub fn serialize(&self) -> [u8; 33] {
        self.0.to_prefixed()
    }

    /// Parses the stored (33-byte) form.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        PublicKey::from_prefixed(bytes)
            .map(Self)
            .map_err(|_| SignalError::record(RecordKind::IdentityKey, "not a 33-byte public key"))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", hex::encode(self.0.as_bytes()))
    }
}

impl From<PublicKey> for IdentityKey {
    fn from(key: PublicKey) -> Self {
        Self(key)
    }
}

/// Our own identity: the identity key and its private half.
#[derive(Clone)]
pub struct IdentityKeyPair {
    identity_key: IdentityKey,
    private_key: PrivateKey,
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("identity_key", &self.identity_key)
            .finish_non_exhaustive()
    }
}

impl IdentityKeyPair {
    /// Generates a fresh identity.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self::from(KeyPair::generate(rng))
    }

    /// The public identity key.
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The private key (for X3DH and signatures).
    pub const fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }

    /// Serialises as a versioned record.
    pub fn to_bytes(&self) -> Vec<u8> {
        record::encode(&pb::IdentityKeyPairRecord {
            public_key: Some(self.identity_key.serialize().to_vec()),
            private_key: Some(self.private_key.as_bytes().to_vec()),
        })
    }

    /// Parses a record written by [`IdentityKeyPair::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        const KIND: RecordKind = RecordKind::IdentityKeyPair;
        let data: pb::IdentityKeyPairRecord = record::decode(bytes, KIND)?;
        let public = record::public_key(data.public_key.as_deref(), KIND, "public key")?;
        let private = record::private_key(data.private_key.as_deref(), KIND, "private key")?;
        matching_pair(private, public, KIND).map(Self::from)
    }
}

impl From<KeyPair> for IdentityKeyPair {
    fn from(pair: KeyPair) -> Self {
        Self {
            identity_key: IdentityKey(pair.public),
            private_key: pair.private,
        }
    }
}

/// Rebuilds a key pair, refusing a public key that does not belong to the private one.
fn matching_pair(
    private: PrivateKey,
    public: PublicKey,
    kind: RecordKind,
) -> Result<KeyPair, SignalError> {
    let pair = KeyPair::from_private(private);
    if pair.public == public {
        Ok(pair)
    } else {
        Err(SignalError::record(
            kind,
            "public key does not match private key",
        ))
    }
}

/// The 14-bit number a device registers with, repeated in pre-key messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(u32);

impl RegistrationId {
    /// Wraps a known registration id.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// Draws a fresh id in `1..=16383` (14 bits, as libsignal; never 0).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self(rng.next_u32() % 0x3fff + 1)
    }

    /// The number.
    pub const fn value(self) -> u32 {
        self.0
    }
}

/// The id of a one-time pre-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreKeyId(pub u32);

/// The id of a signed pre-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignedPreKeyId(pub u32);

/// A one-time pre-key: used by at most one incoming session, then deleted.
#[derive(Clone, Debug)]
pub struct PreKey {
    /// Its id.
    pub id: PreKeyId,
    /// The key pair.
    pub key_pair: KeyPair,
}

impl PreKey {
    /// Generates a pre-key with the given id.
    pub fn generate(id: PreKeyId, rng: &mut impl CryptoRng) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate(rng),
        }
    }

    /// Serialises as a versioned record.
    pub fn to_bytes(&self) -> Vec<u8> {
        record::encode(&pb::PreKeyRecord {
            id: Some(self.id.0),
            public_key: Some(self.key_pair.public.to_prefixed().to_vec()),
            private_key: Some(self.key_pair.private.as_bytes().to_vec()),
        })
    }

    /// Parses a record written by [`PreKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        const KIND: RecordKind = RecordKind::PreKey;
        let data: pb::PreKeyRecord = record::decode(bytes, KIND)?;
        let id = record::required(data.id, KIND, "id")?;
        let public = record::public_key(data.public_key.as_deref(), KIND, "public key")?;
        let private = record::private_key(data.private_key.as_deref(), KIND, "private key")?;
        Ok(Self {
            id: PreKeyId(id),
            key_pair: matching_pair(private, public, KIND)?,
        })
    }
}

/// The medium-term pre-key, signed by the identity key.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    /// Its id.
    pub id: SignedPreKeyId,
    /// The key pair.
    pub key_pair: KeyPair,
    /// XEdDSA signature by the identity key over the 33-byte public key.
    pub signature: Signature,
    /// When it was generated (unix seconds, as given by the caller).
    pub timestamp: u64,
}

impl SignedPreKey {
    /// Generates and signs a pre-key; `timestamp` is the caller's `now` in unix seconds.
    pub fn generate(
        id: SignedPreKeyId,
        identity: &IdentityKeyPair,
        timestamp: u64,
        rng: &mut impl CryptoRng,
    ) -> Self {
        let key_pair = KeyPair::generate(rng);
        let signature = identity
            .private_key()
            .sign(&key_pair.public.to_prefixed(), rng);
        Self {
            id,
            key_pair,
            signature,
            timestamp,
        }
    }

    /// Serialises as a versioned record.
    pub fn to_bytes(&self) -> Vec<u8> {
        record::encode(&pb::SignedPreKeyRecord {
            id: Some(self.id.0),
            public_key: Some(self.key_pair.public.to_prefixed().to_vec()),
            private_key: Some(self.key_pair.private.as_bytes().to_vec()),
            signature: Some(self.signature.to_vec()),
            timestamp: Some(self.timestamp),
        })
    }

    /// Parses a record written by [`SignedPreKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignalError> {
        const KIND: RecordKind = RecordKind::SignedPreKey;
        let data: pb::SignedPreKeyRecord = record::decode(bytes, KIND)?;
        let id = record::required(data.id, KIND, "id")?;
        let public = record::public_key(data.public_key.as_deref(), KIND, "public key")?;
        let private = record::private_key(data.private_key.as_deref(), KIND, "private key")?;
        let signature = data
            .signature
            .as_deref()
            .and_then(|bytes| Signature::try_from(bytes).ok())
            .ok_or(SignalError::record(KIND, "signature"))?;
        Ok(Self {
            id: SignedPreKeyId(id),
            key_pair: matching_pair(private, public, KIND)?,
            signature,
            timestamp: data.timestamp.unwrap_or(0),
        })
    }
}

/// What a peer publishes (and the server hands out) to let others start a
/// session with one of its devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// The device's registration id.
    pub registration_id: RegistrationId,
    /// The device number.
    pub device_id: u32,
    /// The device's identity key.
    pub identity_key: IdentityKey,
    /// The signed pre-key's id.
    pub signed_pre_key_id: SignedPreKeyId,
    /// The signed pre-key.
    pub signed_pre_key: PublicKey,
    /// The identity key's signature over the 33-byte signed pre-key.
    pub signed_pre_key_signature: Signature,
    /// A one-time pre-key, when the server still had one.
    pub pre_key: Option<(PreKeyId, PublicKey)>,
}

impl PreKeyBundle {
    /// Checks the signed pre-key's signature against the identity key.
    pub fn verify_signature(&self) -> Result<(), SignalError> {
        let signed = self.signed_pre_key.to_prefixed();
        if self
            .identity_key
            .public_key()
            .verify(&signed, &self.signed_pre_key_signature)
        {
            Ok(())
        } else {
            Err(SignalError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn signed_pre_key_signature_verifies_over_prefixed_key() {
        let mut rng = StdRng::seed_from_u64(1);
        let identity = IdentityKeyPair::generate(&mut rng);
        let spk = SignedPreKey::generate(SignedPreKeyId(7), &identity, 1_700_000_000, &mut rng);
        let public = identity.identity_key().public_key();
        assert!(public.verify(&spk.key_pair.public.to_prefixed(), &spk.signature));
        // The raw 32-byte key is not what is signed.
        assert!(!public.verify(spk.key_pair.public.as_bytes(), &spk.signature));
    }

    #[test]
    fn registration_ids_are_14_bit_and_non_zero() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..1000 {
            let id = RegistrationId::generate(&mut rng).value();
            assert!((1..=0x3fff).contains(&id), "{id}");
        }
    }

    #[test]
    fn key_records_round_trip() {
        let mut rng = StdRng::seed_from_u64(3);
        let identity = IdentityKeyPair::generate(&mut rng);
        let back = IdentityKeyPair::from_bytes(&identity.to_bytes()).unwrap();
        assert_eq!(back.identity_key(), identity.identity_key());
        assert_eq!(
            back.private_key().as_bytes(),
            identity.private_key().as_bytes()
        );

        let pre_key = PreKey::generate(PreKeyId(99), &mut rng);
        let back = PreKey::from_bytes(&pre_key.to_bytes()).unwrap();
        assert_eq!(back.id, PreKeyId(99));
        assert_eq!(back.key_pair.public, pre_key.key_pair.public);

        let spk = SignedPreKey::generate(SignedPreKeyId(5), &identity, 42, &mut rng);
        let back = SignedPreKey::from_bytes(&spk.to_bytes()).unwrap();
        assert_eq!(
            (back.id, back.signature, back.timestamp),
            (spk.id, spk.signature, 42)
        );
        assert_eq!(back.key_pair.public, spk.key_pair.public);

        let key = *identity.identity_key();
        assert_eq!(IdentityKey::deserialize(&key.serialize()).unwrap(), key);
    }
}
