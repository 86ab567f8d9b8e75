//! The reconnect policy, as pure functions: what to do after a connection ends.
//!
//! Owns: the catalogue of ways a connection ends ([`CloseCause`]), their
//! classification ([`classify`] into [`Disposition`]), the Fibonacci back-off
//! with jitter ([`Backoff`]) and the one call the engine makes after every
//! close ([`decide`]). Does not own timers, sockets or credentials: it says
//! how long to wait and whether to wipe; the engine and shell act on it.
//!
//! Time is an argument (`now`, unix milliseconds), randomness too (for
//! jitter). References like "facts §7.1" point to the protocol fact sheet;
//! "B" is Baileys and "W" is whatsmeow, as there.

use core::time::Duration;

use rand_core::Rng;

// ---------------------------------------------------------------------------
// Causes
// ---------------------------------------------------------------------------

/// Everything that ends a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseCause {
    /// The socket failed, could not be opened, or was closed by the peer.
    Transport(TransportClose),
    /// A keepalive ping went unanswered (facts §6: W 10 s per ping, B 35 s
    /// without any frame).
    KeepaliveTimeout,
    /// The Noise handshake failed.
    HandshakeFailed(HandshakeFailure),
    /// The server sent `<stream:error>` (facts §7.1).
    StreamError(StreamError),
    /// The server ended the stream (`xmlstreamend`, facts §7.1).
    StreamEnd,
    /// The server refused the login with `<failure>` (facts §7.2).
    Failure(LoginFailure),
    /// The phone has no multi-device support (`<ib><downgrade_webclient/>`,
    /// facts §5.1 step 9).
    MultiDeviceMismatch,
    /// Every QR ref was shown and none was scanned (facts §5.1 step 5).
    QrRefsExhausted,
    /// The user or application ended the connection.
    Local(LocalAction),
    /// Storing state the connection depended on failed (the shell reported a
    /// failed commit); what depended on it was dropped.
    StoreFailed,
    /// The server sent something the connection cannot survive: a frame that
    /// fails authentication, a broken stream, a handshake message out of order.
    ProtocolError,
    /// The phone's pairing result did not verify (bad HMAC or signature).
    PairingFailed,
}

/// How the transport ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportClose {
    /// What happened.
    pub kind: TransportCloseKind,
    /// The WebSocket close code, when the socket closed with one.
    pub websocket_code: Option<u16>,
}

/// What happened to the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCloseKind {
    /// The socket could not be opened.
    ConnectFailed,
    /// The socket reported an error.
    Error,
    /// The peer closed the socket.
    ClosedByPeer,
}

/// Why the Noise handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The server did not answer in time.
    Timeout,
    /// A handshake message did not parse.
    Malformed,
    /// Decryption or authentication of a handshake message failed.
    Crypto,
    /// The server's certificate chain does not verify against the pinned root.
    UntrustedCertificate,
}

/// A `<stream:error>`: its `code` attribute and `<conflict type>` child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamError {
    /// The `code` attribute, if any.
    pub code: Option<StreamErrorCode>,
    /// The `type` of a `<conflict>` child, if any.
    pub conflict: Option<ConflictKind>,
}

/// A `stream:error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorCode {
    /// 401: logged out (B `loggedOut`).
    Unauthorized,
    /// 403: forbidden (B `forbidden`).
    Forbidden,
    /// 405: client outdated.
    Outdated,
    /// 408: timed out (B `timedOut`).
    TimedOut,
    /// 428: connection closed (B `connectionClosed`).
    ConnectionClosed,
    /// 440: replaced by another connection (B `connectionReplaced`).
    Replaced,
    /// 500: internal error (B `badSession`).
    InternalError,
    /// 503: service unavailable.
    ServiceUnavailable,
    /// 515: restart required, sent after pairing.
    RestartRequired,
    /// Any other code.
    Other(u16),
}

