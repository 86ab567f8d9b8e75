//! The connection states and what each holds.
//!
//! One type per state; the engine moves from one to the next by taking the
//! old state out ([`core::mem::replace`]) and building the next from it, so a
//! state's data cannot outlive the state. A connection that failed is dropped
//! whole (socket, Noise keys, pending requests); only a new connection can
//! follow it.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::event::{ConnectionState, Output};
use super::iq::{IqTracker, QueryId};
use super::qr::QrRotation;
use crate::binary::{Jid, Node, pack};
use crate::crypto::KeyPair;
use crate::noise::{ClientHandshake, FrameDecoder, NoiseError, NoiseTransport};
use crate::pairing::LinkCode;
use crate::store::{Changes, Credentials};

/// What an IQ the engine sent is for.
#[derive(Debug)]
pub(crate) enum Purpose {
    /// Keepalive ping sent at this time (unix ms).
    Ping { sent_at: u64 },
    /// How many pre-keys the server holds.
    PreKeyCount,
    /// Upload of `count` pre-keys; afterwards ids below `next_unuploaded` are uploaded.
    PreKeyUpload { count: u32, next_unuploaded: u32 },
    /// `<active/>` after login.
    Active,
    /// Pairing-code `companion_hello`.
    LinkCodeHello,
    /// Pairing-code `companion_finish`.
    LinkCodeFinish,
    /// `remove-companion-device`.
    Logout,
    /// An application query.
    Query(QueryId),
    /// Device lists for a message being sent.
    DeviceList(Box<super::messaging::PendingSend>),
    /// Pre-key bundles for a message being sent.
    KeyBundles(Box<super::messaging::PendingSend>),
    /// `is_on_whatsapp` for these numbers.
    OnWhatsApp { id: QueryId, phones: Vec<String> },
}

/// What waits for a messaging commit.
#[derive(Debug)]
pub(crate) enum Deferred {
    /// Send this node.
    Send(Node),
    /// Tell the application.
    Event(super::event::Event),
}

/// What to do once a [`Output::Persist`] is committed.
#[derive(Debug)]
pub(crate) enum AfterCommit {
    /// Install these credentials (they are now stored).
    InstallCredentials(Box<Credentials>),
    /// Pairing is stored: install the credentials, send the reply, tell the app.
    PairReply {
        creds: Box<Credentials>,
        reply: Node,
        paired: Box<super::event::Event>,
    },
    /// Pre-keys are stored: install the credentials and upload them.
    UploadPreKeys {
        creds: Box<Credentials>,
        upload: Node,
        count: u32,
        next_unuploaded: u32,
    },
    /// Messaging records are stored: send and report what depended on them.
    Messaging(Vec<Deferred>),
    /// The store was wiped.
    Wiped,
}

/// The ordered output queue with its persistence barrier.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Output>,
    /// One entry per `Persist`/`Wipe` not yet answered, in order.
    commits: VecDeque<AfterCommit>,
    /// A `Persist`/`Wipe` was handed out and its result is awaited.
    awaiting: bool,
}

impl Outbox {
    pub(crate) fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    pub(crate) fn event(&mut self, event: super::event::Event) {
        self.queue.push_back(Output::Event(event));
    }

    pub(crate) fn persist(&mut self, changes: Changes, after: AfterCommit) {
        self.queue.push_back(Output::Persist(changes));
        self.commits.push_back(after);
    }

    pub(crate) fn wipe(&mut self) {
        self.queue.push_back(Output::Wipe);
        self.commits.push_back(AfterCommit::Wiped);
    }

    pub(crate) fn poll(&mut self) -> Option<Output> {
        if self.awaiting {
            return None;
        }
        let output = self.queue.pop_front()?;
        if matches!(output, Output::Persist(_) | Output::Wipe) {
            self.awaiting = true;
        }
        Some(output)
    }

    /// Whether a result is awaited.
    #[cfg(test)]
    pub(crate) fn is_awaiting(&self) -> bool {
        self.awaiting
    }

    /// Takes the continuation of the answered `Persist`/`Wipe`.
    pub(crate) fn answered(&mut self) -> Option<AfterCommit> {
        if !self.awaiting {
            return None;
        }
        self.awaiting = false;
        self.commits.pop_front()
    }

