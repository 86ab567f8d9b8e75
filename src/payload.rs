//! The `ClientPayload`: what a client says about itself at the end of the Noise handshake.
//!
//! Owns a typed view of the protobuf ([`ClientPayload`]) for both sides: a client
//! [`encode`](ClientPayload::encode)s a registration (new companion, with its keys and
//! device properties) or a login (a paired device), and a server
//! [`decode`](ClientPayload::decode)s it to decide which of the two it is. Does not own
//! the handshake that carries the bytes (`noise`), nor the keys themselves (`signal`).
//!
//! Only the fields that WhatsApp Web clients send are modelled; unknown fields are
//! ignored when decoding.
//!
//! ```
//! use wa_wasm::payload::{ClientPayload, Login, PayloadKind};
//!
//! let login = ClientPayload::login(Login::new(51_987_654_321, 3));
//! let decoded = ClientPayload::decode(&login.encode())?;
//! assert_eq!(decoded.kind, PayloadKind::Login(Login::new(51_987_654_321, 3)));
//! # Ok::<(), wa_wasm::payload::PayloadError>(())
//! ```

use prost::Message as _;

use crate::crypto::{PublicKey, Signature};
use crate::proto::wa::{
    ClientPayload as PbClientPayload, DeviceProps as PbDeviceProps,
    client_payload::{
        ConnectReason, ConnectType, DevicePairingRegistrationData, UserAgent as PbUserAgent,
        WebInfo, user_agent, web_info,
    },
    device_props,
};

/// The app version both reference clients announce (`2.3000.<revision>`).
pub const DEFAULT_APP_VERSION: AppVersion = AppVersion {
    primary: 2,
    secondary: 3000,
    tertiary: 1_035_194_821,
};

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The bytes are not a `ClientPayload` protobuf.
    #[error("ClientPayload is not a valid protobuf: {0}")]
    Malformed(String),
    /// Neither registration data nor a username: the payload says nothing about who connects.
    #[error("ClientPayload has neither registration data nor a username")]
    NoIdentity,
    /// A registration field is absent or has the wrong size.
    #[error("registration field {field} is invalid: {reason}")]
    InvalidRegistration {
        /// The field (`e_regid`, `e_ident`, …).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The device number of a login does not fit in 16 bits.
    #[error("device number {0} is out of range")]
    DeviceOutOfRange(u32),
}

/// A three-part app version (`primary.secondary.tertiary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppVersion {
    /// First component (2 for WhatsApp Web).
    pub primary: u32,
    /// Second component.
    pub secondary: u32,
    /// Third component (the web client revision).
    pub tertiary: u32,
}

impl AppVersion {
    /// The dotted text form, e.g. `2.3000.1035194821` (what the build hash is computed over).
    pub fn to_dotted(&self) -> String {
        format!("{}.{}.{}", self.primary, self.secondary, self.tertiary)
    }
}

/// Who the client is: a new companion asking to be paired, or a paired device logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadKind {
    /// Not paired yet: the server answers with `pair-device`.
    Registration(Registration),
    /// A paired device: the server answers with `success` or `failure`.
    Login(Login),
}

/// A login of a paired device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login {
    /// The account's phone number as an integer (the JID user part).
    pub username: u64,
    /// The device number of this companion.
    pub device: u16,
    /// `passive` flag (both reference clients send `true`).
    pub passive: bool,
    /// `pull` flag (both reference clients send `true`).
    pub pull: bool,
    /// Whether the client's LID database is migrated.
    pub lid_db_migrated: bool,
}

impl Login {
    /// A login as the reference clients send it (`passive` and `pull` set).
    pub fn new(username: u64, device: u16) -> Login {
        Login {
            username,
            device,
            passive: true,
            pull: true,
            lid_db_migrated: false,
        }
    }
}

/// The keys and properties a new companion registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Signal registration id (sent as 4 bytes big-endian).
    pub registration_id: u32,
    /// Identity public key.
    pub identity_key: PublicKey,
    /// Signed pre-key id (sent as 3 bytes big-endian).
    pub signed_pre_key_id: u32,
    /// Signed pre-key public key.
    pub signed_pre_key: PublicKey,
    /// Signature of the signed pre-key by the identity key.
    pub signed_pre_key_signature: Signature,
    /// MD5 of the dotted app version.
    pub build_hash: Vec<u8>,
    /// What the companion says about itself (shown on the phone).
    pub device_props: DeviceProps,
}