impl StreamErrorCode {
    /// The named code for `code`, or [`StreamErrorCode::Other`].
    pub fn from_code(code: u16) -> Self {
        match code {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            405 => Self::Outdated,
            408 => Self::TimedOut,
            428 => Self::ConnectionClosed,
            440 => Self::Replaced,
            500 => Self::InternalError,
            503 => Self::ServiceUnavailable,
            515 => Self::RestartRequired,
            other => Self::Other(other),
        }
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::Outdated => 405,
            Self::TimedOut => 408,
            Self::ConnectionClosed => 428,
            Self::Replaced => 440,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
            Self::RestartRequired => 515,
            Self::Other(code) => code,
        }
    }
}

/// The `type` of a `<conflict>` child of `stream:error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// `replaced`: another connection took over this device session.
    Replaced,
    /// `device_removed`: the device was unlinked from the phone.
    DeviceRemoved,
    /// Any other type.
    Other,
}

/// A `<failure>` sent instead of `<success>` at login (facts §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    /// The `reason` attribute.
    pub reason: FailureReason,
    /// The `code` attribute of a temporary ban (402).
    pub ban_reason: Option<BanReason>,
    /// The `expire` attribute of a temporary ban: how long it lasts.
    pub expire: Option<Duration>,
    /// The `message` attribute.
    pub message: Option<String>,
    /// The `logout_message_header` attribute (seen with 403).
    pub logout_message_header: Option<String>,
    /// The `logout_message_subtext` attribute (seen with 403).
    pub logout_message_subtext: Option<String>,
}

impl LoginFailure {
    /// A failure with only its reason.
    pub fn new(reason: FailureReason) -> Self {
        Self {
            reason,
            ban_reason: None,
            expire: None,
            message: None,
            logout_message_header: None,
            logout_message_subtext: None,
        }
    }
}

/// The `reason` of a login `<failure>` (W `ConnectFailureReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// 400: generic.
    Generic,
    /// 401: logged out.
    LoggedOut,
    /// 402: temporarily banned.
    TemporarilyBanned,
    /// 403: the main device is gone; WhatsApp Web calls it LOCKED.
    Locked,
    /// 405: client version outdated.
    ClientOutdated,
    /// 406: unknown logout; WhatsApp Web calls it BANNED.
    Banned,
    /// 409: bad user agent.
    BadUserAgent,
    /// 413: Messenger token expired.
    TokenExpired,
    /// 414: Messenger token invalid.
    TokenInvalid,
    /// 415: not found.
    NotFound,
    /// 418: client unknown.
    ClientUnknown,
    /// 500: internal server error.
    InternalServerError,
    /// 501: experimental.
    Experimental,
    /// 503: service unavailable.
    ServiceUnavailable,
    /// Any other reason.
    Other(u16),
}

impl FailureReason {
    /// The named reason for `code`, or [`FailureReason::Other`].
    pub fn from_code(code: u16) -> Self {
        match code {
            400 => Self::Generic,
            401 => Self::LoggedOut,
            402 => Self::TemporarilyBanned,
            403 => Self::Locked,
            405 => Self::ClientOutdated,
            406 => Self::Banned,
            409 => Self::BadUserAgent,
            413 => Self::TokenExpired,
            414 => Self::TokenInvalid,
            415 => Self::NotFound,
            418 => Self::ClientUnknown,
            500 => Self::InternalServerError,
            501 => Self::Experimental,
            503 => Self::ServiceUnavailable,
            other => Self::Other(other),
        }
    }

    /// The numeric reason.
    pub fn code(self) -> u16 {
        match self {
            Self::Generic => 400,
            Self::LoggedOut => 401,
            Self::TemporarilyBanned => 402,
            Self::Locked => 403,
            Self::ClientOutdated => 405,
            Self::Banned => 406,
            Self::BadUserAgent => 409,
            Self::TokenExpired => 413,
            Self::TokenInvalid => 414,
            Self::NotFound => 415,
            Self::ClientUnknown => 418,
            Self::InternalServerError => 500,
            Self::Experimental => 501,
            Self::ServiceUnavailable => 503,
            Self::Other(code) => code,
        }
    }
}

