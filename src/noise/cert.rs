//! The server's certificate chain (root → intermediate → leaf), checked the way
//! whatsmeow checks it, and a builder for servers (the simulator, tests).

use core::fmt;

use prost::Message;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::crypto::{KeyPair, PrivateKey, PublicKey, SIGNATURE_LEN};
use crate::proto::wa::CertChain;
use crate::proto::wa::cert_chain::NoiseCertificate;
use crate::proto::wa::cert_chain::noise_certificate::Details;

/// WhatsApp's pinned root key (Curve25519), which signs the intermediate certificate.
pub const WA_ROOT_PUBLIC_KEY: PublicKey = PublicKey::from_bytes([
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
]);

/// The issuer serial the intermediate certificate must name (the root's).
const ROOT_SERIAL: u32 = 0;

/// Which certificate of the chain an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertRole {
    /// The intermediate certificate, signed by the root.
    Intermediate,
    /// The leaf certificate, signed by the intermediate; it names the server's static key.
    Leaf,
}

impl fmt::Display for CertRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Intermediate => "intermediate",
            Self::Leaf => "leaf",
        })
    }
}

/// Why a certificate chain was rejected (one variant per check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The decrypted payload is not a `CertChain` protobuf.
    #[error("certificate chain is not a valid protobuf: {0}")]
    MalformedChain(prost::DecodeError),
    /// A certificate or its details are absent.
    #[error("{0} certificate details missing")]
    MissingDetails(CertRole),
    /// A certificate's signature is absent.
    #[error("{0} certificate signature missing")]
    MissingSignature(CertRole),
    /// A signature is not 64 bytes.
    #[error("{cert} certificate signature must be 64 bytes, got {found}")]
    SignatureLength {
        /// The certificate.
        cert: CertRole,
        /// The length received.
        found: usize,
    },
    /// The intermediate's signature does not verify with the pinned root key.
    #[error("intermediate certificate is not signed by the pinned root key")]
    IntermediateNotSignedByRoot,
    /// A certificate's details are not a valid `Details` protobuf.
    #[error("{cert} certificate details are not a valid protobuf: {source}")]
    MalformedDetails {
        /// The certificate.
        cert: CertRole,
        /// What the protobuf decoder said.
        source: prost::DecodeError,
    },
    /// The intermediate does not name the root (serial 0) as its issuer.
    #[error("intermediate issuer serial is {0}, expected 0")]
    IntermediateIssuerSerial(u32),
    /// The intermediate's key is not 32 bytes.
    #[error("intermediate key must be 32 bytes, got {0}")]
    IntermediateKeyLength(usize),
    /// The leaf's signature does not verify with the intermediate's key.
    #[error("leaf certificate is not signed by the intermediate key")]
    LeafNotSignedByIntermediate,
    /// `now` is before a certificate's `not_before`.
    #[error("{cert} certificate not valid before {not_before} (now {now})")]
    NotYetValid {
        /// The certificate.
        cert: CertRole,
        /// Start of validity, unix seconds.
        not_before: u64,
        /// The time checked, unix seconds.
        now: u64,
    },
    /// `now` is after a certificate's `not_after`.
    #[error("{cert} certificate expired at {not_after} (now {now})")]
    Expired {
        /// The certificate.
        cert: CertRole,
        /// End of validity, unix seconds.
        not_after: u64,
        /// The time checked, unix seconds.
        now: u64,
    },
    /// The leaf's issuer serial is not the intermediate's serial.
    #[error("leaf issuer serial is {found}, expected the intermediate serial {expected}")]
    LeafIssuerSerial {
        /// The intermediate's serial.
        expected: u32,
        /// The leaf's issuer serial.
        found: u32,
    },
    /// The leaf names a key other than the static key the server proved in the handshake.
    #[error("leaf certificate key does not match the server's static key")]
    LeafKeyMismatch,
}

/// The fields of one certificate, as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertDetails {
    /// This certificate's serial number.
    pub serial: u32,
    /// The serial of the certificate that signed it (0 = the root).
    pub issuer_serial: u32,
    /// The certified public key.
    pub key: PublicKey,
    /// Start of validity, unix seconds (inclusive).
    pub not_before: u64,
    /// End of validity, unix seconds (inclusive).
    pub not_after: u64,
}

impl CertDetails {
    fn encode(&self) -> Vec<u8> {
        Details {
            serial: Some(self.serial),
            issuer_serial: Some(self.issuer_serial),
            key: Some(self.key.as_bytes().to_vec()),
            not_before: Some(self.not_before),
            not_after: Some(self.not_after),
        }
        .encode_to_vec()
    }
}

