//! `wa-sim`: runs the simulated WhatsApp Web server until interrupted.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wa_sim::{AccountSpec, CONTROL_ENDPOINTS, PairingTimings, Sim, SimConfig, default_accounts};

/// A simulated WhatsApp Web server with simulated phones, on loopback.
///
/// Prints one machine-readable line when ready:
/// `wa-sim listening ws=ws://HOST:PORT/ws/chat root=<root public key hex> control=http://HOST:PORT/control`.
/// Clients must pin the printed root key instead of WhatsApp's.
#[derive(Debug, Parser)]
#[command(name = "wa-sim", version, after_help = after_help())]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// JSON file with the state (accounts, linked devices, keys, queues): loaded at
    /// start if it exists, saved on changes and at exit.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Seed for all randomness (reproducible keys and ids).
    #[arg(long)]
    seed: Option<u64>,
    /// Account to create at start, as PHONE:NAME[:DEVICES] (repeatable). Replaces the
    /// default accounts (15550001000 "Me", 15550001001 "Alice", 15550001002 "Bob" with
    /// 2 devices).
    #[arg(long = "account", value_parser = parse_account)]
    accounts: Vec<AccountSpec>,
    /// Create no account at start (besides those in the state file and --account).
    #[arg(long)]
    no_default_accounts: bool,
    /// Seconds the first QR reference is valid.
    #[arg(long, default_value_t = 60)]
    qr_first_secs: u64,
    /// Seconds each later QR reference is valid.
    #[arg(long, default_value_t = 20)]
    qr_next_secs: u64,
    /// Number of QR references before the server closes an unpaired connection.
    #[arg(long, default_value_t = 6)]
    qr_refs: usize,
    /// Seconds a client may take to finish the Noise handshake.
    #[arg(long, default_value_t = 20)]
    handshake_timeout_secs: u64,
    /// Simulated contacts send read receipts (not only delivery receipts).
    #[arg(long)]
    auto_read: bool,
    /// Log filter (tracing syntax, e.g. `info`, `wa_sim=debug`); RUST_LOG also works.
    #[arg(long, default_value = "info")]
    log: String,
}

fn after_help() -> String {
    format!("Control API (HTTP JSON on the same port, CORS *):\n{CONTROL_ENDPOINTS}")
}

fn parse_account(text: &str) -> Result<AccountSpec, String> {
    let mut parts = text.splitn(3, ':');
    let phone = parts.next().unwrap_or_default();
    let name = parts.next().ok_or("expected PHONE:NAME[:DEVICES]")?;
    let devices = match parts.next() {
        Some(n) => n.parse().map_err(|_| format!("bad device count {n:?}"))?,
        None => 1,
    };
    Ok(AccountSpec::new(phone, name, devices))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| args.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();

    let mut accounts = if args.no_default_accounts || !args.accounts.is_empty() {
        Vec::new()
    } else {
        default_accounts()
    };
    accounts.extend(args.accounts);
    let config = SimConfig {
        host: args.host,
        port: args.port,
        seed: args.seed,
        state_path: args.state,
        accounts,
        auto_read: args.auto_read,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
        pairing: PairingTimings {
            first_ref: Duration::from_secs(args.qr_first_secs),
            next_ref: Duration::from_secs(args.qr_next_secs),
            ref_count: args.qr_refs,
        },
        ..SimConfig::default()
    };
    let sim = match Sim::start(config).await {
        Ok(sim) => sim,
        Err(err) => {
            eprintln!("wa-sim: {err}");
            return ExitCode::FAILURE;
        }
    };
    for account in sim.accounts() {
        let devices: Vec<String> = account.devices.iter().map(|d| d.jid.clone()).collect();
        println!(
            "account {} \"{}\" lid={} devices=[{}]",
            account.phone,
            account.name,
            account.lid,
            devices.join(", ")
        );
    }
    println!("{}", sim.banner());
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: run until killed.
        std::future::pending::<()>().await;
    }
    sim.shutdown();
    ExitCode::SUCCESS
}