/// Why an account was temporarily banned (the `code` of a 402 failure; W
/// `TempBanReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// 101: too many messages to people who do not have the account.
    SentToTooManyPeople,
    /// 102: too many people blocked the account.
    BlockedByUsers,
    /// 103: too many groups with people who do not have the account.
    CreatedTooManyGroups,
    /// 104: the same message to too many people.
    SentTooManySameMessage,
    /// 106: too many messages to a broadcast list.
    BroadcastList,
    /// Any other code.
    Other(u32),
}

impl BanReason {
    /// The named reason for `code`, or [`BanReason::Other`].
    pub fn from_code(code: u32) -> Self {
        match code {
            101 => Self::SentToTooManyPeople,
            102 => Self::BlockedByUsers,
            103 => Self::CreatedTooManyGroups,
            104 => Self::SentTooManySameMessage,
            106 => Self::BroadcastList,
            other => Self::Other(other),
        }
    }

    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Self::SentToTooManyPeople => 101,
            Self::BlockedByUsers => 102,
            Self::CreatedTooManyGroups => 103,
            Self::SentTooManySameMessage => 104,
            Self::BroadcastList => 106,
            Self::Other(code) => code,
        }
    }
}

/// A connection ended on purpose by the user or the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalAction {
    /// Log out: unlink on the server if connected, wipe local state.
    Logout,
    /// Wipe local state without talking to the server.
    ClearSession,
    /// Close the connection, keep the session.
    Disconnect,
}

impl CloseCause {
    /// The Baileys-compatible status code for this close (B `DisconnectReason`,
    /// facts §7.3), for applications that show or compare such codes.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            CloseCause::Transport(_) | CloseCause::StreamEnd => Some(428),
            CloseCause::KeepaliveTimeout | CloseCause::QrRefsExhausted => Some(408),
            CloseCause::HandshakeFailed(_) => None,
            CloseCause::StreamError(error) => Some(match (error.code, error.conflict) {
                (Some(code), _) => code.code(),
                (None, Some(ConflictKind::Replaced)) => 440,
                (None, Some(ConflictKind::DeviceRemoved)) => 401,
                (None, _) => 500,
            }),
            CloseCause::Failure(failure) => Some(failure.reason.code()),
            CloseCause::MultiDeviceMismatch => Some(411),
            CloseCause::Local(LocalAction::Logout) => Some(401),
            CloseCause::Local(_) => None,
            CloseCause::ProtocolError => Some(500),
            CloseCause::StoreFailed | CloseCause::PairingFailed => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/// What to do after a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Reconnect at once, without back-off (515 after pairing).
    RestartNow,
    /// Back off, then reconnect.
    Retry(RetryReason),
    /// Do not reconnect; tell the user.
    Stop(StopKind),
}

/// Why a reconnect is worth trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// The network or the socket failed.
    NetworkLost,
    /// The server stopped answering keepalives.
    KeepaliveTimeout,
    /// The handshake failed in a way that can be transient.
    HandshakeFailed,
    /// The server ended the stream (`xmlstreamend`).
    StreamEnded,
    /// `stream:error` 408.
    ServerTimeout,
    /// `stream:error` 428.
    ConnectionClosed,
    /// `stream:error` or `failure` 500.
    ServerError,
    /// `stream:error` or `failure` 503.
    ServiceUnavailable,
    /// A `stream:error` code the facts do not name (or none). W reconnects
    /// after any such error, so do we (with back-off).
    UnknownStreamError(Option<u16>),
    /// A `failure` reason the facts do not name. W would stop; we retry with
    /// back-off, since an unknown code is more likely new than permanent, and
    /// the back-off (and `max_attempts`, if set) bounds the cost.
    UnknownFailure(u16),
    /// The server asked for restarts again and again without a login in
    /// between: back off instead of looping.
    RestartLoop,
    /// Storage failed; retrying gives it time to recover (quota freed, lock
    /// released) while the back-off bounds the cost.
    StoreFailed,
    /// The server broke the protocol; a fresh connection usually recovers.
    ProtocolError,
    /// A pairing result did not verify; a new connection shows a new QR code.
    PairingFailed,
}

