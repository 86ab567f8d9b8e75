use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only fails for fixed-key MACs; HMAC takes any key.
    unreachable!("HMAC accepts keys of any length")
}

/// HKDF-SHA256 (RFC 5869). `salt: None` means a string of zero bytes.
///
/// Returns `N` bytes; `N` must be at most 255 × 32, which every caller in this
/// crate satisfies with a constant.
#[inline(always)]
pub fn hkdf_sha256<const N: usize>(ikm: &[u8], salt: Option<&[u8]>, info: &[u8]) -> [u8; N] {
    const { assert!(N <= 255 * 32) };
    let mut out = [0u8; N];
    hkdf_sha256_into(ikm, salt, info, &mut out);
    out
}

/// HKDF-SHA256 filling `out`: the one non-generic body behind [`hkdf_sha256`],
/// which rules out lengths over 255 × 32 bytes at compile time.
fn hkdf_sha256_into(ikm: &[u8], salt: Option<&[u8]>, info: &[u8], out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::new(salt, ikm);
    if hk.expand(info, out).is_err() {
        // Only possible for outputs over 255 × 32 bytes, excluded by the caller.
        unreachable!("HKDF output length checked at compile time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 5869, test case 1.
    #[test]
    fn hkdf_rfc5869_case1() {
        let ikm = [0x0b; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        let okm: [u8; 42] = hkdf_sha256(&ikm, Some(&salt), &info);
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    // RFC 4231, test case 2.
    #[test]
    fn hmac_rfc4231_case2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
