use core::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;

/// The type byte that prefixes Curve25519 public keys inside Signal structures.
const DJB_TYPE: u8 = 0x05;

/// Length of an XEdDSA signature.
pub const SIGNATURE_LEN: usize = 64;

/// A 64-byte XEdDSA signature.
pub type Signature = [u8; SIGNATURE_LEN];

/// A Curve25519 public key (the Montgomery u-coordinate, 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

/// A clamped Curve25519 private key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

/// A private key with its public key.
#[derive(Clone)]
pub struct KeyPair {
    /// The private half.
    pub private: PrivateKey,
    /// The public half.
    pub public: PublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 32 raw bytes, or 33 bytes starting with the `0x05` type byte.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.len() {
            32 => {
                let mut out = [0u8; 32];
                out.copy_from_slice(bytes);
                Ok(Self(out))
            }
            33 => Self::from_prefixed(bytes),
            n => Err(CryptoError::PublicKeyLength(n)),
        }
    }

    /// Parses exactly 33 bytes: `0x05` followed by the key.
    pub fn from_prefixed(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 33 {
            return Err(CryptoError::PublicKeyLength(bytes.len()));
        }
        if bytes[0] != DJB_TYPE {
            return Err(CryptoError::PublicKeyType(bytes[0]));
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&bytes[1..]);
        Ok(Self(out))
    }

    /// The raw 32 bytes (as on the WhatsApp XML wire).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 33-byte form with the `0x05` type byte (as inside Signal messages).
    pub fn to_prefixed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = DJB_TYPE;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// Verifies an XEdDSA signature made with the matching private key.
    ///
    /// Follows libsignal: the Edwards sign bit travels in the top bit of the
    /// signature's last byte; `s` must be canonical.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        let sign_bit = (signature[63] & 0x80) >> 7;
        let Some(a_point) = MontgomeryPoint(self.0).to_edwards(sign_bit) else {
            return false;
        };
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&signature[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&signature[32..]);
        s_bytes[31] &= 0x7f;
        if s_bytes[31] & 0xe0 != 0 {
            return false;
        }
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let a_compressed = a_point.compress();
        let h = hash_to_scalar(&[&r_bytes, a_compressed.as_bytes(), message]);
        let r_check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&h, &-a_point, &s);
        bool::from(
            r_check
                .compress()
                .as_bytes()
                .ct_eq(CompressedEdwardsY(r_bytes).as_bytes()),
        )
    }
}

impl PrivateKey {
    /// Takes 32 bytes and clamps them as X25519 does.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        Self(bytes)
    }

    /// Parses 32 bytes (clamping them).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::PrivateKeyLength(bytes.len()))?;
        Ok(Self::from_bytes(array))
    }

    /// Draws a fresh private key from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let key = Self::from_bytes(bytes);
        bytes.zeroize();
        key
    }

    /// The clamped private scalar bytes (for persistence).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }

    /// X25519 agreement with `their` public key.
    pub fn agree(&self, their: &PublicKey) -> [u8; 32] {
        MontgomeryPoint(their.0).mul_clamped(self.0).to_bytes()
    }

    /// XEdDSA signature over `message`, compatible with libsignal's
    /// `calculateSignature` (64 random bytes go into the nonce hash).
    pub fn sign(&self, message: &[u8], rng: &mut impl CryptoRng) -> Signature {
        let mut random = [0u8; 64];
        rng.fill_bytes(&mut random);
        let signature = self.sign_with_nonce_randomness(message, &random);
        random.zeroize();
        signature
    }

    /// Deterministic core of [`PrivateKey::sign`], separated for known-answer tests.
    pub(crate) fn sign_with_nonce_randomness(
        &self,
        message: &[u8],
        random: &[u8; 64],
    ) -> Signature {
        let a = Scalar::from_bytes_mod_order(self.0);
        let a_point = EdwardsPoint::mul_base(&a).compress();
        let sign_bit = a_point.as_bytes()[31] & 0x80;

        let mut prefix = [0xffu8; 32];
        prefix[0] = 0xfe;
        let r = hash_to_scalar(&[&prefix, &self.0, message, random]);
        let r_point = EdwardsPoint::mul_base(&r).compress();
        let h = hash_to_scalar(&[r_point.as_bytes(), a_point.as_bytes(), message]);
        let s = h * a + r;

        let mut signature = [0u8; SIGNATURE_LEN];
        signature[..32].copy_from_slice(r_point.as_bytes());
        signature[32..].copy_from_slice(s.as_bytes());
        signature[63] &= 0x7f;
        signature[63] |= sign_bit;
        signature
    }
}