/// Why reconnecting stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The device is no longer linked: credentials are wiped.
    LoggedOut(LogoutReason),
    /// Another connection took over this session; never reconnect by itself.
    Replaced,
    /// The client version is too old (405).
    Outdated,
    /// The account is banned for a while (402).
    TemporarilyBanned {
        /// The ban's reason code.
        reason: Option<BanReason>,
        /// How long the ban lasts, from when it was received.
        expires_in: Option<Duration>,
    },
    /// The server refused the user agent (409).
    BadUserAgent,
    /// `stream:error` 403 (see [`classify`]).
    Forbidden,
    /// Another login `failure` on which W does not reconnect either.
    LoginRejected(FailureReason),
    /// The server's certificate does not verify against the pinned root.
    UntrustedServer,
    /// The phone lacks multi-device support.
    MultiDeviceMismatch,
    /// No QR code was scanned in time; the user must ask for a new one.
    QrExhausted,
    /// The user or application ended the connection.
    UserRequested(LocalAction),
    /// The back-off's `max_attempts` were used up.
    GaveUp,
}

/// Why the device is logged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutReason {
    /// `stream:error` 401 or `failure` 401.
    LoggedOut,
    /// `stream:error` with `<conflict type="device_removed"/>`.
    DeviceRemoved,
    /// `failure` 403 (LOCKED; W: main device gone).
    Locked,
    /// `failure` 406 (BANNED; W: unknown logout).
    Banned,
}

impl StopKind {
    /// Whether the credentials (and every other record) must be wiped.
    pub fn wipes_credentials(self) -> bool {
        matches!(
            self,
            StopKind::LoggedOut(_)
                | StopKind::UserRequested(LocalAction::Logout | LocalAction::ClearSession)
        )
    }

    /// The state the application sees after this stop.
    pub fn user_state(self) -> UserVisibleState {
        match self {
            StopKind::LoggedOut(_)
            | StopKind::UserRequested(LocalAction::Logout | LocalAction::ClearSession) => {
                UserVisibleState::LoggedOut
            }
            StopKind::Replaced => UserVisibleState::Replaced,
            _ => UserVisibleState::Closed,
        }
    }
}

