//! The browser shell (wasm32 only): the only module that touches the browser.
//!
//! Owns: the browser platform pieces the `WaClient` shell is built from —
//! the IndexedDB store of a session ([`IndexedDbStore`], encrypted at rest by
//! [`crypto_at_rest`]), the index of stored sessions ([`SessionIndex`]), one
//! tab per session ([`SessionLock`], [`SessionChannel`]), the WebSocket
//! transport ([`WebSocketTransport`]), a re-armable timer ([`Timer`]) and the
//! page lifecycle events ([`PageLifecycle`]). Everything below it is sans-IO;
//! nothing outside this module may use `web-sys`, `js-sys` or
//! `wasm-bindgen-futures`.
//!
//! Errors are typed per piece (`IdbError`, `LockError`, …); the `WaClient`
//! shell turns them into one JS error class with a `code`.

pub mod crypto_at_rest;
pub mod idb;
mod inbox;
mod js;
mod store;
pub mod timer;

pub use idb::{Connection, IdbError, Migration};
pub use inbox::{Inbox, InboxSender, inbox};
pub use store::{IndexedDbStore, META, RECORD_KEY, RECORDS, SESSION_SCHEMA, session_database_name};
pub use timer::{Timer, now_unix_ms, sleep};

use wasm_bindgen::prelude::wasm_bindgen;

/// The version of this package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
