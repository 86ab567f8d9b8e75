//! What the engine hands back: [`Output`]s for the shell, [`Event`]s for the
//! application, and the [`Status`] snapshot.

use core::fmt;

use super::iq::{IqError, QueryId};
use super::messaging::{IncomingMessage, MessageStatusUpdate, OnWhatsApp, Receipt};
use super::policy::{CloseCause, Disposition, RetryReason, StopKind};
use crate::binary::Jid;
use crate::binary::Node;
use crate::pairing::PairingError;
use crate::store::{Changes, StoreError};

/// One thing the shell must do, in order.
///
/// The shell takes outputs with [`super::Client::poll_output`] until it
/// returns `None` and acts on each before taking the next. After
/// [`Output::Persist`] or [`Output::Wipe`] nothing else comes out until the
/// shell reports the result with [`super::Client::handle_persisted`]: what
/// depends on stored state never leaves before the state is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a WebSocket to `url` and report [`super::Client::handle_connected`]
    /// (or [`super::Client::handle_disconnected`] if it fails).
    Connect {
        /// Where to connect.
        url: String,
    },
    /// Write these bytes to the socket (one WebSocket binary message).
    Send(Vec<u8>),
    /// Close the socket. Report nothing more about it afterwards: the engine
    /// has already moved on.
    Disconnect,
    /// Commit these changes atomically, then report the result.
    Persist(Changes),
    /// Delete every record of this session, then report the result.
    Wipe,
    /// Tell the application.
    Event(Event),
}

/// The connection states an application sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Opening the socket.
    Connecting,
    /// Running the Noise handshake and waiting for the server's first answer.
    Handshaking,
    /// Showing QR codes (or a pairing code) and waiting for the phone.
    WaitingForScan,
    /// The phone accepted; storing the link and confirming it.
    Pairing,
    /// Logging in with stored credentials.
    LoggingIn,
    /// Logged in and usable.
    Open,
    /// Waiting to reconnect after a connection ended.
    Reconnecting,
    /// Not connected; the session (if any) is kept.
    Closed,
    /// Not linked any more; local state is wiped.
    LoggedOut,
    /// Another connection took over this session; the engine will not reconnect by itself.
    Replaced,
}

impl ConnectionState {
    /// The state's name in the JavaScript API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Handshaking => "handshaking",
            Self::WaitingForScan => "qr",
            Self::Pairing => "pairing",
            Self::LoggingIn => "logging_in",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
            Self::LoggedOut => "logged_out",
            Self::Replaced => "replaced",
        }
    }

    /// Whether a socket is (being) used in this state.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            Self::Connecting
                | Self::Handshaking
                | Self::WaitingForScan
                | Self::Pairing
                | Self::LoggingIn
                | Self::Open
        )
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the connection state changed after a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// How the connection ended.
    pub cause: CloseCause,
    /// What the reconnect policy made of it.
    pub disposition: Disposition,
}

impl CloseReason {
    /// A stable snake_case name for the reason (for logs and the JS API).
    pub fn name(&self) -> &'static str {
        match &self.disposition {
            Disposition::RestartNow => "restart_required",
            Disposition::Retry(reason) => retry_name(*reason),
            Disposition::Stop(kind) => stop_name(*kind),
        }
    }

    /// The numeric code: the `stream:error` code, the `failure` reason or the
    /// Baileys-compatible status code.
    pub fn code(&self) -> Option<u16> {
        self.cause.status_code()
    }
}

fn retry_name(reason: RetryReason) -> &'static str {
    match reason {
        RetryReason::NetworkLost => "network_lost",
        RetryReason::KeepaliveTimeout => "keepalive_timeout",
        RetryReason::HandshakeFailed => "handshake_failed",
        RetryReason::StreamEnded => "stream_ended",
        RetryReason::ServerTimeout => "server_timeout",
        RetryReason::ConnectionClosed => "connection_closed",
        RetryReason::ServerError => "server_error",
        RetryReason::ServiceUnavailable => "service_unavailable",
        RetryReason::UnknownStreamError(_) => "stream_error",
        RetryReason::UnknownFailure(_) => "login_failure",
        RetryReason::RestartLoop => "restart_loop",
        RetryReason::StoreFailed => "store_failed",
        RetryReason::ProtocolError => "protocol_error",
        RetryReason::PairingFailed => "pairing_failed",
    }
}

fn stop_name(kind: StopKind) -> &'static str {
    use super::policy::{LocalAction, LogoutReason};
    match kind {
        StopKind::LoggedOut(LogoutReason::LoggedOut) => "logged_out",
        StopKind::LoggedOut(LogoutReason::DeviceRemoved) => "device_removed",
        StopKind::LoggedOut(LogoutReason::Locked) => "locked",
        StopKind::LoggedOut(LogoutReason::Banned) => "banned",
        StopKind::Replaced => "replaced",
        StopKind::Outdated => "client_outdated",
        StopKind::TemporarilyBanned { .. } => "temporarily_banned",
        StopKind::BadUserAgent => "bad_user_agent",
        StopKind::Forbidden => "forbidden",
        StopKind::LoginRejected(_) => "login_rejected",
        StopKind::UntrustedServer => "untrusted_server",
        StopKind::MultiDeviceMismatch => "multi_device_mismatch",
        StopKind::QrExhausted => "qr_exhausted",
        StopKind::UserRequested(LocalAction::Logout) => "logout",
        StopKind::UserRequested(LocalAction::ClearSession) => "session_cleared",
        StopKind::UserRequested(LocalAction::Disconnect) => "disconnected",
        StopKind::GaveUp => "gave_up",
    }
}