/// Classifies how a connection ended.
///
/// | cause | disposition | source |
/// |---|---|---|
/// | transport error / closed by peer / connect failed | retry | W auto-reconnect on unexpected close (§7.4) |
/// | keepalive timeout | retry | W forces a reconnect, B closes with 408 (§6) |
/// | handshake: untrusted certificate | stop | retrying cannot fix a wrong server key |
/// | handshake: other | retry | transient |
/// | `stream:error` 515 | restart now | §5.1 step 8, §7.1 (W reconnects at once) |
/// | conflict `replaced` (any code), 440 | stop, replaced | §7.1 (W StreamReplaced, no reconnect) |
/// | conflict `device_removed`, 401 | stop, logged out, wipe | §7.1 (W LoggedOut, deletes the session; B 401) |
/// | `stream:error` 403 | stop (keep credentials) | B `forbidden`; no source logs out on it, so we neither loop nor wipe |
/// | `stream:error` 405 | stop, outdated | as `failure` 405 |
/// | `stream:error` 408, 428, 500, 503 | retry | §7.1 (W: 503 auto-reconnect), §7.3 |
/// | other `stream:error` | retry | §7.1 (W auto-reconnects) |
/// | `xmlstreamend` | retry | §7.1 (B 428) |
/// | `failure` 401, 403, 406 | stop, logged out, wipe | §7.2 (W deletes the session) |
/// | `failure` 402 | stop, temporary ban with expiry | §7.2 |
/// | `failure` 405 | stop, outdated | §3.2, §7.2 |
/// | `failure` 409 | stop, bad user agent | §7.2 |
/// | `failure` 400, 413, 414, 415, 418, 501 | stop, login rejected | §7.2 (W disables reconnect) |
/// | `failure` 500, 503 | retry | §7.2 (W auto-reconnects) |
/// | other `failure` | retry | see [`RetryReason::UnknownFailure`] |
/// | `downgrade_webclient` | stop | §5.1 step 9 |
/// | QR refs exhausted | stop | §5.1 step 5 (B closes with 408, W emits timeout) |
/// | store commit failed | retry | the server redelivers what was not acknowledged |
/// | protocol error (bad frame, broken stream) | retry | transient |
/// | pairing result does not verify | retry (new QR) | W sends an error and disconnects |
/// | logout, clear session | stop, logged out, wipe | the user asked |
/// | disconnect | stop, closed | the user asked |
pub fn classify(cause: &CloseCause) -> Disposition {
    match cause {
        CloseCause::Transport(_) => Disposition::Retry(RetryReason::NetworkLost),
        CloseCause::KeepaliveTimeout => Disposition::Retry(RetryReason::KeepaliveTimeout),
        CloseCause::HandshakeFailed(HandshakeFailure::UntrustedCertificate) => {
            Disposition::Stop(StopKind::UntrustedServer)
        }
        CloseCause::HandshakeFailed(_) => Disposition::Retry(RetryReason::HandshakeFailed),
        CloseCause::StreamError(error) => classify_stream_error(error),
        CloseCause::StreamEnd => Disposition::Retry(RetryReason::StreamEnded),
        CloseCause::Failure(failure) => classify_failure(failure),
        CloseCause::MultiDeviceMismatch => Disposition::Stop(StopKind::MultiDeviceMismatch),
        CloseCause::QrRefsExhausted => Disposition::Stop(StopKind::QrExhausted),
        CloseCause::Local(action) => Disposition::Stop(StopKind::UserRequested(*action)),
        CloseCause::StoreFailed => Disposition::Retry(RetryReason::StoreFailed),
        CloseCause::ProtocolError => Disposition::Retry(RetryReason::ProtocolError),
        CloseCause::PairingFailed => Disposition::Retry(RetryReason::PairingFailed),
    }
}

fn classify_stream_error(error: &StreamError) -> Disposition {
    let code = error.code.map(StreamErrorCode::code);
    // Same precedence as W: 515 first, then the conflict child, then the code.
    match (code, error.conflict) {
        (Some(515), _) => Disposition::RestartNow,
        (_, Some(ConflictKind::Replaced)) | (Some(440), _) => Disposition::Stop(StopKind::Replaced),
        (_, Some(ConflictKind::DeviceRemoved)) => {
            Disposition::Stop(StopKind::LoggedOut(LogoutReason::DeviceRemoved))
        }
        (Some(401), _) => Disposition::Stop(StopKind::LoggedOut(LogoutReason::LoggedOut)),
        (Some(403), _) => Disposition::Stop(StopKind::Forbidden),
        (Some(405), _) => Disposition::Stop(StopKind::Outdated),
        (Some(408), _) => Disposition::Retry(RetryReason::ServerTimeout),
        (Some(428), _) => Disposition::Retry(RetryReason::ConnectionClosed),
        (Some(500), _) => Disposition::Retry(RetryReason::ServerError),
        (Some(503), _) => Disposition::Retry(RetryReason::ServiceUnavailable),
        (code, _) => Disposition::Retry(RetryReason::UnknownStreamError(code)),
    }
}

fn classify_failure(failure: &LoginFailure) -> Disposition {
    let reason = failure.reason;
    match reason.code() {
        401 => Disposition::Stop(StopKind::LoggedOut(LogoutReason::LoggedOut)),
        403 => Disposition::Stop(StopKind::LoggedOut(LogoutReason::Locked)),
        406 => Disposition::Stop(StopKind::LoggedOut(LogoutReason::Banned)),
        402 => Disposition::Stop(StopKind::TemporarilyBanned {
            reason: failure.ban_reason,
            expires_in: failure.expire,
        }),
        405 => Disposition::Stop(StopKind::Outdated),
        409 => Disposition::Stop(StopKind::BadUserAgent),
        500 => Disposition::Retry(RetryReason::ServerError),
        503 => Disposition::Retry(RetryReason::ServiceUnavailable),
        400 | 413 | 414 | 415 | 418 | 501 => Disposition::Stop(StopKind::LoginRejected(
            FailureReason::from_code(reason.code()),
        )),
        other => Disposition::Retry(RetryReason::UnknownFailure(other)),
    }
}

