//! The tabs of one session talk over a `BroadcastChannel`.
//!
//! Owns: [`SessionChannel`], a typed channel `wa-wasm:session:<name>` between
//! the tab that owns the session (see [`super::SessionLock`]) and the tabs
//! that follow it. The owner broadcasts state and events; followers send
//! commands ("send this text") as requests with ids and get the owner's reply
//! (or a timeout); a tab that starts says hello so the owner can re-send its
//! current state. Messages are plain objects (structured clone, so bytes stay
//! `Uint8Array`s); payload types say how they map to one ([`Wire`]).
//!
//! Does not own who is the owner (the lock decides), what the payloads mean,
//! or delivery guarantees: a message reaches only the tabs open at that
//! moment, and a request whose owner goes away fails by timeout or by
//! [`SessionChannel::fail_pending`] when the shell sees the owner change.
//! A channel never receives its own messages; other channels of the same name
//! in the same page do (which is how the tests stand in for two tabs).

use litemap::LiteMap;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

use super::inbox::{InboxSender, inbox};
use super::js::error_name_and_message;
use super::object::{Object, field, number, string_field, u64_field};
use super::timer::Timer;

/// A payload that crosses the channel as a plain object.
pub trait Wire: Sized {
    /// The payload as a JS value.
    fn to_js(&self) -> JsValue;
    /// Reads a payload back; the error says what is wrong.
    fn from_js(value: &JsValue) -> Result<Self, String>;
}

impl Wire for JsValue {
    fn to_js(&self) -> JsValue {
        self.clone()
    }

    fn from_js(value: &JsValue) -> Result<Self, String> {
        Ok(value.clone())
    }
}

/// A random identifier of one channel end (one tab).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TabId(String);

