//! The engine's `ClientPayload`s (facts §3), built with [`crate::payload`] from
//! the configuration and the credentials.

use md5::{Digest, Md5};

use super::config::ClientConfig;
use crate::binary::Jid;
use crate::payload::{AppVersion, ClientPayload, DeviceProps, Login, Registration};
use crate::store::Credentials;

/// Why a login payload cannot be built from the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The stored device JID is not `<digits>:<device>@s.whatsapp.net`.
    #[error("stored device JID {0:?} has no numeric user part")]
    BadDeviceJid(String),
}

fn app_version(config: &ClientConfig) -> AppVersion {
    let [primary, secondary, tertiary] = config.version;
    AppVersion {
        primary,
        secondary,
        tertiary,
    }
}

fn finish(mut payload: ClientPayload, config: &ClientConfig) -> Vec<u8> {
    payload.app_version = app_version(config);
    payload.push_name = config.push_name.clone();
    payload.encode()
}

/// The payload of a companion that is not linked yet (facts §3.3).
pub(crate) fn registration(config: &ClientConfig, creds: &Credentials) -> Vec<u8> {
    let build_hash = Md5::digest(app_version(config).to_dotted().as_bytes()).to_vec();
    let registration = Registration {
        registration_id: creds.registration_id,
        identity_key: creds.identity_key.public,
        signed_pre_key_id: creds.signed_pre_key.id.0,
        signed_pre_key: creds.signed_pre_key.key_pair.public,
        signed_pre_key_signature: creds.signed_pre_key.signature,
        build_hash,
        device_props: DeviceProps {
            os: config.browser.os.clone(),
            platform_type: config.platform().device_props_type(),
            ..DeviceProps::default()
        },
    };
    finish(ClientPayload::registration(registration), config)
}

/// The payload of a linked device (facts §3.4), for the device JID `me`.
pub(crate) fn login(config: &ClientConfig, me: &Jid) -> Result<Vec<u8>, PayloadError> {
    let username: u64 = me
        .user()
        .parse()
        .map_err(|_| PayloadError::BadDeviceJid(me.to_string()))?;
    let login = Login {
        lid_db_migrated: true,
        ..Login::new(username, me.device())
    };
    Ok(finish(ClientPayload::login(login), config))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::payload::PayloadKind;

    #[test]
    fn registration_carries_the_credentials_and_the_config() {
        let creds = Credentials::generate(&mut StdRng::seed_from_u64(1), 1_700_000_000);
        let config = ClientConfig {
            push_name: Some("Front desk".into()),
            version: [2, 3000, 42],
            ..ClientConfig::default()
        };
        let decoded = ClientPayload::decode(&registration(&config, &creds)).unwrap();
        assert_eq!(decoded.push_name.as_deref(), Some("Front desk"));
        assert_eq!(
            decoded.app_version,
            AppVersion {
                primary: 2,
                secondary: 3000,
                tertiary: 42
            }
        );
        let PayloadKind::Registration(reg) = decoded.kind else {
            panic!("a registration");
        };
        assert_eq!(reg.registration_id, creds.registration_id);
        assert_eq!(reg.identity_key, creds.identity_key.public);
        assert_eq!(reg.signed_pre_key_id, 1);
        assert_eq!(reg.build_hash, Md5::digest(b"2.3000.42").to_vec());
        assert_eq!(reg.device_props.os, "Linux");
        assert_eq!(reg.device_props.platform_type, 1);
    }

    #[test]
    fn login_uses_the_device_jid() {
        let me: Jid = "51987654321:7@s.whatsapp.net".parse().unwrap();
        let decoded =
            ClientPayload::decode(&login(&ClientConfig::default(), &me).unwrap()).unwrap();
        let PayloadKind::Login(login_kind) = decoded.kind else {
            panic!("a login");
        };
        assert_eq!(login_kind.username, 51_987_654_321);
        assert_eq!(login_kind.device, 7);
        assert!(login_kind.passive && login_kind.pull);
        let bad: Jid = "abc:1@s.whatsapp.net".parse().unwrap();
        assert!(matches!(
            login(&ClientConfig::default(), &bad),
            Err(PayloadError::BadDeviceJid(_))
        ));
    }
}
