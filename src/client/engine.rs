//! [`Client`]: the engine. Commands and `handle_*` inputs change its state and
//! queue [`Output`]s; `poll_output` and `poll_timeout` hand them out.

use core::mem;
use litemap::LiteMap;

use rand_core::CryptoRng;

use super::config::ClientConfig;
use super::event::{
    CloseReason, ConnectionState, ConnectionUpdate, Event, LastDisconnect, Output, ReconnectStatus,
    Stats, Status,
};
use super::iq::{IqError, QueryId, parse_answer};
use super::keystore::Records;
use super::payload;
use super::policy::{
    self, CloseCause, Disposition, HandshakeFailure, LocalAction, ReconnectState, TransportClose,
    UserVisibleState,
};
use super::qr::{QrRotation, render_svg};
use super::stanza;
use super::state::{
    AfterCommit, Connecting, Deferred, Handshaking, Link, LinkCodeRequest, LoggingIn, LoginStep,
    Opened, Outbox, Pairing, Purpose, Reconnecting, Scanning, SendError, State,
};
use crate::binary::{Jid, Node, unpack};
use crate::crypto::{KeyPair, PublicKey};
use crate::noise::{CertVerifier, ClientHandshake, FrameDecoder, NoiseError};
use crate::pairing::{self, LinkCode, PairingError};
use crate::signal::{IdentityKey, PreKey, PreKeyId, ProtocolAddress};
use crate::store::{
    AccountIdentity, Changes, Credentials, LoadedAuth, Namespace, StoreError, keys,
    save_credentials,
};

/// Pre-key ids are 24-bit on the wire.
const MAX_PRE_KEY_ID: u32 = 0x00FF_FFFF;

