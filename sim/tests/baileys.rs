//! Independence: the real Baileys client links to the `wa-sim` binary by QR, restarts
//! after 515, sends a text a simulated contact decrypts, and receives one
//! (`tests/interop/baileys_sim.mjs`). Needs Node and `npm ci` (which `cargo xtask test`
//! runs); without them it fails and says so.
#![allow(clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn baileys_links_sends_and_receives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    assert!(
        root.join("node_modules/baileys").exists(),
        "node_modules/baileys is not installed: run `npm ci` (or `cargo xtask test`)"
    );
    let output = Command::new("node")
        .args([
            "--test",
            "--test-force-exit",
            "tests/interop/baileys_sim.mjs",
        ])
        .env("WA_SIM_BIN", env!("CARGO_BIN_EXE_wa-sim"))
        .current_dir(root)
        .output()
        .unwrap_or_else(|err| panic!("cannot run node: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("# pass 1") && stdout.contains("# fail 0"),
        "Baileys against wa-sim failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
