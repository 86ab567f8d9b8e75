//! What an application chooses about its client: server, identity shown on the
//! phone, timings and limits. Defaults follow WhatsApp Web and the reference
//! clients (facts §1, §3, §5.1, §6).

use core::time::Duration;

use super::policy::ReconnectConfig;
use crate::crypto::PublicKey;
use crate::noise::WA_ROOT_PUBLIC_KEY;

/// The WebSocket endpoint WhatsApp Web uses.
pub const DEFAULT_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// The web client revision announced by default (`2.3000.<revision>`, facts §3.2).
pub const DEFAULT_CLIENT_REVISION: u32 = 1_035_194_821;

/// How the companion presents itself: the `[os, browser, version]` tuple
/// Baileys users know, e.g. `["Mac OS", "Chrome", "14.4.1"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Browser {
    /// The operating system shown on the phone (`DeviceProps.os`).
    pub os: String,
    /// The browser name; it chooses the platform unless [`ClientConfig::platform`] is set.
    pub name: String,
    /// The browser version (shown in the pairing-code display name only).
    pub version: String,
}

impl Default for Browser {
    fn default() -> Self {
        Self {
            os: "Linux".to_owned(),
            name: "Chrome".to_owned(),
            version: "130.0".to_owned(),
        }
    }
}

impl Browser {
    /// The platform this browser name stands for.
    pub fn platform(&self) -> Platform {
        Platform::from_browser_name(&self.name)
    }

    /// `"<browser> (<os>)"`, the display name sent with a pairing-code request
    /// (the server checks it; unusual values get a 400).
    pub fn display_name(&self) -> String {
        format!("{} ({})", self.name, self.os)
    }
}

/// The kind of companion, as the phone lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Google Chrome.
    Chrome,
    /// Mozilla Firefox.
    Firefox,
    /// Microsoft Edge.
    Edge,
    /// Apple Safari.
    Safari,
    /// Opera.
    Opera,
    /// Internet Explorer.
    InternetExplorer,
    /// The desktop app.
    Desktop,
    /// Any other web client.
    OtherWeb,
}

impl Platform {
    /// The platform for a browser name (case-insensitive; unknown names are
    /// [`Platform::OtherWeb`]).
    pub fn from_browser_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "chrome" | "chromium" => Self::Chrome,
            "firefox" => Self::Firefox,
            "edge" => Self::Edge,
            "safari" => Self::Safari,
            "opera" => Self::Opera,
            "ie" | "internet explorer" => Self::InternetExplorer,
            "desktop" => Self::Desktop,
            _ => Self::OtherWeb,
        }
    }

    /// `DeviceProps.PlatformType` (facts §3.3).
    pub fn device_props_type(self) -> i32 {
        match self {
            Self::Chrome => 1,
            Self::Firefox => 2,
            Self::InternetExplorer => 3,
            Self::Opera => 4,
            Self::Safari => 5,
            Self::Edge => 6,
            Self::Desktop => 7,
            Self::OtherWeb => 0,
        }
    }

    /// The client-type code that ends a QR string and names the platform in a
    /// pairing-code request (facts §5.1 step 4).
    pub fn qr_client_type(self) -> &'static str {
        match self {
            Self::Chrome => "1",
            Self::Edge => "2",
            Self::Firefox => "3",
            Self::InternetExplorer => "4",
            Self::Opera => "5",
            Self::Safari => "6",
            Self::Desktop => "7",
            Self::OtherWeb => "9",
        }
    }
}

/// Timers of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From opening the socket to the server's first stanza (facts §1: 20 s).
    pub handshake: Duration,
    /// From sending an IQ to giving up on its answer (W 75 s, B 60 s).
    pub iq: Duration,
    /// Shortest pause between keepalive pings (W 20 s).
    pub keepalive_min: Duration,
    /// Longest pause between keepalive pings (W 30 s).
    pub keepalive_max: Duration,
    /// How long a ping may go unanswered, with nothing else received either,
    /// before the socket counts as dead (W 10 s).
    pub keepalive_deadline: Duration,
    /// How long a logout waits for the server to confirm the unlink.
    pub logout: Duration,
    /// How long a requested pairing code stays usable.
    pub pairing_code: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(20),
            iq: Duration::from_secs(60),
            keepalive_min: Duration::from_secs(20),
            keepalive_max: Duration::from_secs(30),
            keepalive_deadline: Duration::from_secs(10),
            logout: Duration::from_secs(5),
            pairing_code: Duration::from_secs(180),
        }
    }
}