impl TabId {
    fn random() -> Self {
        let mut bytes = [0u8; 8];
        // Without randomness, fall back to the clock: ids need only differ
        // between the tabs of one browser.
        if getrandom::fill(&mut bytes).is_err() {
            bytes =
                (super::timer::now_unix_ms() ^ (js_sys::Math::random().to_bits())).to_be_bytes();
        }
        TabId(hex::encode(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for TabId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An error the owner sends back instead of a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RemoteError {
    /// A machine-readable code (the shell's error codes).
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

/// Why a channel operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// `BroadcastChannel` is missing.
    #[error("BroadcastChannel is not available")]
    NotAvailable,
    /// The channel was closed.
    #[error("the channel is closed")]
    Closed,
    /// The browser refused to post the message.
    #[error("cannot post the message: {name}: {message}")]
    Post {
        /// The `DOMException` name.
        name: String,
        /// The browser's message.
        message: String,
    },
    /// No reply came in time (no owner, or the owner went away).
    #[error("no reply within {after_ms} ms")]
    Timeout {
        /// The timeout.
        after_ms: u64,
    },
    /// The request was given up before a reply came.
    #[error("request abandoned: {0}")]
    Abandoned(String),
    /// The owner answered with an error.
    #[error("the owning tab answered with an error: {0}")]
    Remote(RemoteError),
}

/// A command received by the owner, to answer with [`SessionChannel::reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The tab that asked.
    pub from: TabId,
    /// Its request id.
    pub id: u64,
}

/// What a channel receives from other tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<E, C> {
    /// State or an event, broadcast by the owner.
    Event {
        /// The sending tab.
        from: TabId,
        /// The payload.
        event: E,
    },
    /// A follower's command, for the owner to run and answer.
    Command {
        /// Who to answer.
        request: CommandRequest,
        /// The command.
        command: C,
    },
    /// A tab joined; the owner answers by broadcasting its current state.
    Hello {
        /// The new tab.
        from: TabId,
    },
    /// A message that could not be decoded (another version of the code).
    Undecodable {
        /// What failed.
        error: String,
    },
}

/// The wire format: `{"<kind>": {…}}`.
enum Envelope<E, C, R> {
    Event {
        from: TabId,
        event: E,
    },
    Request {
        from: TabId,
        id: u64,
        command: C,
    },
    Reply {
        to: TabId,
        id: u64,
        result: Result<R, RemoteError>,
    },
    Hello {
        from: TabId,
    },
}

impl<E: Wire, C: Wire, R: Wire> Envelope<E, C, R> {
    fn to_js(&self) -> JsValue {
        match self {
            Envelope::Event { from, event } => Object::new()
                .set("kind", "event")
                .set("from", from.as_str())
                .set("event", event.to_js()),
            Envelope::Request { from, id, command } => Object::new()
                .set("kind", "request")
                .set("from", from.as_str())
                .set("id", number(*id))
                .set("command", command.to_js()),
            Envelope::Reply { to, id, result } => {
                let reply = Object::new()
                    .set("kind", "reply")
                    .set("to", to.as_str())
                    .set("id", number(*id));
                match result {
                    Ok(value) => reply.set("ok", value.to_js()),
                    Err(error) => reply.set(
                        "err",
                        Object::new()
                            .set("code", error.code.as_str())
                            .set("message", error.message.as_str()),
                    ),
                }
            }
            Envelope::Hello { from } => Object::new()
                .set("kind", "hello")
                .set("from", from.as_str()),
        }
        .into_js()
    }

    fn from_js(value: &JsValue) -> Result<Self, String> {
        let tab = |key: &str| string_field(value, key).map(TabId);
        Ok(match string_field(value, "kind")?.as_str() {
            "event" => Envelope::Event {
                from: tab("from")?,
                event: E::from_js(&field(value, "event"))?,
            },
            "request" => Envelope::Request {
                from: tab("from")?,
                id: u64_field(value, "id")?,
                command: C::from_js(&field(value, "command"))?,
            },
            "reply" => Envelope::Reply {
                to: tab("to")?,
                id: u64_field(value, "id")?,
                result: {
                    let error = field(value, "err");
                    if error.is_object() {
                        Err(RemoteError {
                            code: string_field(&error, "code")?,
                            message: string_field(&error, "message")?,
                        })
                    } else {
                        Ok(R::from_js(&field(value, "ok"))?)
                    }
                },
            },
            "hello" => Envelope::Hello { from: tab("from")? },
            other => return Err(format!("unknown message kind {other:?}")),
        })
    }
}

type Pending<R> = RefCell<LiteMap<u64, InboxSender<Result<R, ChannelError>>>>;

struct Shared<R> {
    tab: TabId,
    pending: Pending<R>,
}

impl<R> Shared<R> {
    fn settle(&self, id: u64, result: Result<R, ChannelError>) {
        if let Some(waiter) = self.pending.borrow_mut().remove(&id) {
            waiter.push(result);
        }
    }
}

/// One tab's end of a session's channel.
///
/// `E`: state and events from the owner; `C`: commands from followers; `R`:
/// the owner's replies.
pub struct SessionChannel<E, C, R> {
    channel: BroadcastChannel,
    shared: Rc<Shared<R>>,
    next_id: Cell<u64>,
    closed: Cell<bool>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _types: PhantomData<(E, C)>,
}

impl<E, C, R> core::fmt::Debug for SessionChannel<E, C, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionChannel")
            .field("name", &self.channel.name())
            .field("tab", &self.shared.tab)
            .finish()
    }
}

/// The `BroadcastChannel` name of a session.
pub fn channel_name(session: &str) -> String {
    format!("wa-wasm:session:{session}")
}

