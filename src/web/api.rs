//! The JavaScript-facing data of `WaClient`: options, events, status and the
//! one error class, with their TypeScript declarations.
//!
//! Owns: [`WaError`] and its codes ([`ErrorCode`]), parsing the options object
//! ([`Options`]), turning engine events and the status into the plain objects
//! the page receives ([`event_js`], [`status_js`]), and the `.d.ts` text
//! that types them. Does not own the driver loop or the tabs.
//!
//! Events and status are plain objects built field by field
//! ([`super::object`]); the same object crosses a `BroadcastChannel` to the
//! other tabs unchanged.

use core::time::Duration;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::console::LogLevel;
use super::object::{
    Object, as_strings, as_u64, number, optional_number, optional_string, optional_string_field,
    present, string_field, strings, unknown_key,
};
use crate::client::policy::BackoffConfig;
use crate::client::{
    Browser, ClientConfig, ClientError, ConnectionUpdate, Event, IncomingMessage, LastDisconnect,
    MessageContent, MessageStatus, ReceiptKind, Status,
};
use crate::crypto::PublicKey;
use crate::store::StoreError;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A connection state (see the `connection` event). */
export type ConnectionState =
  | 'connecting' | 'handshaking' | 'qr' | 'pairing' | 'logging_in'
  | 'open' | 'reconnecting' | 'closed' | 'logged_out' | 'replaced';

/** How much a session logs to the console; lines start with `[wa:<session>]`. */
export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Options of `WaClient.open`. Only `session` is required. */
export interface WaClientOptions {
  /** The session's name (e.g. an organisation id): one IndexedDB database, one Web Lock. */
  session: string;
  /** WebSocket URL (a relay's or the simulator's). Default: WhatsApp Web's. */
  url?: string;
  /** The pinned server root public key, 32 bytes as hex. Default: WhatsApp's. */
  rootKey?: string;
  /** `[os, browser, version]` shown on the phone, e.g. `['CRM', 'Chrome', '1.0']`. */
  browser?: [string, string, string];
  /** App version announced, `[2, 3000, revision]`. */
  version?: [number, number, number];
  /** Push name sent at login. */
  pushName?: string;
  /** Automatic reconnection limits. */
  reconnect?: {
    /** Retries in a row before giving up (`state: 'closed'`, reason `gave_up`). Default: never give up. */
    maxAttempts?: number;
    /** Unit delay of the Fibonacci back-off, ms. Default 1000. */
    firstDelayMs?: number;
    /** Longest delay between retries, ms. Default 60000. */
    maxDelayMs?: number;
  };
  /** Console log level. Default `'warn'`. */
  logLevel?: LogLevel;
}

/** The `connection` event: every state change, with the reason when a connection ended. */
export interface ConnectionEvent {
  state: ConnectionState;
  /** Why (snake_case, e.g. `network_lost`, `logged_out`, `replaced`), when a connection ended. */
  reason: string | null;
  /** Server status code (401, 440, 515, …) when there is one. */
  code: number | null;
  willReconnect: boolean;
  /** Milliseconds until the next attempt, when `willReconnect`. */
  retryInMs: number | null;
  /** Reconnect attempt number (0 when not retrying). */
  attempt: number;
}

/** A QR code to show until `expiresAt` (unix ms); a new one follows. */
export interface QrEvent { qr: string; svg: string; expiresAt: number }
/** The code to type on the phone (`XXXX-XXXX`). */
export interface PairingCodeEvent { code: string; expiresAt: number }
/** The phone linked this device. */
export interface PairedEvent { me: string; lid: string | null; platform: string | null; businessName: string | null }
/** Sessions of this origin linked to the same phone number. */
export interface DuplicateLinkEvent { phoneNumber: string; sessions: string[] }
/** Whether this tab owns the session's socket or follows the tab that does. */
export interface TabEvent { role: 'owner' | 'follower' }
/** Something failed outside a command (storage, the owning tab, …). */
export interface ErrorEvent { code: WaErrorCode; message: string }

