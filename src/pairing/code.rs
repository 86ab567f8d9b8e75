//! Linking with a code typed on the phone instead of scanning a QR.
//!
//! Both sides hide a fresh X25519 ephemeral key under a key derived from the
//! 8-character code (PBKDF2-SHA256, 2^17 rounds, then AES-256-CTR); the
//! companion then sends its identity and 32 random bytes under a key from the
//! ephemeral agreement (AES-256-GCM), and both derive the new adv secret from
//! the ephemeral and identity agreements.

use rand_core::CryptoRng;
use zeroize::Zeroize;

use super::{PairingError, agree};
use crate::crypto::{Aes256GcmKey, KeyPair, PrivateKey, PublicKey, aes256_ctr_apply, hkdf_sha256};

/// The 32 symbols a link code is written in (no 0, I, O, U).
pub const LINK_CODE_ALPHABET: &[u8; 32] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";

/// Length of a wrapped ephemeral key: salt (32) ‖ IV (16) ‖ encrypted key (32).
pub const WRAPPED_EPHEMERAL_LEN: usize = 80;

const PBKDF2_ROUNDS: u32 = 2 << 16;
const BUNDLE_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
const ADV_SECRET_INFO: &[u8] = b"adv_secret";

/// An 8-character link code (5 random bytes in the link-code alphabet).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCode([u8; 8]);

impl core::fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LinkCode(..)")
    }
}

impl LinkCode {
    /// Draws a fresh code.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut random = [0u8; 5];
        rng.fill_bytes(&mut random);
        let bits = random
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let mut code = [0u8; 8];
        for (i, symbol) in code.iter_mut().enumerate() {
            let index = (bits >> (35 - 5 * i)) & 0x1f;
            *symbol = LINK_CODE_ALPHABET[index as usize];
        }
        Self(code)
    }

    /// Parses a code as a person types it: case-insensitive, dashes and spaces ignored.
    pub fn parse(text: &str) -> Result<Self, PairingError> {
        let mut code = [0u8; 8];
        let mut len = 0;
        for c in text.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
            let upper = c.to_ascii_uppercase();
            if !upper.is_ascii() || !LINK_CODE_ALPHABET.contains(&(upper as u8)) {
                return Err(PairingError::InvalidLinkCode(
                    "a character outside the alphabet",
                ));
            }
            let slot = code
                .get_mut(len)
                .ok_or(PairingError::InvalidLinkCode("longer than 8"))?;
            *slot = upper as u8;
            len += 1;
        }
        if len != 8 {
            return Err(PairingError::InvalidLinkCode("shorter than 8"));
        }
        Ok(Self(code))
    }

    /// The 8 characters (what the key derivation uses).
    pub fn as_str(&self) -> &str {
        // Every byte comes from the ASCII alphabet.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// `XXXX-XXXX`, as shown to the user.
    pub fn display(&self) -> String {
        let s = self.as_str();
        format!("{}-{}", &s[..4], &s[4..])
    }

    fn cipher_key(&self, salt: &[u8]) -> [u8; 32] {
        pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(&self.0, salt, PBKDF2_ROUNDS)
    }
}

/// Hides `ephemeral` under `code`: salt ‖ IV ‖ AES-256-CTR(key, IV, ephemeral).
pub fn wrap_ephemeral(
    code: &LinkCode,
    ephemeral: &PublicKey,
    rng: &mut impl CryptoRng,
) -> [u8; WRAPPED_EPHEMERAL_LEN] {
    let mut out = [0u8; WRAPPED_EPHEMERAL_LEN];
    rng.fill_bytes(&mut out[..48]);
    out[48..].copy_from_slice(ephemeral.as_bytes());
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&out[32..48]);
    let mut key = code.cipher_key(&out[..32]);
    aes256_ctr_apply(&key, &iv, &mut out[48..]);
    key.zeroize();
    out
}