impl<E, C, R> SessionChannel<E, C, R>
where
    E: Wire + 'static,
    C: Wire + 'static,
    R: Wire + 'static,
{
    /// Joins the channel of `session`; `on_incoming` receives what other
    /// tabs send (replies to this tab's requests are routed internally).
    pub fn open(
        session: &str,
        mut on_incoming: impl FnMut(Incoming<E, C>) + 'static,
    ) -> Result<Self, ChannelError> {
        let channel = BroadcastChannel::new(&channel_name(session))
            .map_err(|_| ChannelError::NotAvailable)?;
        let shared = Rc::new(Shared {
            tab: TabId::random(),
            pending: RefCell::default(),
        });
        let on_message = {
            let shared = Rc::clone(&shared);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                match Envelope::<E, C, R>::from_js(&event.data()) {
                    Ok(Envelope::Event { from, event }) => {
                        on_incoming(Incoming::Event { from, event });
                    }
                    Ok(Envelope::Request { from, id, command }) => {
                        on_incoming(Incoming::Command {
                            request: CommandRequest { from, id },
                            command,
                        });
                    }
                    Ok(Envelope::Reply { to, id, result }) => {
                        if to == shared.tab {
                            shared.settle(id, result.map_err(ChannelError::Remote));
                        }
                    }
                    Ok(Envelope::Hello { from }) => on_incoming(Incoming::Hello { from }),
                    Err(error) => on_incoming(Incoming::Undecodable { error }),
                }
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(Self {
            channel,
            shared,
            next_id: Cell::new(1),
            closed: Cell::new(false),
            _on_message: on_message,
            _types: PhantomData,
        })
    }

    /// This tab's id.
    pub fn tab_id(&self) -> &TabId {
        &self.shared.tab
    }

    fn post(&self, envelope: &Envelope<E, C, R>) -> Result<(), ChannelError> {
        if self.closed.get() {
            return Err(ChannelError::Closed);
        }
        self.channel
            .post_message(&envelope.to_js())
            .map_err(|error| {
                let (name, message) = error_name_and_message(&error);
                ChannelError::Post { name, message }
            })
    }

    /// Sends state or an event to every other tab (the owner's side).
    pub fn broadcast(&self, event: E) -> Result<(), ChannelError> {
        self.post(&Envelope::Event {
            from: self.shared.tab.clone(),
            event,
        })
    }

    /// Announces this tab, so the owner re-sends its state.
    pub fn hello(&self) -> Result<(), ChannelError> {
        self.post(&Envelope::Hello {
            from: self.shared.tab.clone(),
        })
    }

    /// Answers a follower's command (the owner's side).
    pub fn reply(
        &self,
        request: &CommandRequest,
        result: Result<R, RemoteError>,
    ) -> Result<(), ChannelError> {
        self.post(&Envelope::Reply {
            to: request.from.clone(),
            id: request.id,
            result,
        })
    }

    /// Sends `command` to the owner and waits for its reply, at most
    /// `timeout_ms`.
    pub async fn request(&self, command: C, timeout_ms: u64) -> Result<R, ChannelError> {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let (waiter, mut reply) = inbox();
        self.shared.pending.borrow_mut().insert(id, waiter);
        let posted = self.post(&Envelope::Request {
            from: self.shared.tab.clone(),
            id,
            command,
        });
        if let Err(error) = posted {
            self.shared.pending.borrow_mut().remove(&id);
            return Err(error);
        }
        let timer = {
            let shared = Rc::downgrade(&self.shared);
            Timer::new(move || {
                if let Some(shared) = shared.upgrade() {
                    shared.settle(
                        id,
                        Err(ChannelError::Timeout {
                            after_ms: timeout_ms,
                        }),
                    );
                }
            })
        };
        timer.arm(timeout_ms);
        let result = reply.next().await.unwrap_or_else(|| {
            Err(ChannelError::Abandoned(
                "the channel was dropped".to_owned(),
            ))
        });
        self.shared.pending.borrow_mut().remove(&id);
        result
    }

    /// Fails every request still waiting for a reply (e.g. when the owner
    /// changed, so the old owner will never answer).
    pub fn fail_pending(&self, reason: &str) {
        let waiters: Vec<_> = core::mem::take(&mut *self.shared.pending.borrow_mut())
            .into_iter()
            .collect();
        for (_, waiter) in waiters {
            waiter.push(Err(ChannelError::Abandoned(reason.to_owned())));
        }
    }

    /// How many requests wait for a reply.
    pub fn pending_requests(&self) -> usize {
        self.shared.pending.borrow().len()
    }

    /// Leaves the channel; pending requests fail with [`ChannelError::Closed`].
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.channel.set_onmessage(None);
        self.channel.close();
        let waiters: Vec<_> = core::mem::take(&mut *self.shared.pending.borrow_mut())
            .into_iter()
            .collect();
        for (_, waiter) in waiters {
            waiter.push(Err(ChannelError::Closed));
        }
    }
}

impl<E, C, R> Drop for SessionChannel<E, C, R> {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