/** A received message (stored and acknowledged before this event). */
export interface MessageEvent {
  id: string;
  /** The chat: the contact's JID, or the group's. */
  chat: string;
  /** The sending device's JID. */
  sender: string;
  fromMe: boolean;
  pushName: string | null;
  /** Server time, unix seconds. */
  timestamp: number;
  type: 'text' | 'document' | 'image' | 'unsupported';
  text?: string;
  /** Pass the whole event to `downloadMedia` to get the file. */
  document?: MediaInfo & { fileName: string; title: string };
  image?: MediaInfo & { width: number | null; height: number | null };
  /** For `unsupported`: the raw kind (`reaction`, `protocol`, …). */
  kind?: string;
}
/** Where an encrypted file is and how to open it (what `downloadMedia` reads). */
export interface MediaInfo {
  mimetype: string; caption: string | null; fileLength: number;
  url: string; directPath: string; mediaKey: Uint8Array; fileEncSha256: Uint8Array; fileSha256: Uint8Array;
}
/** `sendDocument` options; `mimetype` defaults to the Blob's or data URL's type. */
export interface DocumentOptions { fileName: string; mimetype?: string; caption?: string }
/** `sendImage` options. */
export interface ImageOptions { mimetype?: string; caption?: string }
/** A file to send: bytes, a Blob (or File), or a base64 `data:` URL. */
export type MediaData = Uint8Array | ArrayBuffer | Blob | string;
/** A group this account is in (`groups()`). */
export interface GroupInfo { jid: string; subject: string; participants: { jid: string; lid: string | null }[] }
/** A receipt from a contact's device for messages we sent. */
export interface ReceiptEvent {
  ids: string[]; chat: string; from: string;
  type: 'delivered' | 'read' | 'sender' | 'retry' | string;
  timestamp: number;
}
/** Where a message we sent stands. */
export interface MessageStatusEvent {
  id: string; chat: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  /** Why, when `failed`. */
  error: string | null;
}
/** One answer of `isOnWhatsApp`. */
export interface OnWhatsAppResult { phone: string; jid: string; exists: boolean; lid: string | null }

/** Every event and its payload. */
export interface WaEvents {
  connection: ConnectionEvent;
  qr: QrEvent;
  'pairing-code': PairingCodeEvent;
  'pairing-code-failed': { message: string };
  paired: PairedEvent;
  'pairing-failed': { message: string };
  'pre-keys-uploaded': { count: number };
  'duplicate-link': DuplicateLinkEvent;
  tab: TabEvent;
  error: ErrorEvent;
  message: MessageEvent;
  receipt: ReceiptEvent;
  'message-status': MessageStatusEvent;
  /** A contact's device re-installed (new identity key, now trusted). */
  'identity-changed': { jid: string };
}
export type WaEventName = keyof WaEvents;

/** `wa.status()`. */
export interface WaStatus {
  session: string;
  state: ConnectionState;
  role: 'owner' | 'follower';
  me: string | null;
  lid: string | null;
  sessionStored: boolean;
  reconnecting: { attempt: number; at: number } | null;
  lastDisconnect: { reason: string; code: number | null; at: number } | null;
  stats: {
    connects: number; reconnects: number; messagesIn: number; messagesOut: number;
    retriesSent: number; retriesAnswered: number; duplicates: number; lastActivity: number | null;
  };
  /** Other sessions of this origin linked to the same phone number. */
  duplicates: string[];
}

/** An entry of `WaClient.sessions()`. */
export interface StoredSession {
  name: string;
  me: string | null;
  lid: string | null;
  phoneNumber: string | null;
  createdAt: number;
  lastActivity: number;
  /** Other sessions linked to the same phone number. */
  duplicates: string[];
}

/** `WaError.code`. */
export type WaErrorCode =
  | 'invalid_options' | 'already_connected' | 'not_open' | 'not_waiting_for_scan'
  | 'invalid_phone_number' | 'invalid_recipient' | 'send_failed' | 'storage' | 'quota_exceeded'
  | 'lock_unavailable' | 'channel' | 'no_owner' | 'closed' | 'no_randomness' | 'in_use'
  | 'invalid_media' | 'download_failed';

export interface WaClient {
  /** Calls `callback` for every `event`; returns a function that unsubscribes.
   *  Exceptions thrown by the callback are logged and never stop the client. */
  on<K extends WaEventName>(event: K, callback: (data: WaEvents[K]) => void): () => void;
}
"#;

