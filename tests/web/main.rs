//! Browser tests: compiled to wasm32 and run in headless Chromium by
//! `wasm-pack test --headless --chrome --test web` (see `cargo xtask test`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod at_rest;
mod binary;
mod client;
mod crypto;
mod idb_store;
mod noise;
mod sessions_index;
mod signal;
// Shared with tests/bench_web, which uses helpers these tests do not.
#[allow(dead_code)]
mod sim_support;
mod store;
mod tabs;
mod transport;
mod wa_client;
