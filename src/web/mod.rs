//! The browser shell (wasm32 only): the only module that touches the browser.
//!
//! Owns: the `WaClient` JavaScript API, the WebSocket transport, timers and the
//! IndexedDB store. Everything below it is sans-IO.

use wasm_bindgen::prelude::wasm_bindgen;

/// The version of this package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
