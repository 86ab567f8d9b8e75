//! The `ClientPayload` that ends the Noise handshake (facts §3): registration
//! for a new companion, login for a linked one.

use md5::{Digest, Md5};
use prost::Message;

use super::config::ClientConfig;
use crate::binary::Jid;
use crate::proto::wa::client_payload::{
    ConnectReason, ConnectType, DevicePairingRegistrationData, UserAgent, WebInfo, user_agent,
    web_info,
};
use crate::proto::wa::{ClientPayload, DeviceProps, device_props};
use crate::store::Credentials;

/// Why a login payload cannot be built from the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The stored device JID is not `<digits>:<device>@s.whatsapp.net`.
    #[error("stored device JID {0:?} has no numeric user part")]
    BadDeviceJid(String),
}

fn base(config: &ClientConfig) -> ClientPayload {
    let [primary, secondary, tertiary] = config.version;
    ClientPayload {
        user_agent: Some(UserAgent {
            platform: Some(user_agent::Platform::Web as i32),
            app_version: Some(user_agent::AppVersion {
                primary: Some(primary),
                secondary: Some(secondary),
                tertiary: Some(tertiary),
                ..Default::default()
            }),
            mcc: Some("000".to_owned()),
            mnc: Some("000".to_owned()),
            os_version: Some("0.1".to_owned()),
            manufacturer: Some(String::new()),
            device: Some("Desktop".to_owned()),
            os_build_number: Some("0.1".to_owned()),
            release_channel: Some(user_agent::ReleaseChannel::Release as i32),
            locale_language_iso_639_1: Some("en".to_owned()),
            locale_country_iso_3166_1_alpha_2: Some("US".to_owned()),
            ..Default::default()
        }),
        web_info: Some(WebInfo {
            web_sub_platform: Some(web_info::WebSubPlatform::WebBrowser as i32),
            ..Default::default()
        }),
        push_name: config.push_name.clone(),
        connect_type: Some(ConnectType::WifiUnknown as i32),
        connect_reason: Some(ConnectReason::UserActivated as i32),
        ..Default::default()
    }
}

/// The payload of a companion that is not linked yet (facts §3.3).
pub(crate) fn registration(config: &ClientConfig, creds: &Credentials) -> Vec<u8> {
    let props = DeviceProps {
        os: Some(config.browser.os.clone()),
        version: Some(device_props::AppVersion {
            primary: Some(0),
            secondary: Some(1),
            tertiary: Some(0),
            ..Default::default()
        }),
        platform_type: Some(config.platform().device_props_type()),
        require_full_sync: Some(false),
        ..Default::default()
    };
    let signed_id = creds.signed_pre_key.id.0.to_be_bytes();
    let build_hash: [u8; 16] = Md5::digest(config.version_text().as_bytes()).into();
    let mut payload = base(config);
    payload.passive = Some(false);
    payload.pull = Some(false);
    payload.device_pairing_data = Some(DevicePairingRegistrationData {
        e_regid: Some(creds.registration_id.to_be_bytes().to_vec()),
        e_keytype: Some(vec![5]),
        e_ident: Some(creds.identity_key.public.as_bytes().to_vec()),
        e_skey_id: Some(signed_id.get(1..).unwrap_or_default().to_vec()),
        e_skey_val: Some(creds.signed_pre_key.key_pair.public.as_bytes().to_vec()),
        e_skey_sig: Some(creds.signed_pre_key.signature.to_vec()),
        build_hash: Some(build_hash.to_vec()),
        device_props: Some(props.encode_to_vec()),
    });
    payload.encode_to_vec()
}

/// The payload of a linked device (facts §3.4), for the device JID `me`.
pub(crate) fn login(config: &ClientConfig, me: &Jid) -> Result<Vec<u8>, PayloadError> {
    let username: u64 = me
        .user()
        .parse()
        .map_err(|_| PayloadError::BadDeviceJid(me.to_string()))?;
    let mut payload = base(config);
    payload.username = Some(username);
    payload.device = Some(u32::from(me.device()));
    payload.passive = Some(true);
    payload.pull = Some(true);
    payload.lid_db_migrated = Some(true);
    payload.lc = Some(1);
    Ok(payload.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn registration_layout() {
        let creds = Credentials::generate(&mut StdRng::seed_from_u64(1), 1_700_000_000);
        let config = ClientConfig {
            push_name: Some("Front desk".into()),
            ..ClientConfig::default()
        };
        let bytes = registration(&config, &creds);
        let raw = ClientPayload::decode(bytes.as_slice()).unwrap();
        assert_eq!(raw.username, None);
        assert_eq!(raw.passive, Some(false));
        assert_eq!(raw.push_name.as_deref(), Some("Front desk"));
        let data = raw.device_pairing_data.unwrap();
        assert_eq!(
            data.e_regid.unwrap(),
            creds.registration_id.to_be_bytes().to_vec()
        );
        assert_eq!(data.e_skey_id.unwrap(), vec![0, 0, 1]);
        assert_eq!(data.e_keytype.unwrap(), vec![5]);
        // MD5("2.3000.1035194821"), computed independently.
        assert_eq!(
            hex::encode(data.build_hash.unwrap()),
            hex::encode(Md5::digest(b"2.3000.1035194821"))
        );
        let props = DeviceProps::decode(data.device_props.unwrap().as_slice()).unwrap();
        assert_eq!(props.os.as_deref(), Some("Linux"));
        assert_eq!(props.platform_type, Some(1));
        let version = raw.user_agent.unwrap().app_version.unwrap();
        assert_eq!(
            (version.primary, version.secondary, version.tertiary),
            (Some(2), Some(3000), Some(1_035_194_821))
        );
    }

    #[test]
    fn login_layout() {
        let me: Jid = "51987654321:7@s.whatsapp.net".parse().unwrap();
        let bytes = login(&ClientConfig::default(), &me).unwrap();
        let raw = ClientPayload::decode(bytes.as_slice()).unwrap();
        assert_eq!(raw.username, Some(51_987_654_321));
        assert_eq!(raw.device, Some(7));
        assert_eq!((raw.passive, raw.pull), (Some(true), Some(true)));
        assert!(raw.device_pairing_data.is_none());
        let bad: Jid = "abc:1@s.whatsapp.net".parse().unwrap();
        assert!(matches!(
            login(&ClientConfig::default(), &bad),
            Err(PayloadError::BadDeviceJid(_))
        ));
    }
}