/// The machine-readable kind of a [`WaError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The options object is wrong.
    InvalidOptions,
    /// `connect` while connecting or connected.
    AlreadyConnected,
    /// The command needs an open connection.
    NotOpen,
    /// `requestPairingCode` outside QR linking.
    NotWaitingForScan,
    /// The phone number is not usable.
    InvalidPhoneNumber,
    /// The recipient (number or JID) or the text is not usable.
    InvalidRecipient,
    /// The engine could not send.
    SendFailed,
    /// A file to send is empty or not bytes, a Blob or a base64 data URL; or
    /// a message to download holds no media.
    InvalidMedia,
    /// A download failed (network, or the file does not decrypt).
    DownloadFailed,
    /// IndexedDB failed.
    Storage,
    /// IndexedDB is out of space.
    QuotaExceeded,
    /// The Web Locks API is missing (not a secure context).
    LockUnavailable,
    /// `BroadcastChannel` failed.
    Channel,
    /// A following tab's command found no owning tab.
    NoOwner,
    /// The client was closed.
    Closed,
    /// The browser gave no randomness.
    NoRandomness,
    /// The session is open in a tab (`removeSession`).
    InUse,
}

impl ErrorCode {
    /// The code's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidOptions => "invalid_options",
            Self::AlreadyConnected => "already_connected",
            Self::NotOpen => "not_open",
            Self::NotWaitingForScan => "not_waiting_for_scan",
            Self::InvalidPhoneNumber => "invalid_phone_number",
            Self::InvalidRecipient => "invalid_recipient",
            Self::SendFailed => "send_failed",
            Self::InvalidMedia => "invalid_media",
            Self::DownloadFailed => "download_failed",
            Self::Storage => "storage",
            Self::QuotaExceeded => "quota_exceeded",
            Self::LockUnavailable => "lock_unavailable",
            Self::Channel => "channel",
            Self::NoOwner => "no_owner",
            Self::Closed => "closed",
            Self::NoRandomness => "no_randomness",
            Self::InUse => "in_use",
        }
    }
}

/// The one error class of the JS API: every rejected promise and thrown
/// error of `WaClient` is a `WaError` (which is also an `Error`), with a
/// machine-readable `code`.
#[wasm_bindgen]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaError {
    code: String,
    message: String,
}

#[wasm_bindgen]
impl WaError {
    /// The machine-readable code (see `WaErrorCode`).
    #[wasm_bindgen(getter, unchecked_return_type = "WaErrorCode")]
    pub fn code(&self) -> String {
        self.code.clone()
    }

    /// A human-readable message.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.message.clone()
    }

    /// Always `"WaError"`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "WaError".to_owned()
    }

    /// `WaError [code]: message`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_text(&self) -> String {
        format!("WaError [{}]: {}", self.code, self.message)
    }
}

impl WaError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }

    /// An error with a code received from another tab.
    pub(crate) fn remote(code: String, message: String) -> Self {
        Self { code, message }
    }

    /// The code's text.
    pub fn code_text(&self) -> &str {
        &self.code
    }

    /// The message.
    pub fn message_text(&self) -> &str {
        &self.message
    }

    /// As a thrown JS value, an instance of `WaError` (and of `Error`).
    pub fn into_js(self) -> JsValue {
        let value = JsValue::from(self);
        chain_to_error_prototype(&value);
        value
    }
}

/// Makes `WaError.prototype` inherit from `Error.prototype` (once), so
/// `error instanceof Error` holds and consoles print it as an error.
fn chain_to_error_prototype(instance: &JsValue) {
    use js_sys::Object;
    let Some(instance) = wasm_bindgen::JsCast::dyn_ref::<Object>(instance) else {
        return;
    };
    let prototype = Object::get_prototype_of(instance);
    let error_prototype = Object::get_prototype_of(&js_sys::Error::new(""));
    if Object::get_prototype_of(&prototype) != error_prototype {
        Object::set_prototype_of(&prototype, &error_prototype);
    }
}

impl From<ClientError> for WaError {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::AlreadyConnected(_) => ErrorCode::AlreadyConnected,
            ClientError::NotOpen(_) => ErrorCode::NotOpen,
            ClientError::NotWaitingForScan(_) => ErrorCode::NotWaitingForScan,
            ClientError::InvalidPhoneNumber(_) => ErrorCode::InvalidPhoneNumber,
            ClientError::Address(_) => ErrorCode::InvalidRecipient,
            ClientError::Download(_) => ErrorCode::DownloadFailed,
            _ => ErrorCode::SendFailed,
        };
        Self::new(code, error.to_string())
    }
}

impl From<StoreError> for WaError {
    fn from(error: StoreError) -> Self {
        let code = match error {
            StoreError::QuotaExceeded => ErrorCode::QuotaExceeded,
            _ => ErrorCode::Storage,
        };
        Self::new(code, error.to_string())
    }
}