    /// After a failed commit: drops every queued send and persist (they may
    /// depend on what was not stored), keeping events, socket commands and wipes.
    pub(crate) fn drop_dependents(&mut self) {
        let mut commits = std::mem::take(&mut self.commits).into_iter();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for output in self.queue.drain(..) {
            match output {
                Output::Send(_) => {}
                Output::Persist(_) => {
                    commits.next();
                }
                Output::Wipe => {
                    if let Some(after) = commits.next() {
                        self.commits.push_back(after);
                    }
                    kept.push_back(Output::Wipe);
                }
                other => kept.push_back(other),
            }
        }
        self.queue = kept;
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> &VecDeque<Output> {
        &self.queue
    }
}

/// Keepalive bookkeeping of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive {
    /// When the next ping goes out (none while one is outstanding).
    pub(crate) next_ping_at: Option<u64>,
    /// When anything was last received.
    pub(crate) last_received: u64,
}

/// An established Noise connection: everything that dies with the socket.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) decoder: FrameDecoder,
    pub(crate) transport: NoiseTransport,
    pub(crate) iqs: IqTracker<Purpose>,
    pub(crate) keepalive: Keepalive,
}

/// Why a node could not be sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error(transparent)]
    Encode(#[from] crate::binary::EncodeError),
    #[error(transparent)]
    Noise(#[from] NoiseError),
}

impl Link {
    pub(crate) fn new(
        decoder: FrameDecoder,
        transport: NoiseTransport,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Self {
        Self {
            decoder,
            transport,
            iqs: IqTracker::new(rng),
            keepalive: Keepalive {
                next_ping_at: None,
                last_received: now,
            },
        }
    }

    /// Encrypts `node` and queues it.
    pub(crate) fn send(&mut self, node: &Node, outbox: &mut Outbox) -> Result<(), SendError> {
        let frame = self.transport.encrypt_frame(&pack(node)?)?;
        outbox.push(Output::Send(frame));
        Ok(())
    }

    /// Gives `request` a fresh id, sends it and tracks its answer.
    pub(crate) fn send_iq(
        &mut self,
        request: Node,
        purpose: Purpose,
        now: u64,
        timeout_ms: u64,
        outbox: &mut Outbox,
    ) -> Result<String, SendError> {
        let id = self.iqs.next_id();
        self.send(&request.attr("id", id.as_str()), outbox)?;
        self.iqs
            .track(id.clone(), purpose, now, now.saturating_add(timeout_ms));
        Ok(id)
    }
}

/// Output [`Output::Connect`] was queued; waiting for the socket.
#[derive(Debug)]
pub(crate) struct Connecting {
    pub(crate) deadline: u64,
}

/// The Noise handshake is running, or (for a new companion) finished and
/// waiting for the server's `pair-device`.
#[derive(Debug)]
// Held in a `Box` by `State`, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handshaking {
    /// ClientHello sent; waiting for the ServerHello.
    Hello {
        handshake: ClientHandshake,
        decoder: FrameDecoder,
        deadline: u64,
    },
    /// Registration payload sent; waiting for `pair-device`.
    AwaitingPairDevice { link: Box<Link>, deadline: u64 },
}

/// A pairing code requested with `request_pairing_code`.
#[derive(Debug)]
pub(crate) struct LinkCodeRequest {
    pub(crate) code: LinkCode,
    pub(crate) ephemeral: KeyPair,
    pub(crate) phone: Jid,
    /// From the server's answer to `companion_hello`.
    pub(crate) pairing_ref: Option<Vec<u8>>,
    pub(crate) expires_at: u64,
}

/// QR codes on show; maybe a pairing code too.
#[derive(Debug)]
pub(crate) struct Scanning {
    pub(crate) link: Link,
    pub(crate) qr: QrRotation,
    pub(crate) link_code: Option<LinkCodeRequest>,
}

/// The phone's `pair-success` verified; the link is being stored and
/// confirmed; the server's 515 restart follows.
#[derive(Debug)]
pub(crate) struct Pairing {
    pub(crate) link: Link,
}

/// Where a login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginStep {
    /// Login payload sent; waiting for `success`.
    AwaitingSuccess { deadline: u64 },
    /// `<active/>` sent; waiting for its answer.
    AwaitingActive,
}

/// Logging in with stored credentials.
#[derive(Debug)]
pub(crate) struct LoggingIn {
    pub(crate) link: Link,
    pub(crate) step: LoginStep,
}

/// Logged in.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) link: Link,
    /// A logout waits for the server's answer until then.
    pub(crate) logout_deadline: Option<u64>,
}

/// Waiting to reconnect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reconnecting {
    pub(crate) at: u64,
    pub(crate) attempt: u32,
}