impl KeyPair {
    /// Generates a fresh key pair.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self::from_private(PrivateKey::generate(rng))
    }

    /// Derives the public key of `private`.
    pub fn from_private(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self { private, public }
    }
}

fn hash_to_scalar(parts: &[&[u8]]) -> Scalar {
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part);
    }
    let digest: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7748 section 6.1 Diffie-Hellman vector.
    #[test]
    fn x25519_rfc7748() {
        let alice = PrivateKey::from_slice(
            &hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .unwrap(),
        )
        .unwrap();
        let bob_pub = PublicKey::from_slice(
            &hex::decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            hex::encode(alice.public_key().as_bytes()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        assert_eq!(
            hex::encode(alice.agree(&bob_pub)),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        );
    }

    #[test]
    fn prefixed_round_trip_and_errors() {
        let key = PublicKey::from_bytes([7; 32]);
        let prefixed = key.to_prefixed();
        assert_eq!(prefixed[0], 0x05);
        assert_eq!(PublicKey::from_slice(&prefixed).unwrap(), key);
        assert_eq!(
            PublicKey::from_slice(&[1; 31]),
            Err(CryptoError::PublicKeyLength(31))
        );
        let mut bad = prefixed;
        bad[0] = 0x06;
        assert_eq!(
            PublicKey::from_slice(&bad),
            Err(CryptoError::PublicKeyType(0x06))
        );
    }

    /// Vectors produced by the `curve25519-js` code that the `libsignal` npm
    /// package signs with (private key bytes `i * 7 + 1`, nonce randomness 64 × 0x42).
    const KAT_PRIVATE: &str = "00080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd35a";
    const KAT_PUBLIC: &str = "c8feca81be196cdf2cadeabf13c4903d7632dce4955aa68b6e5d9adef54e2616";
    const KAT_MESSAGE: &[u8] = b"wa-wasm xeddsa known answer";
    const KAT_SIGNATURE: &str = "7ffb733db1982b993576c2bbbe2b5baf8b072adb9ee1a5938c6b4b458cbe324fefe92a59ff378130f2ebaac129c6c27b777e573f6c6c05724cc3b83133efad86";
    /// A signature made by `libsignal`'s `calculateSignature` with its own randomness.
    const KAT_LIBSIGNAL_SIGNATURE: &str = "e3be454b7b2673e7b485eb161701afdd146aabb60d988ccd1733de7c891deae367e0505a382045fb76248bbf02f491cd20f78eb596193858c80af0f99020808d";

    fn kat_key() -> KeyPair {
        KeyPair::from_private(PrivateKey::from_slice(&hex::decode(KAT_PRIVATE).unwrap()).unwrap())
    }

    #[test]
    fn xeddsa_sign_matches_libsignal_bytes() {
        let key = kat_key();
        assert_eq!(hex::encode(key.public.as_bytes()), KAT_PUBLIC);
        let signature = key
            .private
            .sign_with_nonce_randomness(KAT_MESSAGE, &[0x42; 64]);
        assert_eq!(hex::encode(signature), KAT_SIGNATURE);
    }

    #[test]
    fn xeddsa_verifies_external_signatures() {
        let key = kat_key();
        for sig in [KAT_SIGNATURE, KAT_LIBSIGNAL_SIGNATURE] {
            let sig = hex::decode(sig).unwrap();
            assert!(key.public.verify(KAT_MESSAGE, &sig));
            assert!(!key.public.verify(b"another message", &sig));
            let mut flipped = sig.clone();
            flipped[10] ^= 1;
            assert!(!key.public.verify(KAT_MESSAGE, &flipped));
            let mut sign_bit = sig.clone();
            sign_bit[63] ^= 0x80;
            assert!(!key.public.verify(KAT_MESSAGE, &sign_bit));
        }
        assert!(!key.public.verify(KAT_MESSAGE, &[0u8; 63]));
    }

    #[test]
    fn xeddsa_round_trip_random_keys() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..32 {
            let key = KeyPair::generate(&mut rng);
            let sig = key.private.sign(b"msg", &mut rng);
            assert!(key.public.verify(b"msg", &sig));
            let other = KeyPair::generate(&mut rng);
            assert!(!other.public.verify(b"msg", &sig));
        }
    }
}