// ---------------------------------------------------------------------------
// Back-off
// ---------------------------------------------------------------------------

/// The `n`-th Fibonacci number (0, 1, 1, 2, 3, 5, …), saturating at `u64::MAX`.
pub fn fibonacci(n: u32) -> u64 {
    let (mut current, mut next) = (0u64, 1u64);
    for _ in 0..n {
        let sum = current.saturating_add(next);
        current = next;
        next = sum;
        if current == u64::MAX {
            break;
        }
    }
    current
}

/// Back-off settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The unit delay: attempt `n` waits `fibonacci(n)` units (1, 1, 2, 3, 5, …).
    pub first_delay: Duration,
    /// The longest delay before jitter.
    pub max_delay: Duration,
    /// Jitter, in percent of the delay, drawn uniformly either way (clamped to 100).
    pub jitter_percent: u8,
    /// Stop after this many retries in a row (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            jitter_percent: 10,
            max_attempts: None,
        }
    }
}

/// Fibonacci back-off with jitter and a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    config: BackoffConfig,
    attempts: u32,
}

impl Backoff {
    /// A back-off that has not retried yet.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            attempts: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Retries scheduled since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether `max_attempts` are used up.
    pub fn is_exhausted(&self) -> bool {
        self.config
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
    }

    /// The delay before retry number `attempt` (from 1), before jitter:
    /// `fibonacci(attempt) × first_delay`, capped at `max_delay`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let unit = millis(self.config.first_delay);
        let cap = millis(self.config.max_delay);
        Duration::from_millis(fibonacci(attempt).saturating_mul(unit).min(cap))
    }

    /// Counts one more retry and returns how long to wait before it, with
    /// jitter; `None` (counting nothing) once `max_attempts` are used up.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Option<Duration> {
        if self.is_exhausted() {
            return None;
        }
        self.attempts = self.attempts.saturating_add(1);
        let base = u128::from(millis(self.base_delay(self.attempts)));
        let percent = u128::from(self.config.jitter_percent.min(100));
        let spread = base * percent / 100;
        let offset = u128::from(rng.next_u64()) % (2 * spread + 1);
        let jittered = base - spread + offset;
        Some(Duration::from_millis(
            u64::try_from(jittered).unwrap_or(u64::MAX),
        ))
    }

    /// Starts the sequence over.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// Decision
// ---------------------------------------------------------------------------

/// Reconnect settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// The back-off.
    pub backoff: BackoffConfig,
    /// A connection open at least this long resets the back-off when it closes.
    pub stable_after: Duration,
    /// Immediate restarts allowed without a login in between; more are backed
    /// off ([`RetryReason::RestartLoop`]).
    pub max_quick_restarts: u32,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(60),
            max_quick_restarts: 3,
        }
    }
}

/// What the policy remembers between connections of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectState {
    config: ReconnectConfig,
    backoff: Backoff,
    opened_at: Option<u64>,
    quick_restarts: u32,
}

impl Default for ReconnectState {
    fn default() -> Self {
        Self::new(ReconnectConfig::default())
    }
}

