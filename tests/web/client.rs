//! The engine's scenario and fault tests, compiled for wasm32 and run in the browser.

#[path = "../client_common/mod.rs"]
mod client_common;