/// How long each QR code is shown (facts §5.1 step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrTiming {
    /// The first code.
    pub first: Duration,
    /// Every following code.
    pub next: Duration,
}

impl Default for QrTiming {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(60),
            next: Duration::from_secs(20),
        }
    }
}

/// When and how many one-time pre-keys to upload (facts §6, whatsmeow's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreKeyPolicy {
    /// Uploaded on first login, when neither side has any.
    pub initial: u32,
    /// Uploaded when the server runs low.
    pub batch: u32,
    /// The server count below which a batch is uploaded.
    pub min: u32,
}

impl Default for PreKeyPolicy {
    fn default() -> Self {
        Self {
            initial: 812,
            batch: 50,
            min: 5,
        }
    }
}

/// Everything the application chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The WebSocket URL (a relay's, or the simulator's).
    pub url: String,
    /// The pinned root key the server's certificate chain must lead to.
    pub server_root: PublicKey,
    /// How the companion presents itself.
    pub browser: Browser,
    /// Overrides the platform derived from [`Browser::name`].
    pub platform: Option<Platform>,
    /// The app version, `[2, 3000, revision]` (the server answers 405 to stale ones).
    pub version: [u32; 3],
    /// The push name sent in the `ClientPayload`.
    pub push_name: Option<String>,
    /// Stay passive after login (no `<active/>`): the server then holds back
    /// some traffic. Off by default, as in both reference clients.
    pub passive: bool,
    /// Whether a pairing-code request asks the phone to show a notification.
    pub pairing_code_push_notification: bool,
    /// Connection timers.
    pub timeouts: Timeouts,
    /// QR rotation.
    pub qr: QrTiming,
    /// Pre-key uploads.
    pub pre_keys: PreKeyPolicy,
    /// The reconnect policy's settings.
    pub reconnect: ReconnectConfig,
    /// The country code (digits, e.g. `"51"`) for phone numbers written
    /// without one; `None` takes every number as international.
    pub default_country_code: Option<String>,
    /// How many sent messages are kept to answer retry receipts.
    pub outbox_capacity: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_owned(),
            server_root: WA_ROOT_PUBLIC_KEY,
            browser: Browser::default(),
            platform: None,
            version: [2, 3000, DEFAULT_CLIENT_REVISION],
            push_name: None,
            passive: false,
            pairing_code_push_notification: true,
            timeouts: Timeouts::default(),
            qr: QrTiming::default(),
            pre_keys: PreKeyPolicy::default(),
            reconnect: ReconnectConfig::default(),
            default_country_code: None,
            outbox_capacity: 256,
        }
    }
}

impl ClientConfig {
    /// The default configuration for another server (a relay or the simulator).
    pub fn new(url: impl Into<String>, server_root: PublicKey) -> Self {
        Self {
            url: url.into(),
            server_root,
            ..Self::default()
        }
    }

    /// The platform in effect.
    pub fn platform(&self) -> Platform {
        self.platform.unwrap_or_else(|| self.browser.platform())
    }

    /// The version as dotted text (`2.3000.1035194821`).
    pub fn version_text(&self) -> String {
        let [a, b, c] = self.version;
        format!("{a}.{b}.{c}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_from_browser_names() {
        assert_eq!(Platform::from_browser_name("Chrome"), Platform::Chrome);
        assert_eq!(Platform::from_browser_name("firefox"), Platform::Firefox);
        assert_eq!(Platform::from_browser_name("Netscape"), Platform::OtherWeb);
        assert_eq!(Platform::Chrome.qr_client_type(), "1");
        assert_eq!(Platform::Edge.qr_client_type(), "2");
        assert_eq!(Platform::Firefox.device_props_type(), 2);
        let config = ClientConfig {
            platform: Some(Platform::Safari),
            ..ClientConfig::default()
        };
        assert_eq!(config.platform(), Platform::Safari);
        assert_eq!(ClientConfig::default().platform(), Platform::Chrome);
        assert_eq!(ClientConfig::default().version_text(), "2.3000.1035194821");
        assert_eq!(Browser::default().display_name(), "Chrome (Linux)");
    }
}