impl ReconnectState {
    /// A fresh state.
    pub fn new(config: ReconnectConfig) -> Self {
        Self {
            config,
            backoff: Backoff::new(config.backoff),
            opened_at: None,
            quick_restarts: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ReconnectConfig {
        &self.config
    }

    /// The back-off, with its attempt count.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Reports that the connection is open (login succeeded) at `now`, unix
    /// milliseconds.
    pub fn opened_at(&mut self, now: u64) {
        self.opened_at = Some(now);
        self.quick_restarts = 0;
    }

    /// Reports that the connection closed at `now`, unix milliseconds: if it
    /// had stayed open for `stable_after`, the back-off starts over.
    /// [`decide`] calls this itself; calling it twice is harmless.
    pub fn closed_at(&mut self, now: u64) {
        if let Some(opened) = self.opened_at.take()
            && now.saturating_sub(opened) >= millis(self.config.stable_after)
        {
            self.backoff.reset();
        }
    }

    /// Forgets every attempt (after a stop, or when the user connects again).
    pub fn reset(&mut self) {
        self.backoff.reset();
        self.opened_at = None;
        self.quick_restarts = 0;
    }
}

/// The state the application sees while the policy acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserVisibleState {
    /// A reconnect is scheduled.
    Reconnecting,
    /// Closed; the session is kept.
    Closed,
    /// Logged out; the session is gone.
    LoggedOut,
    /// Another tab or device took over.
    Replaced,
}

impl UserVisibleState {
    /// The state's name in the JavaScript API.
    pub fn as_str(self) -> &'static str {
        match self {
            UserVisibleState::Reconnecting => "reconnecting",
            UserVisibleState::Closed => "closed",
            UserVisibleState::LoggedOut => "logged_out",
            UserVisibleState::Replaced => "replaced",
        }
    }
}

/// What [`decide`] tells the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectDecision {
    /// The disposition (may differ from [`classify`]'s: a retry becomes
    /// [`StopKind::GaveUp`] when attempts run out, a restart loop a retry).
    pub disposition: Disposition,
    /// When to reconnect: zero for a restart, the back-off for a retry, `None`
    /// for a stop.
    pub retry_in: Option<Duration>,
    /// For a retry, its number in the current sequence (from 1); for
    /// [`StopKind::GaveUp`], how many were made; otherwise 0.
    pub attempt: u32,
    /// Whether every stored record of the session must be wiped.
    pub wipe_credentials: bool,
    /// The state to show the application.
    pub user_state: UserVisibleState,
}

/// Decides what to do after the connection ended with `cause` at `now` (unix
/// milliseconds). Updates `state`; `rng` draws the jitter.
pub fn decide(
    cause: &CloseCause,
    state: &mut ReconnectState,
    now: u64,
    rng: &mut impl Rng,
) -> ReconnectDecision {
    state.closed_at(now);
    match classify(cause) {
        Disposition::RestartNow if state.quick_restarts < state.config.max_quick_restarts => {
            state.quick_restarts = state.quick_restarts.saturating_add(1);
            ReconnectDecision {
                disposition: Disposition::RestartNow,
                retry_in: Some(Duration::ZERO),
                attempt: 0,
                wipe_credentials: false,
                user_state: UserVisibleState::Reconnecting,
            }
        }
        Disposition::RestartNow => retry(state, RetryReason::RestartLoop, rng),
        Disposition::Retry(reason) => retry(state, reason, rng),
        Disposition::Stop(kind) => {
            state.reset();
            stop(kind, 0)
        }
    }
}

fn retry(state: &mut ReconnectState, reason: RetryReason, rng: &mut impl Rng) -> ReconnectDecision {
    match state.backoff.next_delay(rng) {
        Some(delay) => ReconnectDecision {
            disposition: Disposition::Retry(reason),
            retry_in: Some(delay),
            attempt: state.backoff.attempts(),
            wipe_credentials: false,
            user_state: UserVisibleState::Reconnecting,
        },
        None => {
            let attempts = state.backoff.attempts();
            state.reset();
            stop(StopKind::GaveUp, attempts)
        }
    }
}

fn stop(kind: StopKind, attempt: u32) -> ReconnectDecision {
    ReconnectDecision {
        disposition: Disposition::Stop(kind),
        retry_in: None,
        attempt,
        wipe_credentials: kind.wipes_credentials(),
        user_state: kind.user_state(),
    }
}

#[cfg(test)]
mod tests;