impl From<super::IdbError> for WaError {
    fn from(error: super::IdbError) -> Self {
        let code = match error {
            super::IdbError::QuotaExceeded => ErrorCode::QuotaExceeded,
            _ => ErrorCode::Storage,
        };
        Self::new(code, error.to_string())
    }
}

/// `WaClient.open`'s options, checked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The session name.
    pub session: String,
    /// The engine's configuration.
    pub config: ClientConfig,
    /// The console log level.
    pub log_level: LogLevel,
}

fn invalid(message: impl Into<String>) -> WaError {
    WaError::new(ErrorCode::InvalidOptions, message)
}

impl Options {
    /// Reads and checks the options object.
    pub fn from_js(options: &JsValue) -> Result<Self, WaError> {
        if !options.is_object() {
            return Err(invalid("options must be an object"));
        }
        let session = string_field(options, "session").map_err(invalid)?;
        if session.is_empty() || session.len() > 200 {
            return Err(invalid("session must be 1 to 200 characters"));
        }
        let mut config = ClientConfig::default();
        if let Some(url) = optional_string_field(options, "url").map_err(invalid)? {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(invalid("url must start with ws:// or wss://"));
            }
            config.url = url;
        }
        if let Some(root) = optional_string_field(options, "rootKey").map_err(invalid)? {
            let bytes = hex::decode(root.trim()).map_err(|_| invalid("rootKey must be hex"))?;
            config.server_root = PublicKey::from_slice(&bytes)
                .map_err(|_| invalid("rootKey must be a 32-byte public key"))?;
        }
        if let Some(browser) = present(options, "browser") {
            let [os, name, version] = as_strings(&browser)
                .and_then(|parts| <[String; 3]>::try_from(parts).ok())
                .ok_or_else(|| invalid("browser must be three strings: [os, name, version]"))?;
            config.browser = Browser { os, name, version };
        }
        if let Some(version) = present(options, "version") {
            let parts: Option<Vec<u32>> = version.dyn_ref::<js_sys::Array>().and_then(|parts| {
                parts
                    .iter()
                    .map(|part| as_u64(&part).and_then(|n| u32::try_from(n).ok()))
                    .collect()
            });
            config.version = parts
                .and_then(|parts| <[u32; 3]>::try_from(parts).ok())
                .ok_or_else(|| invalid("version must be three integers: [major, minor, patch]"))?;
        }
        config.push_name = optional_string_field(options, "pushName").map_err(invalid)?;
        if let Some(reconnect) = present(options, "reconnect") {
            if !reconnect.is_object() {
                return Err(invalid("reconnect must be an object"));
            }
            let integer = |key: &str| {
                present(&reconnect, key)
                    .map(|value| {
                        as_u64(&value)
                            .ok_or_else(|| invalid(format!("reconnect.{key} must be an integer")))
                    })
                    .transpose()
            };
            let backoff: &mut BackoffConfig = &mut config.reconnect.backoff;
            if let Some(attempts) = integer("maxAttempts")? {
                backoff.max_attempts = Some(
                    u32::try_from(attempts)
                        .map_err(|_| invalid("reconnect.maxAttempts is too large"))?,
                );
            }
            if let Some(ms) = integer("firstDelayMs")? {
                backoff.first_delay = Duration::from_millis(ms.max(1));
            }
            if let Some(ms) = integer("maxDelayMs")? {
                backoff.max_delay = Duration::from_millis(ms.max(1));
            }
            if let Some(key) =
                unknown_key(&reconnect, &["maxAttempts", "firstDelayMs", "maxDelayMs"])
            {
                return Err(invalid(format!("unknown option `reconnect.{key}`")));
            }
        }
        let log_level = match optional_string_field(options, "logLevel").map_err(invalid)? {
            None => LogLevel::Warn,
            Some(level) => LogLevel::parse(&level)
                .ok_or_else(|| invalid(format!("unknown logLevel {level:?}")))?,
        };
        if let Some(key) = unknown_key(options, OPTION_KEYS) {
            return Err(invalid(format!("unknown option `{key}`")));
        }
        Ok(Self {
            session,
            config,
            log_level,
        })
    }
}

/// The keys of `WaClientOptions`.
const OPTION_KEYS: &[&str] = &[
    "session",
    "url",
    "rootKey",
    "browser",
    "version",
    "pushName",
    "reconnect",
    "logLevel",
];

