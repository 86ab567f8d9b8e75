//! The `wa-sim` binary: `--help` documents options and endpoints; the start banner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn help_lists_every_option_and_control_endpoint() {
    let output = Command::new(env!("CARGO_BIN_EXE_wa-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--host",
        "--port",
        "--state",
        "--seed",
        "--account",
        "--no-default-accounts",
        "--qr-first-secs",
        "--qr-next-secs",
        "--qr-refs",
        "--handshake-timeout-secs",
        "--auto-read",
        "--log",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
    for route in [
        "/ws/chat",
        "/control/info",
        "/control/accounts",
        "/control/accounts/{phone}/received",
        "/control/accounts/{phone}/receipts",
        "/control/accounts/{phone}/behaviour",
        "/control/connections",
        "/control/pairings",
        "/control/scan-qr",
        "/control/pairing-code",
        "/control/messages",
        "/control/groups",
        "/control/unlink",
        "/control/faults",
        "/control/restart",
        "/control/events",
        "/mms/{type}/{token}",
        "/v/{path}",
    ] {
        assert!(help.contains(route), "{route} missing from --help");
    }
    assert!(help.contains("wa-sim listening ws="));
}

#[test]
fn prints_accounts_and_the_machine_readable_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wa-sim"))
        .args([
            "--port",
            "0",
            "--account",
            "15551112222:Zoe:2",
            "--log",
            "warn",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let account = lines.next().unwrap().unwrap();
    assert!(
        account.starts_with("account 15551112222 \"Zoe\" lid="),
        "{account}"
    );
    assert!(account.contains("15551112222:1@s.whatsapp.net"));
    let banner = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let fields: Vec<&str> = banner.split(' ').collect();
    assert_eq!(&fields[..2], ["wa-sim", "listening"], "{banner}");
    assert!(fields[2].starts_with("ws=ws://127.0.0.1:") && fields[2].ends_with("/ws/chat"));
    let root = fields[3].strip_prefix("root=").unwrap();
    assert_eq!(hex::decode(root).unwrap().len(), 32);
    assert!(fields[4].starts_with("control=http://127.0.0.1:") && fields[4].ends_with("/control"));
}