/// Recovers a wrapped ephemeral key (any 80+ byte input yields some key; a
/// wrong code shows up later as a failed bundle or HMAC).
pub fn unwrap_ephemeral(code: &LinkCode, wrapped: &[u8]) -> Result<PublicKey, PairingError> {
    let wrapped: &[u8; WRAPPED_EPHEMERAL_LEN] = wrapped
        .get(..WRAPPED_EPHEMERAL_LEN)
        .and_then(|w| w.try_into().ok())
        .ok_or(PairingError::Length {
            field: "wrapped ephemeral key",
            expected: WRAPPED_EPHEMERAL_LEN,
            actual: wrapped.len(),
        })?;
    let mut key = code.cipher_key(&wrapped[..32]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&wrapped[32..48]);
    let mut public = [0u8; 32];
    public.copy_from_slice(&wrapped[48..]);
    aes256_ctr_apply(&key, &iv, &mut public);
    key.zeroize();
    Ok(PublicKey::from_bytes(public))
}

/// The companion's `companion_finish` material.
#[derive(Clone)]
pub struct CompanionFinish {
    /// salt (32) ‖ nonce (12) ‖ AES-GCM(identity ‖ primary identity ‖ random).
    pub wrapped_key_bundle: Vec<u8>,
    /// The adv secret that replaces the QR one.
    pub adv_secret: [u8; 32],
}

impl core::fmt::Debug for CompanionFinish {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompanionFinish").finish_non_exhaustive()
    }
}

/// Companion side, after the phone's notification: builds the key bundle and
/// derives the new adv secret.
pub fn companion_finish(
    companion_ephemeral: &PrivateKey,
    primary_ephemeral: &PublicKey,
    identity: &KeyPair,
    primary_identity: &PublicKey,
    rng: &mut impl CryptoRng,
) -> Result<CompanionFinish, PairingError> {
    let mut random = [0u8; 32];
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut random);
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);

    let ephemeral_secret = agree(companion_ephemeral, primary_ephemeral)?;
    let mut bundle_key: [u8; 32] = hkdf_sha256(&ephemeral_secret, Some(&salt), BUNDLE_INFO);
    let plaintext = [
        identity.public.as_bytes(),
        primary_identity.as_bytes(),
        &random[..],
    ]
    .concat();
    let sealed = Aes256GcmKey::new(&bundle_key)
        .seal(&nonce, &[], &plaintext)
        .ok_or(PairingError::BundleDecrypt)?;
    bundle_key.zeroize();

    let identity_secret = agree(&identity.private, primary_identity)?;
    let adv_secret = derive_adv_secret(&ephemeral_secret, &identity_secret, &random);
    random.zeroize();
    Ok(CompanionFinish {
        wrapped_key_bundle: [&salt[..], &nonce, &sealed].concat(),
        adv_secret,
    })
}

/// Primary (phone) side: opens the companion's key bundle, returning the
/// companion identity key and the shared adv secret.
pub fn primary_open_bundle(
    primary_ephemeral: &PrivateKey,
    companion_ephemeral: &PublicKey,
    primary_identity: &KeyPair,
    wrapped_key_bundle: &[u8],
) -> Result<(PublicKey, [u8; 32]), PairingError> {
    const SEALED_LEN: usize = 32 + 32 + 32 + 16;
    if wrapped_key_bundle.len() != 32 + 12 + SEALED_LEN {
        return Err(PairingError::Length {
            field: "wrapped key bundle",
            expected: 32 + 12 + SEALED_LEN,
            actual: wrapped_key_bundle.len(),
        });
    }
    let (salt, rest) = wrapped_key_bundle.split_at(32);
    let (nonce, sealed) = rest.split_at(12);
    let nonce = <[u8; 12]>::try_from(nonce).map_err(|_| PairingError::BundleDecrypt)?;

    let ephemeral_secret = agree(primary_ephemeral, companion_ephemeral)?;
    let mut bundle_key: [u8; 32] = hkdf_sha256(&ephemeral_secret, Some(salt), BUNDLE_INFO);
    let plaintext = Aes256GcmKey::new(&bundle_key)
        .open(&nonce, &[], sealed)
        .ok_or(PairingError::BundleDecrypt)?;
    bundle_key.zeroize();
    let (companion_identity, rest) = plaintext.split_at(32);
    let (named_primary, random) = rest.split_at(32);
    if named_primary != primary_identity.public.as_bytes() {
        return Err(PairingError::BundleIdentityMismatch);
    }
    let companion_identity =
        PublicKey::from_slice(companion_identity).map_err(|_| PairingError::BundleDecrypt)?;
    let identity_secret = agree(&primary_identity.private, &companion_identity)?;
    Ok((
        companion_identity,
        derive_adv_secret(&ephemeral_secret, &identity_secret, random),
    ))
}