/// Proof that a certificate chain passed every check for one server static key.
///
/// Only [`CertVerifier::verify`] creates it (its fields are private); the
/// client handshake keeps it in [`super::VerifiedServerHello`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedServer {
    intermediate: CertDetails,
    leaf: CertDetails,
}

impl VerifiedServer {
    /// The verified intermediate certificate.
    pub fn intermediate(&self) -> &CertDetails {
        &self.intermediate
    }

    /// The verified leaf certificate (its key is the server's static key).
    pub fn leaf(&self) -> &CertDetails {
        &self.leaf
    }
}

/// Checks server certificate chains against a pinned root key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertVerifier {
    root: PublicKey,
}

impl Default for CertVerifier {
    /// Pins [`WA_ROOT_PUBLIC_KEY`].
    fn default() -> Self {
        Self::new(WA_ROOT_PUBLIC_KEY)
    }
}

impl CertVerifier {
    /// Pins `root` (a test server's root, or [`WA_ROOT_PUBLIC_KEY`]).
    pub const fn new(root: PublicKey) -> Self {
        Self { root }
    }

    /// The pinned root key.
    pub fn root(&self) -> &PublicKey {
        &self.root
    }

    /// Verifies a serialized `CertChain` for a server whose static key is
    /// `server_static`, at `now` (unix seconds). Performs whatsmeow's checks in
    /// its order: signature presence and length; intermediate signed by the
    /// root; intermediate issuer serial 0 and 32-byte key; leaf signed by the
    /// intermediate; intermediate validity; leaf issuer serial = intermediate
    /// serial; leaf key = server static; leaf validity.
    pub fn verify(
        &self,
        chain: &[u8],
        server_static: &PublicKey,
        now: u64,
    ) -> Result<VerifiedServer, CertError> {
        let chain = CertChain::decode(chain).map_err(CertError::MalformedChain)?;
        let (intermediate_raw, intermediate_sig) =
            parts(chain.intermediate.as_ref(), CertRole::Intermediate)?;
        let (leaf_raw, leaf_sig) = parts(chain.leaf.as_ref(), CertRole::Leaf)?;
        check_signature_len(intermediate_sig, CertRole::Intermediate)?;
        check_signature_len(leaf_sig, CertRole::Leaf)?;

        if !self.root.verify(intermediate_raw, intermediate_sig) {
            return Err(CertError::IntermediateNotSignedByRoot);
        }
        let intermediate = decode_details(intermediate_raw, CertRole::Intermediate)?;
        let intermediate_issuer = intermediate.issuer_serial.unwrap_or_default();
        if intermediate_issuer != ROOT_SERIAL {
            return Err(CertError::IntermediateIssuerSerial(intermediate_issuer));
        }
        let intermediate_key_bytes = intermediate.key.as_deref().unwrap_or_default();
        let intermediate_key = <[u8; 32]>::try_from(intermediate_key_bytes)
            .map(PublicKey::from_bytes)
            .map_err(|_| CertError::IntermediateKeyLength(intermediate_key_bytes.len()))?;
        if !intermediate_key.verify(leaf_raw, leaf_sig) {
            return Err(CertError::LeafNotSignedByIntermediate);
        }
        let intermediate = CertDetails {
            serial: intermediate.serial.unwrap_or_default(),
            issuer_serial: intermediate_issuer,
            key: intermediate_key,
            not_before: intermediate.not_before.unwrap_or_default(),
            not_after: intermediate.not_after.unwrap_or_default(),
        };
        check_validity(&intermediate, CertRole::Intermediate, now)?;

        let leaf = decode_details(leaf_raw, CertRole::Leaf)?;
        let leaf_issuer = leaf.issuer_serial.unwrap_or_default();
        if leaf_issuer != intermediate.serial {
            return Err(CertError::LeafIssuerSerial {
                expected: intermediate.serial,
                found: leaf_issuer,
            });
        }
        let leaf_key = leaf.key.as_deref().unwrap_or_default();
        if !bool::from(leaf_key.ct_eq(server_static.as_bytes())) {
            return Err(CertError::LeafKeyMismatch);
        }
        let leaf = CertDetails {
            serial: leaf.serial.unwrap_or_default(),
            issuer_serial: leaf_issuer,
            key: *server_static,
            not_before: leaf.not_before.unwrap_or_default(),
            not_after: leaf.not_after.unwrap_or_default(),
        };
        check_validity(&leaf, CertRole::Leaf, now)?;
        Ok(VerifiedServer { intermediate, leaf })
    }
}

fn parts(cert: Option<&NoiseCertificate>, role: CertRole) -> Result<(&[u8], &[u8]), CertError> {
    let details = cert
        .and_then(|c| c.details.as_deref())
        .ok_or(CertError::MissingDetails(role))?;
    let signature = cert
        .and_then(|c| c.signature.as_deref())
        .ok_or(CertError::MissingSignature(role))?;
    Ok((details, signature))
}

