//! The text a QR code carries while a companion waits to be linked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PairingError;
use crate::crypto::PublicKey;

/// Every QR string starts with this; the rest is comma-separated fields.
pub const QR_PREFIX: &str = "https://wa.me/settings/linked_devices#";

/// The fields of a linking QR code: `ref,noise,identity,advSecret,platform`.
#[derive(Clone, PartialEq, Eq)]
pub struct QrData {
    /// One of the refs the server sent in `pair-device` (opaque text).
    pub pairing_ref: String,
    /// The companion's Noise static public key.
    pub noise_key: PublicKey,
    /// The companion's identity public key.
    pub identity_key: PublicKey,
    /// The 32-byte secret the phone HMACs the device identity with.
    pub adv_secret: [u8; 32],
    /// The client-type code (`1` Chrome, `2` Edge, `3` Firefox, … `9` other web client).
    pub platform: String,
}

impl core::fmt::Debug for QrData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QrData")
            .field("pairing_ref", &self.pairing_ref)
            .field("noise_key", &self.noise_key)
            .field("identity_key", &self.identity_key)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl QrData {
    /// The QR text (standard base64 with padding, as the phone expects).
    pub fn encode(&self) -> String {
        format!(
            "{QR_PREFIX}{},{},{},{},{}",
            self.pairing_ref,
            STANDARD.encode(self.noise_key.as_bytes()),
            STANDARD.encode(self.identity_key.as_bytes()),
            STANDARD.encode(self.adv_secret),
            self.platform
        )
    }

    /// Parses QR text. The URL prefix is optional (older clients sent the bare fields);
    /// the ref may itself contain no commas.
    pub fn parse(text: &str) -> Result<Self, PairingError> {
        let fields = text.trim().strip_prefix(QR_PREFIX).unwrap_or(text.trim());
        let parts: Vec<&str> = fields.split(',').collect();
        let [pairing_ref, noise, identity, secret, rest @ ..] = parts.as_slice() else {
            return Err(PairingError::InvalidQr(
                "expected ref,noise,identity,secret[,platform]",
            ));
        };
        if pairing_ref.is_empty() {
            return Err(PairingError::InvalidQr("empty ref"));
        }
        let platform = match rest {
            [] => String::new(),
            [platform] => (*platform).to_owned(),
            _ => return Err(PairingError::InvalidQr("too many fields")),
        };
        let key = |field: &str, what: &'static str| -> Result<[u8; 32], PairingError> {
            let bytes = STANDARD
                .decode(field)
                .map_err(|_| PairingError::InvalidQr(what))?;
            bytes.try_into().map_err(|_| PairingError::InvalidQr(what))
        };
        Ok(Self {
            pairing_ref: (*pairing_ref).to_owned(),
            noise_key: PublicKey::from_bytes(key(noise, "noise key is not 32 bytes of base64")?),
            identity_key: PublicKey::from_bytes(key(
                identity,
                "identity key is not 32 bytes of base64",
            )?),
            adv_secret: key(secret, "adv secret is not 32 bytes of base64")?,
            platform,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QrData {
        QrData {
            pairing_ref: "2@abcDEF123==".into(),
            noise_key: PublicKey::from_bytes([1; 32]),
            identity_key: PublicKey::from_bytes([2; 32]),
            adv_secret: [3; 32],
            platform: "1".into(),
        }
    }

    #[test]
    fn known_text() {
        assert_eq!(
            sample().encode(),
            "https://wa.me/settings/linked_devices#2@abcDEF123==,\
             AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,\
             AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,\
             AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=,1"
        );
        assert_eq!(QrData::parse(&sample().encode()).unwrap(), sample());
    }

    #[test]
    fn bad_strings() {
        for bad in [
            "",
            "https://wa.me/settings/linked_devices#",
            "ref,AQ==,AQ==,AQ==,1",
            ",AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
            "r,!!,AQ==,AQ==",
            "r,a,b,c,d,e",
        ] {
            assert!(
                matches!(QrData::parse(bad), Err(PairingError::InvalidQr(_))),
                "{bad:?}"
            );
        }
    }
}
