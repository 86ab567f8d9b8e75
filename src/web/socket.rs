//! The browser WebSocket as a byte transport for the driver loop.
//!
//! Owns: [`WebSocketTransport`], a binary WebSocket (`binaryType =
//! "arraybuffer"`) whose `open`, `message`, `error` and `close` events reach
//! one callback as [`SocketEvent`]s, in order, from the browser's event loop;
//! sending bytes; closing with a code; and the close codes reported back
//! ([`CloseInfo`]).
//!
//! Does not own framing (WhatsApp frames may be split or merged across
//! messages: the Noise frame decoder reassembles them), reconnecting (the
//! engine's policy decides) or timeouts (see [`super::Timer`]). A driver loop
//! typically pushes the events into an [`super::Inbox`] together with its
//! timer and lifecycle events, tagging each with the connection it came from.
//!
//! Browsers hide why a connection failed: an unreachable server, a refused
//! handshake and a TLS failure all look the same, an `error` event followed by
//! a `close` with code 1006 ([`CLOSE_ABNORMAL`]).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use super::js::error_name_and_message;

/// Close code of a normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code the browser reports when the connection failed or dropped
/// without a close frame.
pub const CLOSE_ABNORMAL: u16 = 1006;

/// How a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code (1000 normal, 1006 abnormal: never connected or
    /// dropped, 4000–4999 application codes).
    pub code: u16,
    /// The peer's reason text, often empty.
    pub reason: String,
    /// Whether the closing handshake completed.
    pub was_clean: bool,
}

impl CloseInfo {
    /// Whether the connection failed or dropped rather than being closed.
    pub fn is_abnormal(&self) -> bool {
        self.code == CLOSE_ABNORMAL || !self.was_clean
    }
}

/// What happened on the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// The connection is open: bytes can be sent.
    Open,
    /// A binary message arrived.
    Message(Vec<u8>),
    /// A text message arrived (WhatsApp never sends one).
    Text(String),
    /// The browser reported an error; a [`SocketEvent::Closed`] follows.
    Error,
    /// The connection is closed; no event follows.
    Closed(CloseInfo),
}

/// The state of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// Still connecting.
    Connecting,
    /// Open.
    Open,
    /// Closing.
    Closing,
    /// Closed (or never opened).
    Closed,
}

/// Why a socket operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// The URL is not a valid `ws:`/`wss:` URL, or its port is blocked.
    #[error("invalid WebSocket URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// The browser's message.
        message: String,
    },
    /// Sending needs an open connection.
    #[error("the socket is not open")]
    NotOpen,
    /// The close code is not allowed (1000, or 3000–4999).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// Another failure.
    #[error("WebSocket {operation} failed: {name}: {message}")]
    Failed {
        /// What we were doing.
        operation: &'static str,
        /// The `DOMException` name.
        name: String,
        /// The browser's message.
        message: String,
    },
}

type Handler = Rc<RefCell<dyn FnMut(SocketEvent)>>;

/// A binary WebSocket connection.
///
/// Dropping it detaches the callback (no event is delivered afterwards) and
/// closes the connection with [`CLOSE_NORMAL`].
pub struct WebSocketTransport {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl core::fmt::Debug for WebSocketTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("url", &self.socket.url())
            .field("state", &self.state())
            .finish()
    }
}

impl WebSocketTransport {
    /// Starts connecting to `url`; `on_event` receives every event, starting
    /// with [`SocketEvent::Open`] or [`SocketEvent::Error`].
    pub fn connect(
        url: &str,
        on_event: impl FnMut(SocketEvent) + 'static,
    ) -> Result<Self, SocketError> {
        let socket = WebSocket::new(url).map_err(|error| {
            let (_, message) = error_name_and_message(&error);
            SocketError::InvalidUrl {
                url: url.to_owned(),
                message,
            }
        })?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let handler: Handler = Rc::new(RefCell::new(on_event));
        let emit = move |handler: &Handler, event: SocketEvent| {
            // Events come one at a time from the event loop; a callback that
            // re-enters (it cannot, events are never dispatched synchronously)
            // would only lose that event.
            if let Ok(mut handler) = handler.try_borrow_mut() {
                handler(event);
            }
        };
        let on_open = {
            let handler = Rc::clone(&handler);
            Closure::<dyn FnMut(Event)>::new(move |_: Event| emit(&handler, SocketEvent::Open))
        };
        let on_message = {
            let handler = Rc::clone(&handler);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data();
                let event = match data.dyn_ref::<ArrayBuffer>() {
                    Some(buffer) => SocketEvent::Message(Uint8Array::new(buffer).to_vec()),
                    None => SocketEvent::Text(data.as_string().unwrap_or_default()),
                };
                emit(&handler, event);
            })
        };
        let on_error = {
            let handler = Rc::clone(&handler);
            Closure::<dyn FnMut(Event)>::new(move |_: Event| emit(&handler, SocketEvent::Error))
        };
        let on_close = {
            let handler = Rc::clone(&handler);
            Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
                emit(
                    &handler,
                    SocketEvent::Closed(CloseInfo {
                        code: event.code(),
                        reason: event.reason(),
                        was_clean: event.was_clean(),
                    }),
                );
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_error: on_error,
            _on_close: on_close,
        })
    }

    /// Sends `bytes` as one binary message.
    pub fn send(&self, bytes: &[u8]) -> Result<(), SocketError> {
        if self.state() != SocketState::Open {
            return Err(SocketError::NotOpen);
        }
        self.socket.send_with_u8_array(bytes).map_err(|error| {
            let (name, message) = error_name_and_message(&error);
            SocketError::Failed {
                operation: "send",
                name,
                message,
            }
        })
    }

    /// Closes with [`CLOSE_NORMAL`].
    pub fn close(&self) {
        // Closing a closed socket does nothing; 1000 is always valid.
        let _ = self.socket.close_with_code(CLOSE_NORMAL);
    }

    /// Closes with `code` (1000 or 3000–4999) and a reason of at most 123
    /// bytes.
    pub fn close_with(&self, code: u16, reason: &str) -> Result<(), SocketError> {
        if code != CLOSE_NORMAL && !(3000..=4999).contains(&code) {
            return Err(SocketError::InvalidCloseCode(code));
        }
        self.socket
            .close_with_code_and_reason(code, reason)
            .map_err(|error| {
                let (name, message) = error_name_and_message(&error);
                SocketError::Failed {
                    operation: "close",
                    name,
                    message,
                }
            })
    }

    /// The connection's state.
    pub fn state(&self) -> SocketState {
        match self.socket.ready_state() {
            WebSocket::CONNECTING => SocketState::Connecting,
            WebSocket::OPEN => SocketState::Open,
            WebSocket::CLOSING => SocketState::Closing,
            _ => SocketState::Closed,
        }
    }

    /// Bytes queued by [`WebSocketTransport::send`] but not yet sent (for
    /// back-pressure).
    pub fn buffered_amount(&self) -> u32 {
        self.socket.buffered_amount()
    }

    /// The URL connected to.
    pub fn url(&self) -> String {
        self.socket.url()
    }
}

impl Drop for WebSocketTransport {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close_with_code(CLOSE_NORMAL);
    }
}
