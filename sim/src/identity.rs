//! The simulator's own server identity: a root key, an intermediate and the Noise static
//! key, with the certificate chain it presents in every ServerHello.
//!
//! Owns [`ServerIdentity`]. Clients pin [`ServerIdentity::root_public`] (printed at start
//! and served at `/control/info`) instead of WhatsApp's root key. The private keys are
//! saved with the state so a restarted simulator keeps the same root.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use wa_wasm::crypto::{KeyPair, PrivateKey, PublicKey};
use wa_wasm::noise::CertChainBuilder;

/// The keys and certificate chain of the simulated server.
#[derive(Clone)]
pub(crate) struct ServerIdentity {
    root: KeyPair,
    intermediate: KeyPair,
    noise_static: KeyPair,
    chain: Vec<u8>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("root", &self.root.public)
            .finish_non_exhaustive()
    }
}

/// The saved form (private keys as hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedIdentity {
    root: String,
    intermediate: String,
    noise_static: String,
}

impl ServerIdentity {
    /// A new root, intermediate and static key with a chain valid for all time.
    pub(crate) fn generate(rng: &mut impl CryptoRng) -> ServerIdentity {
        let root = KeyPair::generate(rng);
        let intermediate = KeyPair::generate(rng);
        let noise_static = KeyPair::generate(rng);
        ServerIdentity::from_keys(root, intermediate, noise_static, rng)
    }

    fn from_keys(
        root: KeyPair,
        intermediate: KeyPair,
        noise_static: KeyPair,
        rng: &mut impl CryptoRng,
    ) -> ServerIdentity {
        let chain =
            CertChainBuilder::new(&root.private, &intermediate, noise_static.public).build(rng);
        ServerIdentity {
            root,
            intermediate,
            noise_static,
            chain,
        }
    }

    /// The root public key clients must pin.
    pub(crate) fn root_public(&self) -> PublicKey {
        self.root.public
    }

    /// The Noise static key pair.
    pub(crate) fn noise_static(&self) -> &KeyPair {
        &self.noise_static
    }

    /// The serialized certificate chain for the ServerHello.
    pub(crate) fn chain(&self) -> &[u8] {
        &self.chain
    }

    pub(crate) fn save(&self) -> SavedIdentity {
        SavedIdentity {
            root: hex::encode(self.root.private.as_bytes()),
            intermediate: hex::encode(self.intermediate.private.as_bytes()),
            noise_static: hex::encode(self.noise_static.private.as_bytes()),
        }
    }

    pub(crate) fn load(
        saved: &SavedIdentity,
        rng: &mut impl CryptoRng,
    ) -> Result<ServerIdentity, String> {
        let key = |text: &str| -> Result<KeyPair, String> {
            let bytes = hex::decode(text).map_err(|e| e.to_string())?;
            let private = PrivateKey::from_slice(&bytes).map_err(|e| e.to_string())?;
            Ok(KeyPair::from_private(private))
        };
        Ok(ServerIdentity::from_keys(
            key(&saved.root)?,
            key(&saved.intermediate)?,
            key(&saved.noise_static)?,
            rng,
        ))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use wa_wasm::noise::CertVerifier;

    use super::*;

    #[test]
    fn chain_verifies_against_root_and_survives_save() {
        let mut rng = StdRng::seed_from_u64(2);
        let identity = ServerIdentity::generate(&mut rng);
        let verifier = CertVerifier::new(identity.root_public());
        let verified = verifier
            .verify(
                identity.chain(),
                &identity.noise_static().public,
                1_700_000_000,
            )
            .unwrap();
        assert_eq!(verified.leaf().key, identity.noise_static().public);

        let loaded = ServerIdentity::load(&identity.save(), &mut rng).unwrap();
        assert_eq!(loaded.root_public(), identity.root_public());
        assert_eq!(loaded.noise_static().public, identity.noise_static().public);
    }
}
