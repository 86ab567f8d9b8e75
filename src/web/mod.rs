//! The browser shell (wasm32 only): the only module that touches the browser.
//!
//! Owns: the browser platform pieces the `WaClient` shell is built from —
//! the IndexedDB store of a session ([`IndexedDbStore`], encrypted at rest by
//! [`crypto_at_rest`]), the index of stored sessions ([`SessionIndex`]), one
//! tab per session ([`SessionLock`], [`SessionChannel`]), the WebSocket
//! transport ([`WebSocketTransport`]), a re-armable timer ([`Timer`]) and the
//! page lifecycle events ([`PageLifecycle`]) — and the shell itself:
//! [`WaClient`] (the JS API, `wa_client`), its driver loop (`driver`), its
//! options, events and [`WaError`] (`api`) and console logging (`console`).
//! Everything below it is sans-IO;
//! nothing outside this module may use `web-sys`, `js-sys` or
//! `wasm-bindgen-futures`.
//!
//! Errors are typed per piece (`IdbError`, `LockError`, …); the `WaClient`
//! shell turns them into one JS error class with a `code`.

mod api;
pub mod channel;
mod console;
pub mod crypto_at_rest;
mod driver;
mod http;
pub mod idb;
mod inbox;
pub mod index;
mod js;
pub mod lifecycle;
pub mod lock;
pub mod media;
pub mod object;
pub mod socket;
mod store;
pub mod timer;
mod wa_client;

pub use api::{ErrorCode, Options, WaError};
pub use channel::{
    ChannelError, CommandRequest, Incoming, RemoteError, SessionChannel, TabId, Wire,
};
pub use console::{ConsoleLog, LogLevel, install_panic_hook};
pub use idb::{Connection, IdbError, Migration};
pub use inbox::{Inbox, InboxSender, inbox};
pub use index::{DuplicateLink, SessionIndex, SessionInfo, find_duplicates};
pub use lifecycle::{PageEvent, PageLifecycle, is_online, is_visible};
pub use lock::{LockEnd, LockError, SessionLock};
pub use socket::{CloseInfo, SocketError, SocketEvent, SocketState, WebSocketTransport};
pub use store::{IndexedDbStore, META, RECORD_KEY, RECORDS, SESSION_SCHEMA, session_database_name};
pub use timer::{Timer, now_unix_ms, sleep};
pub use wa_client::WaClient;

use wasm_bindgen::prelude::wasm_bindgen;

/// The version of this package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