/// The companion's self-description shown in the phone's list of linked devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProps {
    /// Operating system or product name (e.g. `"Mac OS"`).
    pub os: String,
    /// Product version.
    pub version: AppVersion,
    /// Platform type number (1 = Chrome, 7 = desktop, …; see the protocol's PlatformType).
    pub platform_type: i32,
    /// Whether the companion asks for a full history sync.
    pub require_full_sync: bool,
}

impl Default for DeviceProps {
    fn default() -> Self {
        DeviceProps {
            os: "wa-wasm".to_owned(),
            version: AppVersion {
                primary: 0,
                secondary: 1,
                tertiary: 0,
            },
            platform_type: device_props::PlatformType::Chrome as i32,
            require_full_sync: false,
        }
    }
}

/// A decoded or to-be-encoded `ClientPayload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPayload {
    /// Registration or login.
    pub kind: PayloadKind,
    /// The announced app version.
    pub app_version: AppVersion,
    /// The push name (display name), if sent.
    pub push_name: Option<String>,
}

impl ClientPayload {
    /// A login payload with the default version.
    pub fn login(login: Login) -> ClientPayload {
        ClientPayload {
            kind: PayloadKind::Login(login),
            app_version: DEFAULT_APP_VERSION,
            push_name: None,
        }
    }

    /// A registration payload with the default version.
    pub fn registration(registration: Registration) -> ClientPayload {
        ClientPayload {
            kind: PayloadKind::Registration(registration),
            app_version: DEFAULT_APP_VERSION,
            push_name: None,
        }
    }

    /// Serializes the payload as a WhatsApp Web client does (web user agent, WiFi,
    /// user-activated connect).
    pub fn encode(&self) -> Vec<u8> {
        let version = user_agent::AppVersion {
            primary: Some(self.app_version.primary),
            secondary: Some(self.app_version.secondary),
            tertiary: Some(self.app_version.tertiary),
            quaternary: None,
            quinary: None,
        };
        let mut payload = PbClientPayload {
            user_agent: Some(PbUserAgent {
                platform: Some(user_agent::Platform::Web as i32),
                app_version: Some(version),
                mcc: Some("000".to_owned()),
                mnc: Some("000".to_owned()),
                os_version: Some("0.1".to_owned()),
                device: Some("Desktop".to_owned()),
                os_build_number: Some("0.1".to_owned()),
                release_channel: Some(user_agent::ReleaseChannel::Release as i32),
                locale_language_iso_639_1: Some("en".to_owned()),
                locale_country_iso_3166_1_alpha_2: Some("US".to_owned()),
                ..PbUserAgent::default()
            }),
            web_info: Some(WebInfo {
                web_sub_platform: Some(web_info::WebSubPlatform::WebBrowser as i32),
                ..WebInfo::default()
            }),
            push_name: self.push_name.clone(),
            connect_type: Some(ConnectType::WifiUnknown as i32),
            connect_reason: Some(ConnectReason::UserActivated as i32),
            ..PbClientPayload::default()
        };
        match &self.kind {
            PayloadKind::Login(login) => {
                payload.username = Some(login.username);
                payload.device = Some(u32::from(login.device));
                payload.passive = Some(login.passive);
                payload.pull = Some(login.pull);
                payload.lid_db_migrated = Some(login.lid_db_migrated);
            }
            PayloadKind::Registration(reg) => {
                payload.passive = Some(false);
                payload.pull = Some(false);
                let props = PbDeviceProps {
                    os: Some(reg.device_props.os.clone()),
                    version: Some(device_props::AppVersion {
                        primary: Some(reg.device_props.version.primary),
                        secondary: Some(reg.device_props.version.secondary),
                        tertiary: Some(reg.device_props.version.tertiary),
                        quaternary: None,
                        quinary: None,
                    }),
                    platform_type: Some(reg.device_props.platform_type),
                    require_full_sync: Some(reg.device_props.require_full_sync),
                    history_sync_config: None,
                };
                let signed_id = reg.signed_pre_key_id.to_be_bytes();
                payload.device_pairing_data = Some(DevicePairingRegistrationData {
                    e_regid: Some(reg.registration_id.to_be_bytes().to_vec()),
                    e_keytype: Some(vec![5]),
                    e_ident: Some(reg.identity_key.as_bytes().to_vec()),
                    e_skey_id: Some(signed_id[1..].to_vec()),
                    e_skey_val: Some(reg.signed_pre_key.as_bytes().to_vec()),
                    e_skey_sig: Some(reg.signed_pre_key_signature.to_vec()),
                    build_hash: Some(reg.build_hash.clone()),
                    device_props: Some(props.encode_to_vec()),
                });
            }
        }
        payload.encode_to_vec()
    }

