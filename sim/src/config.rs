//! How a simulator is set up: address, timings, initial accounts, persistence.
//!
//! Owns [`SimConfig`], [`PairingTimings`] and [`AccountSpec`]. The command line
//! (`main.rs`) and tests build one; [`crate::Sim::start`] consumes it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// QR reference timings of a registration connection.
///
/// The real server sends all references in one `pair-device` stanza; the client shows
/// the first for `first_ref`, each later one for `next_ref`, and the server closes the
/// connection when the last one expires (six references: 60 s + 5 × 20 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingTimings {
    /// Lifetime of the first reference (60 s on the real server).
    pub first_ref: Duration,
    /// Lifetime of each later reference (20 s).
    pub next_ref: Duration,
    /// Number of references (6).
    pub ref_count: usize,
}

impl Default for PairingTimings {
    fn default() -> Self {
        PairingTimings {
            first_ref: Duration::from_secs(60),
            next_ref: Duration::from_secs(20),
            ref_count: 6,
        }
    }
}

impl PairingTimings {
    /// How long after `pair-device` reference `index` (0-based) stops being valid.
    pub fn expiry_of(&self, index: usize) -> Duration {
        let later = u32::try_from(index).unwrap_or(u32::MAX);
        self.first_ref
            .saturating_add(self.next_ref.saturating_mul(later))
    }

    /// How long the server keeps an unpaired connection open.
    pub fn total(&self) -> Duration {
        self.expiry_of(self.ref_count.saturating_sub(1))
    }
}

/// An account to create at start (if the state does not already hold its phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSpec {
    /// Phone number, digits only (the JID user part).
    pub phone: String,
    /// Push name.
    pub name: String,
    /// Simulated devices: the phone (device 0) plus `devices - 1` companions.
    pub devices: u16,
}

impl AccountSpec {
    /// An account with `devices` simulated devices.
    pub fn new(phone: impl Into<String>, name: impl Into<String>, devices: u16) -> AccountSpec {
        AccountSpec {
            phone: phone.into(),
            name: name.into(),
            devices,
        }
    }
}

/// The user's own account in the default set-up: its phone scans QR codes.
pub const DEFAULT_ME_PHONE: &str = "15550001000";

/// Everything that configures a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (loopback by default).
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Seed for all randomness (keys, ids); `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Unix time (ms) the clock starts at; `None` = the system time.
    pub base_unix_ms: Option<u64>,
    /// QR reference timings.
    pub pairing: PairingTimings,
    /// How long a client may take to finish the Noise handshake (20 s).
    pub handshake_timeout: Duration,
    /// JSON file holding the state (accounts, devices, keys, queues); loaded at start
    /// when it exists, written on changes and at restart.
    pub state_path: Option<PathBuf>,
    /// Accounts created at start when absent.
    pub accounts: Vec<AccountSpec>,
    /// Whether a simulated contact marks what it receives as read (besides delivered).
    pub auto_read: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: None,
            base_unix_ms: None,
            pairing: PairingTimings::default(),
            handshake_timeout: Duration::from_secs(20),
            state_path: None,
            accounts: default_accounts(),
            auto_read: false,
        }
    }
}

/// The user's phone plus two contacts (one with a second device), enough for the demo.
pub fn default_accounts() -> Vec<AccountSpec> {
    vec![
        AccountSpec::new(DEFAULT_ME_PHONE, "Me", 1),
        AccountSpec::new("15550001001", "Alice", 1),
        AccountSpec::new("15550001002", "Bob", 2),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_server_timings_total_160_seconds() {
        let timings = PairingTimings::default();
        assert_eq!(timings.expiry_of(0), Duration::from_secs(60));
        assert_eq!(timings.expiry_of(1), Duration::from_secs(80));
        assert_eq!(timings.total(), Duration::from_secs(160));
    }
}