fn derive_adv_secret(ephemeral: &[u8; 32], identity: &[u8; 32], random: &[u8]) -> [u8; 32] {
    let mut input = [&ephemeral[..], identity, random].concat();
    let secret = hkdf_sha256(&input, None, ADV_SECRET_INFO);
    input.zeroize();
    secret
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn code_alphabet_and_parse() {
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..100 {
            let code = LinkCode::generate(&mut rng);
            assert_eq!(code.as_str().len(), 8);
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| LINK_CODE_ALPHABET.contains(&b))
            );
            let shown = code.display();
            assert_eq!(shown.len(), 9);
            assert_eq!(LinkCode::parse(&shown).unwrap(), code);
            assert_eq!(LinkCode::parse(&shown.to_lowercase()).unwrap(), code);
        }
        // 5 bytes of 0xff are 40 one-bits: eight times the last symbol.
        let bits_all_ones = LinkCode::parse("ZZZZZZZZ").unwrap();
        assert_eq!(bits_all_ones.as_str(), "ZZZZZZZZ");
        for bad in [
            "",
            "ABCD-EFG",
            "ABCD-EFGHJ",
            "ABCD-EFG0",
            "ABCD-EFGU",
            "ÀBCD-EFGH",
        ] {
            assert!(LinkCode::parse(bad).is_err(), "{bad}");
        }
    }

    /// The encoding is big-endian base32 over the 5 random bytes.
    #[test]
    fn code_encoding_known_answer() {
        struct Fixed([u8; 5]);
        impl rand_core::TryRng for Fixed {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0)
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                dst.copy_from_slice(&self.0[..dst.len()]);
                Ok(())
            }
        }
        impl rand_core::TryCryptoRng for Fixed {}
        // 0x00 0x44 0x32 0x14 0xc7 = 00000 00001 00010 00011 00100 00101 00110 00111
        let code = LinkCode::generate(&mut Fixed([0x00, 0x44, 0x32, 0x14, 0xc7]));
        assert_eq!(code.as_str(), "12345678");
    }

    #[test]
    fn both_sides_derive_the_same_secret() {
        let mut rng = StdRng::seed_from_u64(6);
        let code = LinkCode::generate(&mut rng);
        let companion_eph = KeyPair::generate(&mut rng);
        let primary_eph = KeyPair::generate(&mut rng);
        let companion_id = KeyPair::generate(&mut rng);
        let primary_id = KeyPair::generate(&mut rng);

        let wrapped_companion = wrap_ephemeral(&code, &companion_eph.public, &mut rng);
        assert_eq!(
            unwrap_ephemeral(&code, &wrapped_companion).unwrap(),
            companion_eph.public
        );
        let wrapped_primary = wrap_ephemeral(&code, &primary_eph.public, &mut rng);
        let seen_primary = unwrap_ephemeral(&code, &wrapped_primary).unwrap();

        let finish = companion_finish(
            &companion_eph.private,
            &seen_primary,
            &companion_id,
            &primary_id.public,
            &mut rng,
        )
        .unwrap();
        let (seen_companion, secret) = primary_open_bundle(
            &primary_eph.private,
            &companion_eph.public,
            &primary_id,
            &finish.wrapped_key_bundle,
        )
        .unwrap();
        assert_eq!(seen_companion, companion_id.public);
        assert_eq!(secret, finish.adv_secret);

        let other_code = LinkCode::parse("ZZZZ-ZZZZ").unwrap();
        assert_ne!(
            unwrap_ephemeral(&other_code, &wrapped_companion).unwrap(),
            companion_eph.public
        );

        let mut tampered = finish.wrapped_key_bundle.clone();
        tampered[50] ^= 1;
        assert_eq!(
            primary_open_bundle(
                &primary_eph.private,
                &companion_eph.public,
                &primary_id,
                &tampered
            )
            .unwrap_err(),
            PairingError::BundleDecrypt
        );
        let stranger = KeyPair::generate(&mut rng);
        assert_eq!(
            primary_open_bundle(
                &primary_eph.private,
                &companion_eph.public,
                &stranger,
                &finish.wrapped_key_bundle
            )
            .unwrap_err(),
            PairingError::BundleIdentityMismatch
        );
        assert!(matches!(
            unwrap_ephemeral(&code, &[0; 79]),
            Err(PairingError::Length { actual: 79, .. })
        ));
    }
}