fn connection_js(update: &ConnectionUpdate) -> JsValue {
    Object::new()
        .set("state", update.state.as_str())
        .set("reason", optional_string(update.reason_name()))
        .set("code", update.code().map_or(JsValue::NULL, JsValue::from))
        .set("willReconnect", update.will_reconnect)
        .set("retryInMs", optional_number(update.retry_in_ms))
        .set("attempt", update.attempt)
        .into_js()
}

fn message_only(message: String) -> JsValue {
    Object::new().set("message", message).into_js()
}

/// An engine event as `(event name, payload)`; `None` for events the JS API
/// does not expose.
pub fn event_js(event: &Event) -> Option<(&'static str, JsValue)> {
    Some(match event {
        Event::Connection(update) => ("connection", connection_js(update)),
        Event::Qr {
            code,
            svg,
            expires_at,
        } => (
            "qr",
            Object::new()
                .set("qr", code.as_str())
                .set("svg", svg.as_str())
                .set("expiresAt", number(*expires_at))
                .into_js(),
        ),
        Event::PairingCode { code, expires_at } => (
            "pairing-code",
            Object::new()
                .set("code", code.as_str())
                .set("expiresAt", number(*expires_at))
                .into_js(),
        ),
        Event::PairingCodeFailed { error } => {
            ("pairing-code-failed", message_only(error.to_string()))
        }
        Event::Paired {
            me,
            lid,
            platform,
            business_name,
        } => (
            "paired",
            Object::new()
                .set("me", me.as_str())
                .set("lid", optional_string(lid.as_deref()))
                .set("platform", optional_string(platform.as_deref()))
                .set("businessName", optional_string(business_name.as_deref()))
                .into_js(),
        ),
        Event::PairingFailed { error } => ("pairing-failed", message_only(error.to_string())),
        Event::PreKeysUploaded { count } => (
            "pre-keys-uploaded",
            Object::new().set("count", *count).into_js(),
        ),
        Event::Message(message) => ("message", message_js(message)),
        Event::Receipt(receipt) => (
            "receipt",
            Object::new()
                .set("ids", strings(&receipt.ids))
                .set("chat", receipt.chat.to_string())
                .set("from", receipt.from.to_string())
                .set(
                    "type",
                    match &receipt.kind {
                        ReceiptKind::Delivered => "delivered",
                        ReceiptKind::Read => "read",
                        ReceiptKind::Sender => "sender",
                        ReceiptKind::Retry => "retry",
                        ReceiptKind::Other(kind) => kind.as_str(),
                    },
                )
                .set("timestamp", number(receipt.timestamp))
                .into_js(),
        ),
        Event::MessageStatus(update) => {
            let (status, error) = match &update.status {
                MessageStatus::Sent => ("sent", None),
                MessageStatus::Delivered => ("delivered", None),
                MessageStatus::Read => ("read", None),
                MessageStatus::Failed(failure) => ("failed", Some(failure.to_string())),
            };
            (
                "message-status",
                Object::new()
                    .set("id", update.id.as_str())
                    .set("chat", update.chat.to_string())
                    .set("status", status)
                    .set("error", optional_string(error.as_deref()))
                    .into_js(),
            )
        }
        Event::IdentityChanged { jid } => (
            "identity-changed",
            Object::new().set("jid", jid.to_string()).into_js(),
        ),
        Event::StoreFailed { error } => {
            let error = WaError::from(error.clone());
            ("error", error_js(&error))
        }
        _ => return None,
    })
}

fn message_js(message: &IncomingMessage) -> JsValue {
    let object = Object::new()
        .set("id", message.id.as_str())
        .set("chat", message.chat.to_string())
        .set("sender", message.sender.to_string())
        .set("fromMe", message.from_me)
        .set("pushName", optional_string(message.push_name.as_deref()))
        .set("timestamp", number(message.timestamp));
    match &message.content {
        MessageContent::Text(text) => object.set("type", "text").set("text", text.as_str()),
        MessageContent::Document(document) => object.set("type", "document").set(
            "document",
            media_js(&MediaFields {
                mimetype: &document.mimetype,
                caption: document.caption.as_deref(),
                file_length: document.file_length,
                url: &document.url,
                direct_path: &document.direct_path,
                media_key: &document.media_key,
                file_enc_sha256: &document.file_enc_sha256,
                file_sha256: &document.file_sha256,
            })
            .set("fileName", document.file_name.as_str())
            .set("title", document.title.as_str()),
        ),
        MessageContent::Image(image) => object.set("type", "image").set(
            "image",
            media_js(&MediaFields {
                mimetype: &image.mimetype,
                caption: image.caption.as_deref(),
                file_length: image.file_length,
                url: &image.url,
                direct_path: &image.direct_path,
                media_key: &image.media_key,
                file_enc_sha256: &image.file_enc_sha256,
                file_sha256: &image.file_sha256,
            })
            .set("width", image.width.map_or(JsValue::NULL, JsValue::from))
            .set("height", image.height.map_or(JsValue::NULL, JsValue::from)),
        ),
        MessageContent::Unsupported { kind } => {
            object.set("type", "unsupported").set("kind", kind.as_str())
        }
    }
    .into_js()
}