/// The engine's state.
#[derive(Debug, Default)]
pub(crate) enum State {
    /// Never connected.
    #[default]
    Idle,
    Connecting(Connecting),
    Handshaking(Box<Handshaking>),
    WaitingForScan(Box<Scanning>),
    Pairing(Box<Pairing>),
    LoggingIn(Box<LoggingIn>),
    Open(Box<Opened>),
    Reconnecting(Reconnecting),
    Closed,
    LoggedOut,
    Replaced,
}

impl State {
    /// The state the application sees.
    pub(crate) fn visible(&self) -> ConnectionState {
        match self {
            State::Idle | State::Closed => ConnectionState::Closed,
            State::Connecting(_) => ConnectionState::Connecting,
            State::Handshaking(_) => ConnectionState::Handshaking,
            State::WaitingForScan(_) => ConnectionState::WaitingForScan,
            State::Pairing(_) => ConnectionState::Pairing,
            State::LoggingIn(_) => ConnectionState::LoggingIn,
            State::Open(_) => ConnectionState::Open,
            State::Reconnecting(_) => ConnectionState::Reconnecting,
            State::LoggedOut => ConnectionState::LoggedOut,
            State::Replaced => ConnectionState::Replaced,
        }
    }

    /// The established connection, in the states that have one.
    pub(crate) fn link_mut(&mut self) -> Option<&mut Link> {
        match self {
            State::Handshaking(hs) => match hs.as_mut() {
                Handshaking::AwaitingPairDevice { link, .. } => Some(link.as_mut()),
                Handshaking::Hello { .. } => None,
            },
            State::WaitingForScan(s) => Some(&mut s.link),
            State::Pairing(p) => Some(&mut p.link),
            State::LoggingIn(l) => Some(&mut l.link),
            State::Open(o) => Some(&mut o.link),
            _ => None,
        }
    }

    /// The established connection, read-only.
    pub(crate) fn link(&self) -> Option<&Link> {
        match self {
            State::Handshaking(hs) => match hs.as_ref() {
                Handshaking::AwaitingPairDevice { link, .. } => Some(link.as_ref()),
                Handshaking::Hello { .. } => None,
            },
            State::WaitingForScan(s) => Some(&s.link),
            State::Pairing(p) => Some(&p.link),
            State::LoggingIn(l) => Some(&l.link),
            State::Open(o) => Some(&o.link),
            _ => None,
        }
    }

    /// Whether a socket is open (or being opened).
    pub(crate) fn has_socket(&self) -> bool {
        self.visible().is_connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::event::Event;
    use crate::store::Namespace;

    fn persist(tag: u8) -> Changes {
        let mut changes = Changes::new();
        changes.put(Namespace::AppMeta, "k", vec![tag]);
        changes
    }

    #[test]
    fn nothing_passes_an_unanswered_persist() {
        let mut outbox = Outbox::default();
        outbox.push(Output::Send(vec![1]));
        outbox.persist(persist(1), AfterCommit::Wiped);
        outbox.push(Output::Send(vec![2]));
        assert_eq!(outbox.poll(), Some(Output::Send(vec![1])));
        assert_eq!(outbox.poll(), Some(Output::Persist(persist(1))));
        assert!(outbox.is_awaiting());
        assert_eq!(outbox.poll(), None);
        assert_eq!(outbox.poll(), None);
        assert!(matches!(outbox.answered(), Some(AfterCommit::Wiped)));
        assert_eq!(outbox.poll(), Some(Output::Send(vec![2])));
        assert_eq!(outbox.poll(), None);
        // An answer nobody waits for is ignored.
        assert!(outbox.answered().is_none());
    }

    #[test]
    fn a_failed_commit_drops_what_followed_it() {
        let mut outbox = Outbox::default();
        outbox.persist(persist(1), AfterCommit::Wiped);
        outbox.push(Output::Send(vec![2]));
        outbox.persist(persist(2), AfterCommit::Wiped);
        outbox.event(Event::StoreFailed {
            error: crate::store::StoreError::QuotaExceeded,
        });
        outbox.wipe();
        outbox.push(Output::Disconnect);
        assert_eq!(outbox.poll(), Some(Output::Persist(persist(1))));
        assert!(outbox.answered().is_some());
        // Pretend the first failed: what follows is pruned.
        outbox.drop_dependents();
        let left: Vec<&Output> = outbox.queued().iter().collect();
        assert!(matches!(
            left.as_slice(),
            [Output::Event(_), Output::Wipe, Output::Disconnect]
        ));
        assert_eq!(outbox.commits.len(), 1);
        assert!(matches!(outbox.commits.front(), Some(AfterCommit::Wiped)));
    }
}