/// A change of connection state (the `connection` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionUpdate {
    /// The new state.
    pub state: ConnectionState,
    /// Why, when a connection ended.
    pub reason: Option<CloseReason>,
    /// Whether the engine will reconnect by itself.
    pub will_reconnect: bool,
    /// When it will, in milliseconds from now (0 for at once).
    pub retry_in_ms: Option<u64>,
    /// The reconnect attempt this is (from 1; 0 when not retrying).
    pub attempt: u32,
}

impl ConnectionUpdate {
    /// The reason's code (see [`CloseReason::code`]).
    pub fn code(&self) -> Option<u16> {
        self.reason.as_ref().and_then(CloseReason::code)
    }

    /// The reason's name (see [`CloseReason::name`]).
    pub fn reason_name(&self) -> Option<&'static str> {
        self.reason.as_ref().map(CloseReason::name)
    }
}

/// Something the application may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection state changed.
    Connection(ConnectionUpdate),
    /// A QR code to show until `expires_at` (unix ms); a new one follows.
    Qr {
        /// The QR text.
        code: String,
        /// The same as a small SVG document (one path), ready for a page.
        svg: String,
        /// When the code stops being valid, unix milliseconds.
        expires_at: u64,
    },
    /// The code to type on the phone (`XXXX-XXXX`), after
    /// [`super::Client::request_pairing_code`] was accepted by the server.
    PairingCode {
        /// The code as shown to the user.
        code: String,
        /// When it stops being usable, unix milliseconds.
        expires_at: u64,
    },
    /// A pairing-code request failed; QR linking goes on.
    PairingCodeFailed {
        /// What the server said.
        error: IqError,
    },
    /// The phone linked this device; logging in follows.
    Paired {
        /// Our device JID (`phone:device@s.whatsapp.net`).
        me: String,
        /// Our LID device JID, when the server sent one.
        lid: Option<String>,
        /// The phone's platform (`smba`, `android`, …).
        platform: Option<String>,
        /// The business name, for business accounts.
        business_name: Option<String>,
    },
    /// The phone's pairing result did not verify; the link was refused.
    PairingFailed {
        /// What was wrong.
        error: PairingError,
    },
    /// One-time pre-keys were uploaded.
    PreKeysUploaded {
        /// How many.
        count: u32,
    },
    /// The answer to [`super::Client::query`].
    QueryResult {
        /// The query.
        id: QueryId,
        /// The response node, or why there is none.
        result: Result<Node, IqError>,
    },
    /// Storage failed (the connection was closed if it depended on it).
    StoreFailed {
        /// The error the shell reported.
        error: StoreError,
    },
    /// A message arrived (decrypted, stored, acknowledged).
    Message(Box<IncomingMessage>),
    /// A contact's device acknowledged one of our messages (or our own
    /// device reported reading one of theirs).
    Receipt(Receipt),
    /// The status of a message we sent changed.
    MessageStatus(MessageStatusUpdate),
    /// The answer to [`super::Client::is_on_whatsapp`].
    OnWhatsApp {
        /// The query.
        id: QueryId,
        /// One entry per number asked about, or why there is none.
        result: Result<Vec<OnWhatsApp>, IqError>,
    },
    /// A contact's device presented a new identity key (re-installed); the
    /// new key is trusted and its old session archived.
    IdentityChanged {
        /// The device, as a JID.
        jid: Jid,
    },
}

/// A reconnect that is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectStatus {
    /// Its number in the current sequence (from 1).
    pub attempt: u32,
    /// When it happens, unix milliseconds.
    pub at: u64,
}

/// How the last connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDisconnect {
    /// Why.
    pub reason: CloseReason,
    /// When, unix milliseconds.
    pub at: u64,
}

/// Counters over the client's lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sockets opened (first connections and reconnects).
    pub connects: u64,
    /// Of those, the ones opened automatically after a connection ended.
    pub reconnects: u64,
    /// `message` stanzas received.
    pub messages_in: u64,
    /// `message` stanzas sent.
    pub messages_out: u64,
    /// Incoming messages that could not be decrypted (a retry receipt was sent).
    pub retries_sent: u64,
    /// Retry receipts from other devices answered by re-encrypting.
    pub retries_answered: u64,
    /// Incoming messages recognised as already processed.
    pub duplicates: u64,
    /// When anything was last received or sent, unix milliseconds.
    pub last_activity: Option<u64>,
}

/// A snapshot of the client for a status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The connection state.
    pub state: ConnectionState,
    /// Our device JID, once linked.
    pub me: Option<String>,
    /// Our LID device JID, once known.
    pub lid: Option<String>,
    /// Whether linked credentials are stored.
    pub session_stored: bool,
    /// The scheduled reconnect, if any.
    pub reconnecting: Option<ReconnectStatus>,
    /// How the last connection ended, if one did.
    pub last_disconnect: Option<LastDisconnect>,
    /// Counters.
    pub stats: Stats,
}
