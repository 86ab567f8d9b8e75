//! Recomputes the Noise known-answer vectors of `src/noise/tests/kat.rs` with
//! the `baileys` npm package (an independent implementation of WhatsApp's Noise
//! handshake) and fails if they differ. Needs Node and `npm ci`; without them
//! it says so and does nothing.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;
use std::process::Command;

#[test]
fn kat_vectors_match_baileys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("node_modules/baileys").exists() {
        eprintln!("skipped: node_modules/baileys is not installed (run `npm ci`)");
        return;
    }
    let output = match Command::new("node")
        .arg("tests/interop/noise_vectors.mjs")
        .arg("--check")
        .current_dir(root)
        .output()
    {
        Ok(output) => output,
        Err(err) => {
            eprintln!("skipped: cannot run node: {err}");
            return;
        }
    };
    assert!(
        output.status.success(),
        "Baileys disagrees with kat.rs:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("5 passed, 0 failed"));
}