/// Why a command was refused. Commands never fail because of the network:
/// what happens on the wire is reported through events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `connect` while a connection is already being made or open.
    #[error("already connected or connecting (state {0})")]
    AlreadyConnected(ConnectionState),
    /// The command needs an open connection.
    #[error("not open (state {0})")]
    NotOpen(ConnectionState),
    /// `request_pairing_code` outside QR linking.
    #[error("no QR linking in progress (state {0})")]
    NotWaitingForScan(ConnectionState),
    /// The phone number cannot be used for a pairing code.
    #[error("invalid phone number: {0}")]
    InvalidPhoneNumber(&'static str),
    /// The node could not be encoded or encrypted.
    #[error("cannot send: {0}")]
    Send(String),
    /// A recipient or message that cannot be used.
    #[error(transparent)]
    Address(#[from] super::addressing::AddressError),
    /// A download that cannot start.
    #[error(transparent)]
    Download(#[from] super::transfer::DownloadError),
}

impl From<SendError> for ClientError {
    fn from(error: SendError) -> Self {
        Self::Send(error.to_string())
    }
}

/// The sans-IO WhatsApp client engine.
///
/// Drive it with the commands ([`connect`](Self::connect),
/// [`logout`](Self::logout), …) and the inputs (`handle_*`); after each call,
/// take every [`Output`] with [`poll_output`](Self::poll_output) and arm a
/// timer for [`poll_timeout`](Self::poll_timeout). Time is unix milliseconds;
/// randomness comes from the `rng` argument.
#[derive(Debug)]
pub struct Client {
    pub(super) config: ClientConfig,
    verifier: CertVerifier,
    pub(super) creds: Option<Credentials>,
    session_stored: bool,
    pub(super) state: State,
    reconnect: ReconnectState,
    pub(super) outbox: Outbox,
    server_offset_ms: i64,
    uploading_pre_keys: bool,
    last_disconnect: Option<LastDisconnect>,
    pub(super) stats: Stats,
    pub(super) next_query: u64,
    pub(super) records: Records,
    /// Sent messages waiting for the server's ack.
    pub(super) awaiting_ack: LiteMap<String, super::messaging::PendingAck>,
    /// Stored stanzas whose ack came, to delete with the next commit.
    pub(super) settled_acks: Vec<String>,
    /// Retry receipts sent per incoming message id.
    pub(super) retry_counts: LiteMap<String, u32>,
    /// Processed-message keys whose event this run has handed out.
    pub(super) surfaced: LiteMap<String, ()>,
    /// Upload credentials, once asked for.
    pub(super) media_conn: Option<super::transfer::MediaConn>,
    /// Documents waiting for `media_conn`.
    pub(super) uploads_waiting: Vec<super::transfer::PendingUpload>,
    /// HTTP exchanges handed to the shell.
    pub(super) http: LiteMap<super::transfer::HttpRequestId, super::transfer::HttpPurpose>,
    pub(super) next_http: u64,
}

fn millis(duration: core::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn handshake_failure(error: &NoiseError) -> HandshakeFailure {
    match error {
        NoiseError::Cert(_) => HandshakeFailure::UntrustedCertificate,
        NoiseError::HandshakeDecrypt { .. } | NoiseError::LowOrderKey { .. } => {
            HandshakeFailure::Crypto
        }
        _ => HandshakeFailure::Malformed,
    }
}

/// How incoming stanzas are routed: tag → handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Iq,
    Success,
    Failure,
    StreamError,
    StreamEnd,
    Ib,
    Notification,
    Message,
    Receipt,
    Call,
    Ack,
    Ignore,
}

const ROUTES: &[(&str, Route)] = &[
    ("iq", Route::Iq),
    ("success", Route::Success),
    ("failure", Route::Failure),
    ("stream:error", Route::StreamError),
    ("xmlstreamend", Route::StreamEnd),
    ("ib", Route::Ib),
    ("notification", Route::Notification),
    ("message", Route::Message),
    ("receipt", Route::Receipt),
    ("call", Route::Call),
    ("ack", Route::Ack),
    ("presence", Route::Ignore),
    ("chatstate", Route::Ignore),
];

fn route_of(tag: &str) -> Option<Route> {
    ROUTES
        .iter()
        .find(|(name, _)| *name == tag)
        .map(|(_, route)| *route)
}

impl Client {
    /// An engine for one session, with what [`crate::store::load_auth`] found.
    /// Nothing happens until [`connect`](Self::connect).
    pub fn new(config: ClientConfig, auth: LoadedAuth) -> Self {
        let (creds, session_stored) = match auth {
            LoadedAuth::Registered(creds) => (Some(*creds), true),
            LoadedAuth::Unfinished | LoadedAuth::Corrupt(_) | LoadedAuth::Empty => (None, false),
        };
        Self {
            verifier: CertVerifier::new(config.server_root),
            reconnect: ReconnectState::new(config.reconnect),
            config,
            creds,
            session_stored,
            state: State::Idle,
            outbox: Outbox::default(),
            server_offset_ms: 0,
            uploading_pre_keys: false,
            last_disconnect: None,
            stats: Stats::default(),
            next_query: 0,
            records: Records::default(),
            awaiting_ack: LiteMap::new(),
            settled_acks: Vec::new(),
            retry_counts: LiteMap::new(),
            surfaced: LiteMap::new(),
            media_conn: None,
            uploads_waiting: Vec::new(),
            http: LiteMap::new(),
            next_http: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The credentials in use (fresh ones until linked), if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// The connection state.
    pub fn state(&self) -> ConnectionState {
        self.state.visible()
    }

    /// A snapshot for a status view.
    pub fn status(&self) -> Status {
        let creds = self.creds.as_ref().filter(|c| c.is_registered());
        Status {
            state: self.state(),
            me: creds.and_then(|c| c.me.clone()),
            lid: creds.and_then(|c| c.lid.clone()),
            session_stored: self.session_stored,
            reconnecting: match &self.state {
                State::Reconnecting(r) => Some(ReconnectStatus {
                    attempt: r.attempt,
                    at: r.at,
                }),
                _ => None,
            },
            last_disconnect: self.last_disconnect.clone(),
            stats: self.stats,
        }
    }

    // ------------------------------------------------------------------
    // Outputs
    // ------------------------------------------------------------------

    /// The next thing the shell must do; `None` when there is nothing, or
    /// while a [`Output::Persist`]/[`Output::Wipe`] awaits its result.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.poll()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next (unix ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut deadlines: Vec<u64> = Vec::new();
        match &self.state {
            State::Connecting(c) => deadlines.push(c.deadline),
            State::Handshaking(hs) => match hs.as_ref() {
                Handshaking::Hello { deadline, .. }
                | Handshaking::AwaitingPairDevice { deadline, .. } => deadlines.push(*deadline),
            },
            State::WaitingForScan(s) => {
                deadlines.extend(s.qr.expires_at());
                deadlines.extend(s.link_code.as_ref().map(|c| c.expires_at));
            }
            State::LoggingIn(l) => {
                if let LoginStep::AwaitingSuccess { deadline } = l.step {
                    deadlines.push(deadline);
                }
            }
            State::Open(o) => {
                deadlines.extend(o.logout_deadline);
                deadlines.extend(self.awaiting_ack.values().map(|pending| pending.due).min());
            }
            State::Reconnecting(r) => deadlines.push(r.at),
            _ => {}
        }
        if let Some(link) = self.state.link() {
            deadlines.extend(link.iqs.next_deadline());
            deadlines.extend(link.keepalive.next_ping_at);
        }
        deadlines.into_iter().min()
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Connects: logs in with stored credentials, or starts linking (QR codes
    /// follow) with fresh ones. From `reconnecting` it connects at once.
    pub fn connect(&mut self, now: u64, rng: &mut impl CryptoRng) -> Result<(), ClientError> {
        let state = self.state();
        if state.is_connected() {
            return Err(ClientError::AlreadyConnected(state));
        }
        if self.creds.is_none() {
            self.creds = Some(Credentials::generate(rng, now / 1000));
        }
        self.reconnect.reset();
        self.start_connection(now, None, 0);
        Ok(())
    }

    /// Closes the connection and keeps the session (state `closed`).
    pub fn disconnect(&mut self, now: u64, rng: &mut impl CryptoRng) {
        self.end_locally(LocalAction::Disconnect, now, rng);
    }

    /// Logs out: unlinks the device on the server when the connection is open
    /// (waiting briefly for the answer), then wipes local state. From any
    /// other state it only wipes. Never fails.
    pub fn logout(&mut self, now: u64, rng: &mut impl CryptoRng) {
        let timeout = millis(self.config.timeouts.logout);
        let me = self
            .creds
            .as_ref()
            .and_then(|c| c.me.as_deref())
            .and_then(|me| me.parse::<Jid>().ok());
        if let (State::Open(open), Some(me)) = (&mut self.state, me) {
            if open.logout_deadline.is_some() {
                return;
            }
            let request = stanza::remove_companion_device(&me);
            if open
                .link
                .send_iq(request, Purpose::Logout, now, timeout, &mut self.outbox)
                .is_ok()
            {
                open.logout_deadline = Some(now.saturating_add(timeout));
                return;
            }
        }
        self.end_locally(LocalAction::Logout, now, rng);
    }

    /// Wipes local state without talking to the server (state `logged_out`).
    pub fn clear_session(&mut self, now: u64, rng: &mut impl CryptoRng) {
        self.end_locally(LocalAction::ClearSession, now, rng);
    }

    /// Asks the server for a pairing code for `phone` (any formatting; the
    /// international number). The code arrives as [`Event::PairingCode`]; QR
    /// codes stop once it is requested. Needs QR linking in progress.
    pub fn request_pairing_code(
        &mut self,
        phone: &str,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<(), ClientError> {
        let user = stanza::phone_user(phone).map_err(ClientError::InvalidPhoneNumber)?;
        let state = self.state();
        let (State::WaitingForScan(scanning), Some(creds)) = (&mut self.state, &self.creds) else {
            return Err(ClientError::NotWaitingForScan(state));
        };
        let code = LinkCode::generate(rng);
        let ephemeral = KeyPair::generate(rng);
        let wrapped = pairing::wrap_ephemeral(&code, &ephemeral.public, rng);
        let phone = Jid::pn(user);
        let platform = self.config.platform();
        let request = stanza::link_code_hello(&stanza::LinkCodeHello {
            phone: &phone,
            wrapped_ephemeral: &wrapped,
            noise_public: creds.noise_key.public.as_bytes(),
            platform_id: platform.qr_client_type(),
            platform_display: &self.config.browser.display_name(),
            push_notification: self.config.pairing_code_push_notification,
        });
        let timeout = millis(self.config.timeouts.iq);
        scanning.link.send_iq(
            request,
            Purpose::LinkCodeHello,
            now,
            timeout,
            &mut self.outbox,
        )?;
        scanning.qr.stop();
        scanning.link_code = Some(LinkCodeRequest {
            code,
            ephemeral,
            phone,
            pairing_ref: None,
            expires_at: now.saturating_add(millis(self.config.timeouts.pairing_code)),
        });
        Ok(())
    }

    /// Sends an IQ and reports its answer as [`Event::QueryResult`]. The id
    /// and (when absent) `to` are filled in. Needs an open connection.
    pub fn query(&mut self, request: Node, now: u64) -> Result<QueryId, ClientError> {
        let state = self.state();
        let State::Open(open) = &mut self.state else {
            return Err(ClientError::NotOpen(state));
        };
        let request = if request.has_attr("to") {
            request
        } else {
            request.attr("to", Jid::server_jid())
        };
        self.next_query = self.next_query.saturating_add(1);
        let id = QueryId(self.next_query);
        open.link.send_iq(
            request,
            Purpose::Query(id),
            now,
            millis(self.config.timeouts.iq),
            &mut self.outbox,
        )?;
        self.stats.last_activity = Some(now);
        Ok(id)
    }

    /// Goes passive (`true`) or active. Needs an open connection.
    pub fn set_passive(&mut self, passive: bool, now: u64) -> Result<QueryId, ClientError> {
        self.query(stanza::set_passive(passive), now)
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// The socket asked for by [`Output::Connect`] is open.
    pub fn handle_connected(&mut self, now: u64, rng: &mut impl CryptoRng) {
        if !matches!(self.state, State::Connecting(_)) {
            tracing::debug!(state = %self.state(), "socket opened in an unexpected state");
            return;
        }
        let Some(creds) = &self.creds else {
            return;
        };
        match ClientHandshake::start(&creds.noise_key, None, rng) {
            Ok((handshake, hello)) => {
                self.outbox.push(Output::Send(hello));
                self.stats.last_activity = Some(now);
                self.state = State::Handshaking(Box::new(Handshaking::Hello {
                    handshake,
                    decoder: FrameDecoder::new(),
                    deadline: now.saturating_add(millis(self.config.timeouts.handshake)),
                }));
                self.announce(ConnectionState::Handshaking);
            }
            Err(_) => self.close(
                CloseCause::HandshakeFailed(HandshakeFailure::Malformed),
                true,
                now,
                rng,
            ),
        }
    }

    /// Bytes arrived on the socket.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: u64, rng: &mut impl CryptoRng) {
        self.stats.last_activity = Some(now);
        if matches!(&self.state, State::Handshaking(hs) if matches!(hs.as_ref(), Handshaking::Hello { .. }))
        {
            self.handshake_bytes(bytes, now, rng);
            return;
        }
        let Some(link) = self.state.link_mut() else {
            tracing::debug!(state = %self.state(), len = bytes.len(), "bytes without a connection");
            return;
        };
        if link.decoder.push(bytes).is_err() {
            self.close(CloseCause::ProtocolError, true, now, rng);
            return;
        }
        self.read_frames(now, rng);
    }

    /// The socket closed or failed (not after [`Output::Disconnect`]).
    pub fn handle_disconnected(
        &mut self,
        close: TransportClose,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        if !self.state.has_socket() {
            tracing::debug!(state = %self.state(), "socket closed in a state without one");
            return;
        }
        self.close(CloseCause::Transport(close), false, now, rng);
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) was reached.
    pub fn handle_timeout(&mut self, now: u64, rng: &mut impl CryptoRng) {
        match &mut self.state {
            State::Connecting(c) if now >= c.deadline => {
                self.close(
                    CloseCause::HandshakeFailed(HandshakeFailure::Timeout),
                    true,
                    now,
                    rng,
                );
                return;
            }
            State::Handshaking(hs) => {
                let (Handshaking::Hello { deadline, .. }
                | Handshaking::AwaitingPairDevice { deadline, .. }) = hs.as_ref();
                if now >= *deadline {
                    self.close(
                        CloseCause::HandshakeFailed(HandshakeFailure::Timeout),
                        true,
                        now,
                        rng,
                    );
                    return;
                }
            }
            State::LoggingIn(l) => {
                if let LoginStep::AwaitingSuccess { deadline } = l.step
                    && now >= deadline
                {
                    self.close(
                        CloseCause::HandshakeFailed(HandshakeFailure::Timeout),
                        true,
                        now,
                        rng,
                    );
                    return;
                }
            }
            State::Open(_) if self.awaiting_ack.values().any(|pending| now >= pending.due) => {
                self.resend_unacked(now, false, rng);
            }
            State::Reconnecting(r) if now >= r.at => {
                self.stats.reconnects = self.stats.reconnects.saturating_add(1);
                self.start_connection(now, None, 0);
                return;
            }
            State::WaitingForScan(scanning) => {
                if scanning
                    .link_code
                    .as_ref()
                    .is_some_and(|c| now >= c.expires_at)
                {
                    self.close(CloseCause::QrRefsExhausted, true, now, rng);
                    return;
                }
                if scanning.qr.expires_at().is_some_and(|at| now >= at) && !self.show_next_qr(now) {
                    self.close(CloseCause::QrRefsExhausted, true, now, rng);
                    return;
                }
            }
            State::Open(open) if open.logout_deadline.is_some_and(|at| now >= at) => {
                self.end_locally(LocalAction::Logout, now, rng);
                return;
            }
            _ => {}
        }
        self.link_timers(now, rng);
    }

    /// The result of the last [`Output::Persist`] or [`Output::Wipe`].
    pub fn handle_persisted(
        &mut self,
        result: Result<(), StoreError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let Some(after) = self.outbox.answered() else {
            tracing::warn!("a store result nobody waits for");
            return;
        };
        match result {
            Ok(()) => {
                if matches!(after, AfterCommit::Wiped) {
                    self.records.wipe();
                } else {
                    self.records.committed();
                }
                self.committed(after, now, rng);
            }
            Err(error) => {
                self.outbox.event(Event::StoreFailed { error });
                if matches!(after, AfterCommit::Wiped) {
                    return;
                }
                // What was not stored must not stay in memory either.
                self.records.roll_back();
                if matches!(after, AfterCommit::UploadPreKeys { .. }) {
                    self.uploading_pre_keys = false;
                }
                let mut dropped = vec![after];
                dropped.extend(self.outbox.drop_dependents());
                self.unsent(dropped);
                if self.state.has_socket() {
                    self.close(CloseCause::StoreFailed, true, now, rng);
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // Connection lifecycle
    // ------------------------------------------------------------------

    fn announce(&mut self, state: ConnectionState) {
        self.outbox.event(Event::Connection(ConnectionUpdate {
            state,
            reason: None,
            will_reconnect: false,
            retry_in_ms: None,
            attempt: 0,
        }));
    }

    /// Opens a new socket (after `reason`, when reconnecting at once).
    fn start_connection(&mut self, now: u64, reason: Option<CloseReason>, attempt: u32) {
        self.stats.connects = self.stats.connects.saturating_add(1);
        self.uploading_pre_keys = false;
        self.state = State::Connecting(Connecting {
            deadline: now.saturating_add(millis(self.config.timeouts.handshake)),
        });
        self.outbox.push(Output::Connect {
            url: self.config.url.clone(),
        });
        let restarting = reason.is_some();
        self.outbox.event(Event::Connection(ConnectionUpdate {
            state: ConnectionState::Connecting,
            reason,
            will_reconnect: restarting,
            retry_in_ms: restarting.then_some(0),
            attempt,
        }));
    }

    /// Ends the connection (if any) for a local reason.
    fn end_locally(&mut self, action: LocalAction, now: u64, rng: &mut impl CryptoRng) {
        let socket = self.state.has_socket();
        self.close(CloseCause::Local(action), socket, now, rng);
    }

    /// Ends the current connection with `cause` and applies the reconnect
    /// policy. `socket_open`: the socket must still be closed by the shell.
    fn close(&mut self, cause: CloseCause, socket_open: bool, now: u64, rng: &mut impl CryptoRng) {
        // A logout waiting for its answer ends as a logout, however the socket ends.
        let cause = match &self.state {
            State::Open(open) if open.logout_deadline.is_some() => {
                CloseCause::Local(LocalAction::Logout)
            }
            _ => cause,
        };
        let old = mem::take(&mut self.state);
        let mut link = match old {
            State::Handshaking(hs) => match *hs {
                Handshaking::AwaitingPairDevice { link, .. } => Some(*link),
                Handshaking::Hello { .. } => None,
            },
            State::WaitingForScan(s) => Some(s.link),
            State::Pairing(p) => Some(p.link),
            State::LoggingIn(l) => Some(l.link),
            State::Open(o) => Some(o.link),
            _ => None,
        };
        if let Some(link) = link.as_mut() {
            for purpose in link.iqs.drain() {
                self.iq_failed(purpose, IqError::Disconnected, now, rng);
            }
        }
        drop(link);
        if socket_open {
            self.outbox.push(Output::Disconnect);
        }
        self.uploading_pre_keys = false;

        let decision = policy::decide(&cause, &mut self.reconnect, now, rng);
        let reason = CloseReason {
            cause,
            disposition: decision.disposition.clone(),
        };
        self.last_disconnect = Some(LastDisconnect {
            reason: reason.clone(),
            at: now,
        });
        if decision.wipe_credentials {
            self.creds = None;
            self.session_stored = false;
            self.outbox.wipe();
        }
        let retry_in_ms = decision.retry_in.map(millis);
        match decision.disposition {
            Disposition::RestartNow => {
                self.stats.reconnects = self.stats.reconnects.saturating_add(1);
                self.start_connection(now, Some(reason), decision.attempt);
            }
            Disposition::Retry(_) => {
                let delay = retry_in_ms.unwrap_or(0);
                self.state = State::Reconnecting(Reconnecting {
                    at: now.saturating_add(delay),
                    attempt: decision.attempt,
                });
                self.outbox.event(Event::Connection(ConnectionUpdate {
                    state: ConnectionState::Reconnecting,
                    reason: Some(reason),
                    will_reconnect: true,
                    retry_in_ms: Some(delay),
                    attempt: decision.attempt,
                }));
            }
            Disposition::Stop(_) => {
                let (state, visible) = match decision.user_state {
                    UserVisibleState::LoggedOut => (State::LoggedOut, ConnectionState::LoggedOut),
                    UserVisibleState::Replaced => (State::Replaced, ConnectionState::Replaced),
                    UserVisibleState::Closed | UserVisibleState::Reconnecting => {
                        (State::Closed, ConnectionState::Closed)
                    }
                };
                self.state = state;
                self.outbox.event(Event::Connection(ConnectionUpdate {
                    state: visible,
                    reason: Some(reason),
                    will_reconnect: false,
                    retry_in_ms: None,
                    attempt: decision.attempt,
                }));
            }
        }
    }

    // ------------------------------------------------------------------
    // Handshake
    // ------------------------------------------------------------------

    fn handshake_bytes(&mut self, bytes: &[u8], now: u64, rng: &mut impl CryptoRng) {
        let State::Handshaking(hs) = mem::take(&mut self.state) else {
            return;
        };
        let Handshaking::Hello {
            handshake,
            mut decoder,
            deadline,
        } = *hs
        else {
            return;
        };
        if decoder.push(bytes).is_err() {
            self.state = State::Handshaking(Box::new(Handshaking::Hello {
                handshake,
                decoder,
                deadline,
            }));
            self.close(
                CloseCause::HandshakeFailed(HandshakeFailure::Malformed),
                true,
                now,
                rng,
            );
            return;
        }
        let Some(frame) = decoder.next_frame() else {
            self.state = State::Handshaking(Box::new(Handshaking::Hello {
                handshake,
                decoder,
                deadline,
            }));
            return;
        };
        let registered = self.creds.as_ref().is_some_and(Credentials::is_registered);
        let payload = match self.client_payload() {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(%error, "stored device JID is unusable");
                self.state = State::Connecting(Connecting { deadline });
                self.close(CloseCause::ProtocolError, true, now, rng);
                return;
            }
        };
        let finished = handshake
            .read_server_hello(&frame)
            .and_then(|hello| hello.verify(&self.verifier, now / 1000))
            .and_then(|verified| verified.finish(&payload));
        let finished = match finished {
            Ok(finished) => finished,
            Err(error) => {
                tracing::info!(%error, "handshake failed");
                // Back into a socket-holding state so `close` disconnects it.
                self.state = State::Connecting(Connecting { deadline });
                self.close(
                    CloseCause::HandshakeFailed(handshake_failure(&error)),
                    true,
                    now,
                    rng,
                );
                return;
            }
        };
        self.outbox.push(Output::Send(finished.frame));
        let mut link = Link::new(decoder, finished.transport, now, rng);
        link.keepalive.next_ping_at = Some(now.saturating_add(self.ping_delay(rng)));
        let deadline = now.saturating_add(millis(self.config.timeouts.handshake));
        if registered {
            self.state = State::LoggingIn(Box::new(LoggingIn {
                link,
                step: LoginStep::AwaitingSuccess { deadline },
            }));
            self.announce(ConnectionState::LoggingIn);
        } else {
            self.state = State::Handshaking(Box::new(Handshaking::AwaitingPairDevice {
                link: Box::new(link),
                deadline,
            }));
        }
        self.read_frames(now, rng);
    }

    fn client_payload(&self) -> Result<Vec<u8>, payload::PayloadError> {
        let Some(creds) = &self.creds else {
            return Err(payload::PayloadError::BadDeviceJid(String::new()));
        };
        match creds.me.as_deref().filter(|_| creds.is_registered()) {
            Some(me) => {
                let jid: Jid = me
                    .parse()
                    .map_err(|_| payload::PayloadError::BadDeviceJid(me.to_owned()))?;
                payload::login(&self.config, &jid)
            }
            None => Ok(payload::registration(&self.config, creds)),
        }
    }

    // ------------------------------------------------------------------
    // Established connection
    // ------------------------------------------------------------------

    fn read_frames(&mut self, now: u64, rng: &mut impl CryptoRng) {
        loop {
            let Some(link) = self.state.link_mut() else {
                return;
            };
            let Some(frame) = link.decoder.next_frame() else {
                return;
            };
            let plaintext = match link.transport.decrypt(&frame) {
                Ok(plaintext) => plaintext,
                Err(error) => {
                    tracing::info!(%error, "undecryptable frame");
                    self.close(CloseCause::ProtocolError, true, now, rng);
                    return;
                }
            };
            link.keepalive.last_received = now;
            match unpack(&plaintext) {
                Ok(node) => self.route(node, now, rng),
                Err(error) => tracing::warn!(%error, "undecodable stanza skipped"),
            }
        }
    }

    pub(super) fn send(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        let Some(link) = self.state.link_mut() else {
            return;
        };
        if node.tag == "message" {
            self.stats.messages_out = self.stats.messages_out.saturating_add(1);
        }
        self.stats.last_activity = Some(now);
        if let Err(error) = link.send(node, &mut self.outbox) {
            tracing::warn!(%error, "cannot send");
            self.close(CloseCause::ProtocolError, true, now, rng);
        }
    }

    pub(super) fn send_iq(
        &mut self,
        request: Node,
        purpose: Purpose,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let timeout = millis(self.config.timeouts.iq);
        let Some(link) = self.state.link_mut() else {
            return;
        };
        self.stats.last_activity = Some(now);
        if let Err(error) = link.send_iq(request, purpose, now, timeout, &mut self.outbox) {
            tracing::warn!(%error, "cannot send");
            self.close(CloseCause::ProtocolError, true, now, rng);
        }
    }

    /// A random pause before the next keepalive ping, in ms.
    fn ping_delay(&self, rng: &mut impl CryptoRng) -> u64 {
        let min = millis(self.config.timeouts.keepalive_min);
        let max = millis(self.config.timeouts.keepalive_max).max(min);
        let spread = max.saturating_sub(min);
        let jitter = if spread == 0 {
            0
        } else {
            rng.next_u64() % spread.saturating_add(1)
        };
        min.saturating_add(jitter)
    }

    /// Keepalive and IQ deadlines of the established connection.
    fn link_timers(&mut self, now: u64, rng: &mut impl CryptoRng) {
        let Some(link) = self.state.link_mut() else {
            return;
        };
        let expired = link.iqs.expire(now);
        let ping_due = link.keepalive.next_ping_at.is_some_and(|at| now >= at);
        for (purpose, waited) in expired {
            self.iq_failed(purpose, IqError::Timeout { timeout_ms: waited }, now, rng);
            if self.state.link().is_none() {
                return;
            }
        }
        if ping_due && let Some(link) = self.state.link_mut() {
            link.keepalive.next_ping_at = None;
            let deadline = millis(self.config.timeouts.keepalive_deadline);
            match link.send_iq(
                stanza::ping(),
                Purpose::Ping { sent_at: now },
                now,
                deadline,
                &mut self.outbox,
            ) {
                Ok(_) => self.stats.last_activity = Some(now),
                Err(_) => self.close(CloseCause::ProtocolError, true, now, rng),
            }
        }
    }

    fn route(&mut self, node: Node, now: u64, rng: &mut impl CryptoRng) {
        match route_of(&node.tag) {
            Some(Route::Iq) => self.on_iq(node, now, rng),
            Some(Route::Success) => self.on_success(&node, now, rng),
            Some(Route::Failure) => {
                let failure = stanza::parse_failure(&node);
                self.close(CloseCause::Failure(failure), true, now, rng);
            }
            Some(Route::StreamError) => {
                let error = stanza::parse_stream_error(&node);
                self.close(CloseCause::StreamError(error), true, now, rng);
            }
            Some(Route::StreamEnd) => self.close(CloseCause::StreamEnd, true, now, rng),
            Some(Route::Ib) => self.on_ib(&node, now, rng),
            Some(Route::Notification) => self.on_notification(&node, now, rng),
            Some(Route::Message) => self.on_message(&node, now, rng),
            Some(Route::Receipt) => {
                self.send_ack(&node, now, rng);
                self.on_receipt(&node, now, rng);
            }
            Some(Route::Call) => self.send_ack(&node, now, rng),
            Some(Route::Ack) => {
                if node.str_attr("class") == Some("message") && self.on_message_ack(&node) {
                    return;
                }
                if let Some(id) = node.str_attr("id")
                    && let Some(link) = self.state.link_mut()
                    && let Some(purpose) = link.iqs.resolve(id)
                {
                    self.iq_answered(purpose, Ok(node), now, rng);
                }
            }
            Some(Route::Ignore) => {}
            None => tracing::debug!(tag = %node.tag, "unhandled stanza"),
        }
    }

    pub(super) fn send_ack(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        if let Some(ack) = stanza::ack(node) {
            self.send(&ack, now, rng);
        }
    }

    fn on_iq(&mut self, node: Node, now: u64, rng: &mut impl CryptoRng) {
        let kind = node.str_attr("type").unwrap_or_default();
        if matches!(kind, "result" | "error") {
            let Some(id) = node.str_attr("id").map(str::to_owned) else {
                return;
            };
            let Some(link) = self.state.link_mut() else {
                return;
            };
            match link.iqs.resolve(&id) {
                Some(purpose) => self.iq_answered(purpose, parse_answer(node), now, rng),
                None => tracing::debug!(%id, "answer to no pending request"),
            }
            return;
        }
        let first = node
            .child_nodes()
            .first()
            .map(|child| child.tag.to_string());
        match first.as_deref() {
            Some("pair-device") => self.on_pair_device(&node, now, rng),
            Some("pair-success") => self.on_pair_success(&node, now, rng),
            Some("ping") => {
                if let Some(id) = node.str_attr("id") {
                    let reply =
                        stanza::iq_result(id, node.optional_jid("from").ok().flatten(), vec![]);
                    self.send(&reply, now, rng);
                }
            }
            other => tracing::debug!(child = ?other, "unhandled server iq"),
        }
    }

    fn iq_answered(
        &mut self,
        purpose: Purpose,
        answer: Result<Node, IqError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        match purpose {
            Purpose::Ping { .. } => {
                let delay = self.ping_delay(rng);
                if let Some(link) = self.state.link_mut() {
                    link.keepalive.next_ping_at = Some(now.saturating_add(delay));
                }
            }
            Purpose::PreKeyCount => match answer.and_then(|node| {
                node.required_child("count")
                    .and_then(|count| count.required_u64("value"))
                    .map_err(IqError::from)
            }) {
                Ok(count) => {
                    let uploaded_before = self
                        .creds
                        .as_ref()
                        .is_some_and(|c| c.first_unuploaded_pre_key_id > 1);
                    let policy = self.config.pre_keys;
                    if count < u64::from(policy.min) || !uploaded_before {
                        let wanted = if count == 0 && !uploaded_before {
                            policy.initial
                        } else {
                            policy.batch
                        };
                        self.start_pre_key_upload(wanted, now, rng);
                    }
                }
                Err(error) => tracing::warn!(%error, "pre-key count failed"),
            },
            Purpose::PreKeyUpload {
                count,
                next_unuploaded,
            } => {
                self.uploading_pre_keys = false;
                match answer {
                    Ok(_) => {
                        if let Some(creds) = &self.creds {
                            let mut updated = creds.clone();
                            updated.first_unuploaded_pre_key_id = next_unuploaded;
                            self.persist(
                                save_credentials(&updated),
                                AfterCommit::InstallCredentials(Box::new(updated)),
                            );
                        }
                        self.outbox.event(Event::PreKeysUploaded { count });
                    }
                    Err(error) => tracing::warn!(%error, "pre-key upload failed"),
                }
            }
            Purpose::Active => {
                if let Err(error) = answer {
                    tracing::warn!(%error, "server refused <active/>");
                }
                self.open(now, rng);
            }
            Purpose::LinkCodeHello => self.on_link_code_answer(answer, now, rng),
            Purpose::LinkCodeFinish => {
                if let Err(error) = answer {
                    self.outbox.event(Event::PairingCodeFailed { error });
                }
            }
            Purpose::Logout => self.end_locally(LocalAction::Logout, now, rng),
            Purpose::Query(id) => self.outbox.event(Event::QueryResult { id, result: answer }),
            Purpose::DeviceList(send) => self.on_device_lists(*send, answer, now, rng),
            Purpose::KeyBundles(send) => self.on_key_bundles(*send, answer, now, rng),
            Purpose::OnWhatsApp { id, phones } => self.on_on_whatsapp(id, phones, answer),
            Purpose::MediaConn => self.on_media_conn(answer, now, rng),
            Purpose::GroupMembers(send) => self.on_group_members(*send, answer, now, rng),
            Purpose::Groups(id) => self.on_groups(id, answer),
        }
    }

    /// A request ended without an answer. With [`IqError::Disconnected`]
    /// (the connection is being closed) this never closes anything itself.
    fn iq_failed(&mut self, purpose: Purpose, error: IqError, now: u64, rng: &mut impl CryptoRng) {
        let disconnected = matches!(error, IqError::Disconnected);
        match purpose {
            Purpose::Ping { sent_at } if !disconnected => {
                // Alive if anything arrived since the ping; dead otherwise.
                let alive = self
                    .state
                    .link()
                    .is_some_and(|link| link.keepalive.last_received > sent_at);
                if alive {
                    if let Some(link) = self.state.link_mut() {
                        link.keepalive.next_ping_at = Some(now);
                    }
                } else {
                    self.close(CloseCause::KeepaliveTimeout, true, now, rng);
                }
            }
            Purpose::Query(id) => self.outbox.event(Event::QueryResult {
                id,
                result: Err(error),
            }),
            Purpose::LinkCodeHello | Purpose::LinkCodeFinish if !disconnected => {
                self.outbox.event(Event::PairingCodeFailed { error });
            }
            Purpose::PreKeyUpload { .. } => self.uploading_pre_keys = false,
            Purpose::Groups(id) => self.outbox.event(Event::Groups {
                id,
                result: Err(error),
            }),
            Purpose::DeviceList(send) | Purpose::KeyBundles(send) | Purpose::GroupMembers(send) => {
                self.fail_pending_send(*send, error);
            }
            Purpose::OnWhatsApp { id, .. } => self.outbox.event(Event::OnWhatsApp {
                id,
                result: Err(error),
            }),
            Purpose::MediaConn => self.on_media_conn(Err(error), now, rng),
            Purpose::Active if !disconnected => {
                tracing::warn!(%error, "no answer to <active/>; going on");
                self.open(now, rng);
            }
            Purpose::Logout if !disconnected => self.end_locally(LocalAction::Logout, now, rng),
            other => tracing::debug!(purpose = ?other, %error, "request ended"),
        }
    }

    // ------------------------------------------------------------------
    // Login
    // ------------------------------------------------------------------

    fn on_success(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        let awaiting = matches!(
            &self.state,
            State::LoggingIn(login) if matches!(login.step, LoginStep::AwaitingSuccess { .. })
        );
        if !awaiting {
            tracing::debug!(state = %self.state(), "success outside a login");
            return;
        }
        if let Ok(Some(t)) = node.optional_u64("t") {
            let offset = i128::from(t) * 1000 - i128::from(now);
            self.server_offset_ms = i64::try_from(offset).unwrap_or(0);
        }
        if let Ok(Some(lid)) = node.optional_jid("lid")
            && let Some(creds) = &self.creds
            && creds.lid.is_none()
        {
            let mut updated = creds.clone();
            updated.lid = Some(lid.to_string());
            self.persist(
                save_credentials(&updated),
                AfterCommit::InstallCredentials(Box::new(updated)),
            );
        }
        self.send(
            &stanza::unified_session(now, self.server_offset_ms),
            now,
            rng,
        );
        self.send_iq(stanza::pre_key_count(), Purpose::PreKeyCount, now, rng);
        if self.config.passive {
            self.open(now, rng);
            return;
        }
        self.send_iq(stanza::set_passive(false), Purpose::Active, now, rng);
        if let State::LoggingIn(login) = &mut self.state {
            login.step = LoginStep::AwaitingActive;
        }
    }

    fn open(&mut self, now: u64, rng: &mut impl CryptoRng) {
        match mem::take(&mut self.state) {
            State::LoggingIn(login) => {
                self.state = State::Open(Box::new(Opened {
                    link: login.link,
                    logout_deadline: None,
                }));
                self.reconnect.opened_at(now);
                self.announce(ConnectionState::Open);
                // What the last connection sent without an ack may never have
                // reached the server: send it again (the server acknowledges
                // an exact repeat without delivering it twice).
                self.resend_unacked(now, true, rng);
            }
            other => self.state = other,
        }
    }

    fn start_pre_key_upload(&mut self, wanted: u32, _now: u64, rng: &mut impl CryptoRng) {
        if self.uploading_pre_keys || wanted == 0 {
            return;
        }
        let Some(creds) = &self.creds else {
            return;
        };
        let mut updated = creds.clone();
        let mut pre_keys = Vec::new();
        let mut changes = Changes::new();
        let mut id = updated.next_pre_key_id;
        for _ in 0..wanted {
            if id == 0 || id > MAX_PRE_KEY_ID {
                id = 1;
            }
            let key = PreKey::generate(PreKeyId(id), rng);
            changes.put(Namespace::PreKeys, keys::pre_key(id), key.to_bytes());
            pre_keys.push(key);
            id = id.saturating_add(1);
        }
        updated.next_pre_key_id = id;
        changes.merge(save_credentials(&updated));
        let upload = stanza::pre_key_upload(
            updated.registration_id,
            updated.identity_key.public.as_bytes(),
            &pre_keys,
            &updated.signed_pre_key,
        );
        self.uploading_pre_keys = true;
        self.persist(
            changes,
            AfterCommit::UploadPreKeys {
                creds: Box::new(updated),
                upload,
                count: wanted,
                next_unuploaded: id,
            },
        );
    }

    fn committed(&mut self, after: AfterCommit, now: u64, rng: &mut impl CryptoRng) {
        match after {
            AfterCommit::Wiped => {}
            AfterCommit::Messaging(deferred) => {
                for item in deferred {
                    match item {
                        Deferred::Send(node) => self.send(&node, now, rng),
                        Deferred::Event(event) => self.outbox.event(event),
                    }
                }
            }
            AfterCommit::InstallCredentials(creds) => {
                // Not after a wipe: the session is gone.
                if self.creds.is_some() {
                    self.creds = Some(*creds);
                }
            }
            AfterCommit::PairReply {
                creds,
                reply,
                paired,
            } => {
                // After a wipe (logout meanwhile) the pairing is void.
                if self.creds.is_none() {
                    return;
                }
                // What is stored is what the engine holds, connection or not.
                self.creds = Some(*creds);
                self.session_stored = true;
                if !matches!(self.state, State::Pairing(_)) {
                    // The server never gets the reply; a login with these
                    // credentials fails with 401, which wipes them again.
                    tracing::info!("pairing stored, but the connection is gone: no reply");
                    return;
                }
                self.send(&reply, now, rng);
                self.outbox.event(*paired);
                self.send(
                    &stanza::unified_session(now, self.server_offset_ms),
                    now,
                    rng,
                );
            }
            AfterCommit::UploadPreKeys {
                creds,
                upload,
                count,
                next_unuploaded,
            } => {
                if self.creds.is_none() || self.state.link().is_none() {
                    self.uploading_pre_keys = false;
                    return;
                }
                self.creds = Some(*creds);
                self.send_iq(
                    upload,
                    Purpose::PreKeyUpload {
                        count,
                        next_unuploaded,
                    },
                    now,
                    rng,
                );
            }
        }
    }

    // ------------------------------------------------------------------
    // Server stanzas
    // ------------------------------------------------------------------

    fn on_ib(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        for child in node.child_nodes() {
            match child.tag.as_str() {
                "downgrade_webclient" => {
                    self.close(CloseCause::MultiDeviceMismatch, true, now, rng);
                    return;
                }
                other => tracing::debug!(child = other, "ib"),
            }
        }
    }

    fn on_notification(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        self.send_ack(node, now, rng);
        match node.str_attr("type") {
            Some("encrypt") => {
                let count = node
                    .child("count")
                    .and_then(|c| c.optional_u64("value").ok().flatten());
                if let Some(count) = count
                    && count < u64::from(self.config.pre_keys.min)
                    && matches!(self.state, State::Open(_))
                {
                    self.start_pre_key_upload(self.config.pre_keys.batch, now, rng);
                }
            }
            Some("link_code_companion_reg") => self.on_link_code_notification(node, now, rng),
            Some("devices") => self.on_devices_notification(node),
            other => tracing::debug!(kind = ?other, "notification"),
        }
    }

    // ------------------------------------------------------------------
    // Linking
    // ------------------------------------------------------------------

    fn on_pair_device(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        if let Some(id) = node.str_attr("id") {
            let from = node.optional_jid("from").ok().flatten();
            self.send(&stanza::iq_result(id, from, vec![]), now, rng);
        }
        let refs: Vec<String> = node
            .child("pair-device")
            .map(|pd| {
                pd.children_by_tag("ref")
                    .filter_map(Node::content_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let rotation = QrRotation::new(refs, self.config.qr);
        match mem::take(&mut self.state) {
            State::Handshaking(hs) => match *hs {
                Handshaking::AwaitingPairDevice { link, .. } => {
                    self.state = State::WaitingForScan(Box::new(Scanning {
                        link: *link,
                        qr: rotation,
                        link_code: None,
                    }));
                    self.announce(ConnectionState::WaitingForScan);
                }
                other => self.state = State::Handshaking(Box::new(other)),
            },
            State::WaitingForScan(mut scanning) => {
                if scanning.link_code.is_none() {
                    scanning.qr = rotation;
                }
                self.state = State::WaitingForScan(scanning);
            }
            other => {
                tracing::debug!("pair-device outside linking");
                self.state = other;
                return;
            }
        }
        if matches!(&self.state, State::WaitingForScan(s) if s.link_code.is_none())
            && !self.show_next_qr(now)
        {
            self.close(CloseCause::QrRefsExhausted, true, now, rng);
        }
    }

    /// Shows the next QR code; `false` when no ref is left.
    fn show_next_qr(&mut self, now: u64) -> bool {
        let platform = self.config.platform();
        let (State::WaitingForScan(scanning), Some(creds)) = (&mut self.state, &self.creds) else {
            return false;
        };
        let Some((pairing_ref, expires_at)) = scanning.qr.next(now) else {
            return false;
        };
        let code = pairing::QrData {
            pairing_ref,
            noise_key: creds.noise_key.public,
            identity_key: creds.identity_key.public,
            adv_secret: *creds.adv_secret.as_bytes(),
            platform: platform.qr_client_type().to_owned(),
        }
        .encode();
        let svg = render_svg(&code).unwrap_or_else(|error| {
            tracing::warn!(%error, "QR code not rendered");
            String::new()
        });
        self.outbox.event(Event::Qr {
            code,
            svg,
            expires_at,
        });
        true
    }

    fn on_pair_success(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        if !matches!(self.state, State::WaitingForScan(_)) {
            tracing::debug!(state = %self.state(), "pair-success outside linking");
            return;
        }
        let Some(id) = node.str_attr("id").map(str::to_owned) else {
            return;
        };
        if let Ok(Some(t)) = node.optional_u64("t") {
            let offset = i128::from(t) * 1000 - i128::from(now);
            self.server_offset_ms = i64::try_from(offset).unwrap_or(0);
        }
        let Some(creds) = self.creds.clone() else {
            return;
        };
        let verified = node
            .child("pair-success")
            .ok_or(PairingError::Missing("pair-success"))
            .and_then(|success| self.accept_pairing(success, &id, creds, rng));
        match verified {
            Err(error) => {
                let (code, text) = error.iq_error();
                self.send(&stanza::iq_error(&id, code, text), now, rng);
                self.outbox.event(Event::PairingFailed { error });
                self.close(CloseCause::PairingFailed, true, now, rng);
            }
            Ok((creds, changes, reply, paired)) => {
                if let State::WaitingForScan(scanning) = mem::take(&mut self.state) {
                    self.state = State::Pairing(Box::new(Pairing {
                        link: scanning.link,
                    }));
                }
                self.announce(ConnectionState::Pairing);
                self.persist(
                    changes,
                    AfterCommit::PairReply {
                        creds: Box::new(creds),
                        reply,
                        paired: Box::new(paired),
                    },
                );
            }
        }
    }

    /// Verifies `pair-success` and prepares what to store and send.
    fn accept_pairing(
        &self,
        success: &Node,
        id: &str,
        creds: Credentials,
        rng: &mut impl CryptoRng,
    ) -> Result<(Credentials, Changes, Node, Event), PairingError> {
        let identity_bytes = success
            .child("device-identity")
            .and_then(Node::content_bytes)
            .ok_or(PairingError::Missing("device-identity"))?;
        let device = success
            .child("device")
            .ok_or(PairingError::Missing("device"))?;
        let me = device
            .required_jid("jid")
            .map_err(|_| PairingError::Missing("device jid"))?;
        let lid = device.optional_jid("lid").ok().flatten();
        let platform = success
            .child("platform")
            .and_then(|p| p.str_attr("name"))
            .map(str::to_owned);
        let business_name = success
            .child("biz")
            .and_then(|b| b.str_attr("name"))
            .map(str::to_owned);

        let verified = pairing::verify_pair_success(
            identity_bytes,
            creds.adv_secret.as_bytes(),
            &creds.identity_key,
            rng,
        )?;
        let account = AccountIdentity::decode_signed_identity(&verified.account)
            .map_err(|_| PairingError::Malformed("signed device identity"))?;

        let mut linked = creds;
        linked.me = Some(me.to_string());
        linked.lid = lid.as_ref().map(Jid::to_string);
        linked.account = Some(account);
        linked.platform = platform.clone();
        linked.business_name = business_name.clone();
        linked.push_name = self.config.push_name.clone();

        let mut changes = save_credentials(&linked);
        changes.put(
            Namespace::SignedPreKeys,
            keys::pre_key(linked.signed_pre_key.id.0),
            linked.signed_pre_key.to_bytes(),
        );
        // Trust the phone's identity for the account's primary device.
        let primary = lid.as_ref().unwrap_or(&me);
        let address = ProtocolAddress::from_user(primary.user(), primary.domain_type(), 0);
        changes.put(
            Namespace::Identities,
            keys::signal_address(address.name(), 0),
            IdentityKey::new(verified.account_identity)
                .serialize()
                .to_vec(),
        );
        if let Some(lid) = &lid {
            changes.put(
                Namespace::LidMappings,
                keys::lid_to_pn(lid.user()),
                me.user().as_bytes().to_vec(),
            );
            changes.put(
                Namespace::LidMappings,
                keys::pn_to_lid(me.user()),
                lid.user().as_bytes().to_vec(),
            );
        }
        let reply = stanza::pair_device_sign(id, verified.key_index, verified.reply);
        let paired = Event::Paired {
            me: me.to_string(),
            lid: lid.as_ref().map(Jid::to_string),
            platform,
            business_name,
        };
        Ok((linked, changes, reply, paired))
    }

    fn on_link_code_answer(
        &mut self,
        answer: Result<Node, IqError>,
        _now: u64,
        _rng: &mut impl CryptoRng,
    ) {
        let pairing_ref = answer.and_then(|node| {
            node.child_path(&["link_code_companion_reg", "link_code_pairing_ref"])
                .and_then(Node::content_bytes)
                .map(<[u8]>::to_vec)
                .ok_or(IqError::Malformed(crate::binary::NodeError::MissingChild {
                    tag: "link_code_companion_reg".to_owned(),
                    child: "link_code_pairing_ref".to_owned(),
                }))
        });
        let State::WaitingForScan(scanning) = &mut self.state else {
            return;
        };
        let Some(request) = scanning.link_code.as_mut() else {
            return;
        };
        match pairing_ref {
            Ok(pairing_ref) => {
                request.pairing_ref = Some(pairing_ref);
                let event = Event::PairingCode {
                    code: request.code.display(),
                    expires_at: request.expires_at,
                };
                self.outbox.event(event);
            }
            Err(error) => self.outbox.event(Event::PairingCodeFailed { error }),
        }
    }

    fn on_link_code_notification(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        let finish = match self.companion_finish(node, rng) {
            Ok(Some(finish)) => finish,
            Ok(None) => return,
            Err(error) => {
                self.outbox.event(Event::PairingFailed { error });
                return;
            }
        };
        self.send_iq(finish, Purpose::LinkCodeFinish, now, rng);
    }

    /// The phone answered a pairing code: derive the new adv secret and build
    /// `companion_finish`. `Ok(None)` when no code is pending.
    fn companion_finish(
        &mut self,
        node: &Node,
        rng: &mut impl CryptoRng,
    ) -> Result<Option<Node>, PairingError> {
        let (State::WaitingForScan(scanning), Some(creds)) = (&self.state, &mut self.creds) else {
            return Ok(None);
        };
        let Some(request) = scanning.link_code.as_ref() else {
            return Ok(None);
        };
        let registration = node
            .child("link_code_companion_reg")
            .ok_or(PairingError::Missing("link_code_companion_reg"))?;
        let pairing_ref = registration
            .child("link_code_pairing_ref")
            .and_then(Node::content_bytes)
            .ok_or(PairingError::Missing("link_code_pairing_ref"))?;
        if request
            .pairing_ref
            .as_deref()
            .is_some_and(|expected| expected != pairing_ref)
        {
            return Err(PairingError::Malformed("pairing ref of another request"));
        }
        let wrapped = registration
            .child("link_code_pairing_wrapped_primary_ephemeral_pub")
            .and_then(Node::content_bytes)
            .ok_or(PairingError::Missing("wrapped primary ephemeral key"))?;
        let primary_identity = registration
            .child("primary_identity_pub")
            .and_then(Node::content_bytes)
            .ok_or(PairingError::Missing("primary identity key"))?;
        let primary_identity =
            PublicKey::from_slice(primary_identity).map_err(|_| PairingError::Length {
                field: "primary identity key",
                expected: 32,
                actual: primary_identity.len(),
            })?;
        let primary_ephemeral = pairing::unwrap_ephemeral(&request.code, wrapped)?;
        let finish = pairing::companion_finish(
            &request.ephemeral.private,
            &primary_ephemeral,
            &creds.identity_key,
            &primary_identity,
            rng,
        )?;
        creds.adv_secret = crate::store::AdvSecret::from_bytes(finish.adv_secret);
        Ok(Some(stanza::link_code_finish(
            &request.phone,
            finish.wrapped_key_bundle,
            creds.identity_key.public.as_bytes(),
            pairing_ref.to_vec(),
        )))
    }
}
