//! Recomputes the Noise known-answer vectors of `src/noise/tests/kat.rs` with
//! the `baileys` npm package (an independent implementation of WhatsApp's Noise
//! handshake) and fails if they differ. Needs Node and `npm ci` (which
//! `cargo xtask test` runs); without them it fails and says so.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;
use std::process::Command;

#[test]
fn kat_vectors_match_baileys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/baileys").exists(),
        "node_modules/baileys is not installed: run `npm ci` (or `cargo xtask test`)"
    );
    let output = Command::new("node")
        .arg("tests/interop/noise_vectors.mjs")
        .arg("--check")
        .current_dir(root)
        .output()
        .unwrap_or_else(|err| panic!("cannot run node: {err}"));
    assert!(
        output.status.success(),
        "Baileys disagrees with kat.rs:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("5 passed, 0 failed"));
}