fn check_signature_len(signature: &[u8], cert: CertRole) -> Result<(), CertError> {
    if signature.len() == SIGNATURE_LEN {
        Ok(())
    } else {
        Err(CertError::SignatureLength {
            cert,
            found: signature.len(),
        })
    }
}

fn decode_details(raw: &[u8], cert: CertRole) -> Result<Details, CertError> {
    Details::decode(raw).map_err(|source| CertError::MalformedDetails { cert, source })
}

fn check_validity(details: &CertDetails, cert: CertRole, now: u64) -> Result<(), CertError> {
    if now < details.not_before {
        return Err(CertError::NotYetValid {
            cert,
            not_before: details.not_before,
            now,
        });
    }
    if now > details.not_after {
        return Err(CertError::Expired {
            cert,
            not_after: details.not_after,
            now,
        });
    }
    Ok(())
}

/// Builds and signs a certificate chain for a server (the simulator, tests).
///
/// Defaults: intermediate serial 1 issued by the root (serial 0), leaf serial 2
/// issued by the intermediate, both valid for all time. Every field can be
/// changed, including to invalid values, so tests can build broken chains.
#[derive(Debug, Clone)]
pub struct CertChainBuilder<'a> {
    root: &'a PrivateKey,
    intermediate_key: &'a KeyPair,
    intermediate: CertDetails,
    leaf: CertDetails,
}

impl<'a> CertChainBuilder<'a> {
    /// A chain where `root` signs `intermediate`, which certifies `server_static`.
    pub fn new(root: &'a PrivateKey, intermediate: &'a KeyPair, server_static: PublicKey) -> Self {
        Self {
            root,
            intermediate_key: intermediate,
            intermediate: CertDetails {
                serial: 1,
                issuer_serial: ROOT_SERIAL,
                key: intermediate.public,
                not_before: 0,
                not_after: u64::MAX,
            },
            leaf: CertDetails {
                serial: 2,
                issuer_serial: 1,
                key: server_static,
                not_before: 0,
                not_after: u64::MAX,
            },
        }
    }

    /// Sets the intermediate's serial, and the leaf's issuer serial to match.
    #[must_use]
    pub fn intermediate_serial(mut self, serial: u32) -> Self {
        self.intermediate.serial = serial;
        self.leaf.issuer_serial = serial;
        self
    }

    /// Sets the issuer serial written in the intermediate (valid chains use 0).
    #[must_use]
    pub fn intermediate_issuer_serial(mut self, serial: u32) -> Self {
        self.intermediate.issuer_serial = serial;
        self
    }

    /// Sets the intermediate's validity window (unix seconds, inclusive).
    #[must_use]
    pub fn intermediate_validity(mut self, not_before: u64, not_after: u64) -> Self {
        self.intermediate.not_before = not_before;
        self.intermediate.not_after = not_after;
        self
    }

    /// Sets the leaf's serial.
    #[must_use]
    pub fn leaf_serial(mut self, serial: u32) -> Self {
        self.leaf.serial = serial;
        self
    }

    /// Sets the issuer serial written in the leaf (valid chains use the intermediate's serial).
    #[must_use]
    pub fn leaf_issuer_serial(mut self, serial: u32) -> Self {
        self.leaf.issuer_serial = serial;
        self
    }

    /// Sets the leaf's validity window (unix seconds, inclusive).
    #[must_use]
    pub fn leaf_validity(mut self, not_before: u64, not_after: u64) -> Self {
        self.leaf.not_before = not_before;
        self.leaf.not_after = not_after;
        self
    }

    /// The intermediate's details as they will be signed.
    pub fn intermediate_details(&self) -> &CertDetails {
        &self.intermediate
    }

    /// The leaf's details as they will be signed.
    pub fn leaf_details(&self) -> &CertDetails {
        &self.leaf
    }

    /// Signs both certificates (XEdDSA) and returns the serialized `CertChain`,
    /// the payload a server puts in its ServerHello.
    pub fn build(&self, rng: &mut impl CryptoRng) -> Vec<u8> {
        let intermediate = self.intermediate.encode();
        let leaf = self.leaf.encode();
        let intermediate_signature = self.root.sign(&intermediate, rng);
        let leaf_signature = self.intermediate_key.private.sign(&leaf, rng);
        CertChain {
            leaf: Some(NoiseCertificate {
                details: Some(leaf),
                signature: Some(leaf_signature.to_vec()),
            }),
            intermediate: Some(NoiseCertificate {
                details: Some(intermediate),
                signature: Some(intermediate_signature.to_vec()),
            }),
        }
        .encode_to_vec()
    }
}