    /// Parses a payload. Registration data wins over a username when both are present
    /// (a server treats such a client as unpaired).
    pub fn decode(bytes: &[u8]) -> Result<ClientPayload, PayloadError> {
        let payload =
            PbClientPayload::decode(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
        let app_version = payload
            .user_agent
            .as_ref()
            .and_then(|ua| ua.app_version.as_ref())
            .map(|v| AppVersion {
                primary: v.primary.unwrap_or(0),
                secondary: v.secondary.unwrap_or(0),
                tertiary: v.tertiary.unwrap_or(0),
            })
            .unwrap_or(AppVersion {
                primary: 0,
                secondary: 0,
                tertiary: 0,
            });
        let kind = if let Some(data) = &payload.device_pairing_data {
            PayloadKind::Registration(decode_registration(data)?)
        } else if let Some(username) = payload.username {
            let device = payload.device.unwrap_or(0);
            PayloadKind::Login(Login {
                username,
                device: u16::try_from(device)
                    .map_err(|_| PayloadError::DeviceOutOfRange(device))?,
                passive: payload.passive.unwrap_or(false),
                pull: payload.pull.unwrap_or(false),
                lid_db_migrated: payload.lid_db_migrated.unwrap_or(false),
            })
        } else {
            return Err(PayloadError::NoIdentity);
        };
        Ok(ClientPayload {
            kind,
            app_version,
            push_name: payload.push_name,
        })
    }
}

fn field<'a>(value: &'a Option<Vec<u8>>, field: &'static str) -> Result<&'a [u8], PayloadError> {
    value.as_deref().ok_or(PayloadError::InvalidRegistration {
        field,
        reason: "missing",
    })
}

fn key(value: &Option<Vec<u8>>, name: &'static str) -> Result<PublicKey, PayloadError> {
    PublicKey::from_slice(field(value, name)?).map_err(|_| PayloadError::InvalidRegistration {
        field: name,
        reason: "not a 32-byte public key",
    })
}

fn be_uint(value: &Option<Vec<u8>>, name: &'static str, len: usize) -> Result<u32, PayloadError> {
    let bytes = field(value, name)?;
    if bytes.len() != len {
        return Err(PayloadError::InvalidRegistration {
            field: name,
            reason: "wrong length",
        });
    }
    Ok(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

fn decode_registration(data: &DevicePairingRegistrationData) -> Result<Registration, PayloadError> {
    if field(&data.e_keytype, "e_keytype")? != [5] {
        return Err(PayloadError::InvalidRegistration {
            field: "e_keytype",
            reason: "not the Curve25519 type byte 5",
        });
    }
    let signature = field(&data.e_skey_sig, "e_skey_sig")?;
    let signed_pre_key_signature: Signature =
        signature
            .try_into()
            .map_err(|_| PayloadError::InvalidRegistration {
                field: "e_skey_sig",
                reason: "not a 64-byte signature",
            })?;
    let device_props = match data.device_props.as_deref() {
        None => DeviceProps::default(),
        Some(bytes) => {
            let props =
                PbDeviceProps::decode(bytes).map_err(|_| PayloadError::InvalidRegistration {
                    field: "device_props",
                    reason: "not a DeviceProps protobuf",
                })?;
            let version = props.version.unwrap_or_default();
            DeviceProps {
                os: props.os.unwrap_or_default(),
                version: AppVersion {
                    primary: version.primary.unwrap_or(0),
                    secondary: version.secondary.unwrap_or(0),
                    tertiary: version.tertiary.unwrap_or(0),
                },
                platform_type: props.platform_type.unwrap_or(0),
                require_full_sync: props.require_full_sync.unwrap_or(false),
            }
        }
    };
    Ok(Registration {
        registration_id: be_uint(&data.e_regid, "e_regid", 4)?,
        identity_key: key(&data.e_ident, "e_ident")?,
        signed_pre_key_id: be_uint(&data.e_skey_id, "e_skey_id", 3)?,
        signed_pre_key: key(&data.e_skey_val, "e_skey_val")?,
        signed_pre_key_signature,
        build_hash: data.build_hash.clone().unwrap_or_default(),
        device_props,
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::crypto::KeyPair;

    fn registration() -> Registration {
        let mut rng = StdRng::seed_from_u64(3);
        let identity = KeyPair::generate(&mut rng);
        let signed = KeyPair::generate(&mut rng);
        Registration {
            registration_id: 0x1234,
            identity_key: identity.public,
            signed_pre_key_id: 1,
            signed_pre_key: signed.public,
            signed_pre_key_signature: identity
                .private
                .sign(&signed.public.to_prefixed(), &mut rng),
            build_hash: vec![7; 16],
            device_props: DeviceProps {
                os: "Linux".to_owned(),
                ..DeviceProps::default()
            },
        }
    }

    #[test]
    fn registration_round_trip_and_field_layout() {
        let reg = registration();
        let bytes = ClientPayload::registration(reg.clone()).encode();
        let decoded = ClientPayload::decode(&bytes).unwrap();
        assert_eq!(decoded.kind, PayloadKind::Registration(reg.clone()));
        assert_eq!(decoded.app_version, DEFAULT_APP_VERSION);

        let raw = PbClientPayload::decode(bytes.as_slice()).unwrap();
        let data = raw.device_pairing_data.unwrap();
        assert_eq!(data.e_regid.unwrap(), [0, 0, 0x12, 0x34]);
        assert_eq!(
            data.e_skey_id.unwrap(),
            [0, 0, 1],
            "3-byte signed pre-key id"
        );
        assert_eq!(data.e_keytype.unwrap(), [5]);
        assert_eq!(raw.passive, Some(false));
        assert_eq!(raw.username, None);
    }

    #[test]
    fn login_round_trip_and_field_layout() {
        let login = Login::new(51_987_654_321, 7);
        let mut payload = ClientPayload::login(login);
        payload.push_name = Some("Ana".to_owned());
        let bytes = payload.encode();
        assert_eq!(ClientPayload::decode(&bytes).unwrap(), payload);
        let raw = PbClientPayload::decode(bytes.as_slice()).unwrap();
        assert_eq!(raw.username, Some(51_987_654_321));
        assert_eq!(raw.device, Some(7));
        assert_eq!(raw.pull, Some(true));
        assert_eq!(
            raw.connect_reason,
            Some(ConnectReason::UserActivated as i32)
        );
    }

    #[test]
    fn bad_payloads_are_typed_errors() {
        assert!(matches!(
            ClientPayload::decode(&[0xff, 0xff]),
            Err(PayloadError::Malformed(_))
        ));
        assert_eq!(ClientPayload::decode(&[]), Err(PayloadError::NoIdentity));
        let mut raw = PbClientPayload::decode(
            ClientPayload::registration(registration())
                .encode()
                .as_slice(),
        )
        .unwrap();
        if let Some(data) = raw.device_pairing_data.as_mut() {
            data.e_ident = Some(vec![1; 5]);
        }
        assert_eq!(
            ClientPayload::decode(&raw.encode_to_vec()),
            Err(PayloadError::InvalidRegistration {
                field: "e_ident",
                reason: "not a 32-byte public key"
            })
        );
        let login = PbClientPayload {
            username: Some(1),
            device: Some(70_000),
            ..PbClientPayload::default()
        };
        assert_eq!(
            ClientPayload::decode(&login.encode_to_vec()),
            Err(PayloadError::DeviceOutOfRange(70_000))
        );
    }
}
