//! The tabs of one session talk over a `BroadcastChannel`.
//!
//! Owns: [`SessionChannel`], a typed channel `wa-wasm:session:<name>` between
//! the tab that owns the session (see [`super::SessionLock`]) and the tabs
//! that follow it. The owner broadcasts state and events; followers send
//! commands ("send this text") as requests with ids and get the owner's reply
//! (or a timeout); a tab that starts says hello so the owner can re-send its
//! current state. Messages are JSON text; payload types say how they map to
//! a JSON value ([`Wire`]), by hand rather than through serde derives, which
//! would cost the wasm module several kilobytes per type.
//!
//! Does not own who is the owner (the lock decides), what the payloads mean,
//! or delivery guarantees: a message reaches only the tabs open at that
//! moment, and a request whose owner goes away fails by timeout or by
//! [`SessionChannel::fail_pending`] when the shell sees the owner change.
//! A channel never receives its own messages; other channels of the same name
//! in the same page do (which is how the tests stand in for two tabs).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use serde_json::{Map, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

use super::inbox::{InboxSender, inbox};
use super::js::error_name_and_message;
use super::timer::Timer;

/// A payload that crosses the channel as a JSON value.
pub trait Wire: Sized {
    /// The payload as JSON.
    fn to_value(&self) -> Value;
    /// Reads a payload back; the error says what is wrong.
    fn from_value(value: Value) -> Result<Self, String>;
}

impl Wire for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }

    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

/// Takes `object[key]` out as a string.
pub fn take_string(object: &mut Map<String, Value>, key: &str) -> Result<String, String> {
    match object.remove(key) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(format!("`{key}` must be a string")),
    }
}

/// Takes `object[key]` out as a string, if present and not null.
pub fn take_optional_string(
    object: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, String> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

/// An array of strings, or `None` for anything else.
pub fn strings(value: Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Takes `object[key]` out as an array of strings.
pub fn take_strings(object: &mut Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    object
        .remove(key)
        .and_then(strings)
        .ok_or_else(|| format!("`{key}` must be an array of strings"))
}

/// Takes `object[key]` out as a non-negative integer.
pub fn take_u64(object: &mut Map<String, Value>, key: &str) -> Result<u64, String> {
    object
        .remove(key)
        .and_then(|value| value.as_u64())
        .ok_or_else(|| format!("`{key}` must be a non-negative integer"))
}

/// An externally tagged value `{"<tag>": {…}}` (or a bare `"<tag>"`) as its
/// tag and fields.
pub fn tagged(value: Value) -> Result<(String, Map<String, Value>), String> {
    match value {
        Value::String(tag) => Ok((tag, Map::new())),
        Value::Object(object) if object.len() == 1 => match object.into_iter().next() {
            Some((tag, Value::Object(fields))) => Ok((tag, fields)),
            Some((tag, Value::Null)) => Ok((tag, Map::new())),
            _ => Err("a tagged value must hold an object".to_owned()),
        },
        _ => Err("expected a tagged object".to_owned()),
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
    fn to_value(&self) -> Value {
        let (kind, mut fields) = (
            match self {
                Envelope::Event { .. } => "event",
                Envelope::Request { .. } => "request",
                Envelope::Reply { .. } => "reply",
                Envelope::Hello { .. } => "hello",
            },
            Map::new(),
        );
        match self {
            Envelope::Event { from, event } => {
                fields.insert("from".into(), from.0.clone().into());
                fields.insert("event".into(), event.to_value());
            }
            Envelope::Request { from, id, command } => {
                fields.insert("from".into(), from.0.clone().into());
                fields.insert("id".into(), (*id).into());
                fields.insert("command".into(), command.to_value());
            }
            Envelope::Reply { to, id, result } => {
                fields.insert("to".into(), to.0.clone().into());
                fields.insert("id".into(), (*id).into());
                match result {
                    Ok(reply) => fields.insert("ok".into(), reply.to_value()),
                    Err(error) => fields.insert(
                        "err".into(),
                        serde_json::json!({ "code": error.code, "message": error.message }),
                    ),
                };
            }
            Envelope::Hello { from } => {
                fields.insert("from".into(), from.0.clone().into());
            }
        }
        let mut envelope = Map::new();
        envelope.insert(kind.into(), Value::Object(fields));
        Value::Object(envelope)
    }

    fn from_value(value: Value) -> Result<Self, String> {
        let (kind, mut fields) = tagged(value)?;
        let tab = |fields: &mut Map<String, Value>, key: &str| take_string(fields, key).map(TabId);
        Ok(match kind.as_str() {
            "event" => Envelope::Event {
                from: tab(&mut fields, "from")?,
                event: E::from_value(fields.remove("event").unwrap_or(Value::Null))?,
            },
            "request" => Envelope::Request {
                from: tab(&mut fields, "from")?,
                id: take_u64(&mut fields, "id")?,
                command: C::from_value(fields.remove("command").unwrap_or(Value::Null))?,
            },
            "reply" => Envelope::Reply {
                to: tab(&mut fields, "to")?,
                id: take_u64(&mut fields, "id")?,
                result: match (fields.remove("ok"), fields.remove("err")) {
                    (Some(reply), None) => Ok(R::from_value(reply)?),
                    (None, Some(Value::Object(mut error))) => Err(RemoteError {
                        code: take_string(&mut error, "code")?,
                        message: take_string(&mut error, "message")?,
                    }),
                    _ => return Err("a reply holds either `ok` or `err`".to_owned()),
                },
            },
            "hello" => Envelope::Hello {
                from: tab(&mut fields, "from")?,
            },
            other => return Err(format!("unknown message kind {other:?}")),
        })
    }
}

type Pending<R> = RefCell<HashMap<u64, InboxSender<Result<R, ChannelError>>>>;

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
                let Some(text) = event.data().as_string() else {
                    on_incoming(Incoming::Undecodable {
                        error: "not a text message".to_owned(),
                    });
                    return;
                };
                let envelope = serde_json::from_str::<Value>(&text)
                    .map_err(|error| error.to_string())
                    .and_then(Envelope::<E, C, R>::from_value);
                match envelope {
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
        let text = envelope.to_value().to_string();
        self.channel
            .post_message(&JsValue::from_str(&text))
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
        let waiters: Vec<_> = self.shared.pending.borrow_mut().drain().collect();
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
        let waiters: Vec<_> = self.shared.pending.borrow_mut().drain().collect();
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