/// What documents and images share in a `message` event.
struct MediaFields<'a> {
    mimetype: &'a str,
    caption: Option<&'a str>,
    file_length: u64,
    url: &'a str,
    direct_path: &'a str,
    media_key: &'a [u8],
    file_enc_sha256: &'a [u8],
    file_sha256: &'a [u8],
}

fn media_js(media: &MediaFields<'_>) -> Object {
    let bytes = |bytes: &[u8]| js_sys::Uint8Array::from(bytes);
    Object::new()
        .set("mimetype", media.mimetype)
        .set("caption", optional_string(media.caption))
        .set("fileLength", number(media.file_length))
        .set("url", media.url)
        .set("directPath", media.direct_path)
        .set("mediaKey", bytes(media.media_key))
        .set("fileEncSha256", bytes(media.file_enc_sha256))
        .set("fileSha256", bytes(media.file_sha256))
}

/// The `error` event's payload.
pub fn error_js(error: &WaError) -> JsValue {
    Object::new()
        .set("code", error.code.as_str())
        .set("message", error.message.as_str())
        .into_js()
}

fn last_disconnect_js(last: &LastDisconnect) -> JsValue {
    Object::new()
        .set("reason", last.reason.name())
        .set(
            "code",
            last.reason.code().map_or(JsValue::NULL, JsValue::from),
        )
        .set("at", number(last.at))
        .into_js()
}

/// The `stats` of a status.
struct StatsView<'a>(Option<&'a crate::client::Stats>);

impl StatsView<'_> {
    fn to_js(&self) -> JsValue {
        let count = |pick: fn(&crate::client::Stats) -> u64| number(self.0.map_or(0, pick));
        Object::new()
            .set("connects", count(|s| s.connects))
            .set("reconnects", count(|s| s.reconnects))
            .set("messagesIn", count(|s| s.messages_in))
            .set("messagesOut", count(|s| s.messages_out))
            .set("retriesSent", count(|s| s.retries_sent))
            .set("retriesAnswered", count(|s| s.retries_answered))
            .set("duplicates", count(|s| s.duplicates))
            .set(
                "lastActivity",
                optional_number(self.0.and_then(|s| s.last_activity)),
            )
            .into_js()
    }
}

/// `wa.status()` of the owning tab.
pub fn status_js(session: &str, status: &Status, duplicates: &[String]) -> JsValue {
    Object::new()
        .set("session", session)
        .set("state", status.state.as_str())
        .set("role", "owner")
        .set("me", optional_string(status.me.as_deref()))
        .set("lid", optional_string(status.lid.as_deref()))
        .set("sessionStored", status.session_stored)
        .set(
            "reconnecting",
            status.reconnecting.map_or(JsValue::NULL, |r| {
                Object::new()
                    .set("attempt", r.attempt)
                    .set("at", number(r.at))
                    .into_js()
            }),
        )
        .set(
            "lastDisconnect",
            status
                .last_disconnect
                .as_ref()
                .map_or(JsValue::NULL, last_disconnect_js),
        )
        .set("stats", StatsView(Some(&status.stats)).to_js())
        .set("duplicates", strings(duplicates))
        .into_js()
}

/// The status before the owning tab has said anything.
pub fn unknown_status_js(session: &str) -> JsValue {
    Object::new()
        .set("session", session)
        .set("state", "closed")
        .set("role", "follower")
        .set("me", JsValue::NULL)
        .set("lid", JsValue::NULL)
        .set("sessionStored", false)
        .set("reconnecting", JsValue::NULL)
        .set("lastDisconnect", JsValue::NULL)
        .set("stats", StatsView(None).to_js())
        .set("duplicates", strings::<&str>([]))
        .into_js()
}
