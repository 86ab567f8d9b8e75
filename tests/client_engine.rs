//! The client engine against a scripted fake server: linking, login,
//! keepalive, reconnects, logout, and one test per fault
//! (the README's fault matrix). The same tests run in the browser (`tests/web`).

// In the browser these run through `tests/web`.
#![cfg(not(target_arch = "wasm32"))]

mod client_common;
