//! Links a phone (or the simulator's phone) and prints the QR code in the terminal.
//!
//! ```text
//! cargo run -p wa-native --example link -- --url ws://127.0.0.1:8080/ws/chat --root <64 hex>
//!     [--phone +51987654321]   # ask for a pairing code instead of scanning
//!     [--push-name "Front desk"]
//! ```
//!
//! `--root` is the server's certificate root public key (the simulator prints
//! it); without it the real WhatsApp root is pinned. State is kept in memory.

use std::process::ExitCode;

use wa_native::{Clock, Driver, Event, WsConnector};
use wa_wasm::client::{ClientConfig, ConnectionState, render_terminal};
use wa_wasm::crypto::PublicKey;
use wa_wasm::noise::WA_ROOT_PUBLIC_KEY;
use wa_wasm::store::{MemoryStore, load_auth};

struct Args {
    url: String,
    root: PublicKey,
    phone: Option<String>,
    push_name: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut root = WA_ROOT_PUBLIC_KEY;
    let mut phone = None;
    let mut push_name = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--root" => {
                let bytes = hex::decode(value()?).map_err(|e| format!("--root: {e}"))?;
                root = PublicKey::from_slice(&bytes).map_err(|_| "--root: not a public key")?;
            }
            "--phone" => phone = Some(value()?),
            "--push-name" => push_name = Some(value()?),
            "--help" | "-h" => {
                return Err("usage: link --url ws://HOST:PORT/ws/chat [--root HEX] [--phone NUMBER] [--push-name NAME]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        root,
        phone,
        push_name,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let store = MemoryStore::new();
    let auth = match load_auth(&store).await {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("store: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = ClientConfig::new(args.url, args.root);
    config.push_name = args.push_name;
    let rng: rand::rngs::StdRng = rand::make_rng();
    let (driver, handle, mut events) =
        Driver::new(config, auth, store, WsConnector, Clock::system(), rng);
    tokio::spawn(driver.run());
    if let Err(error) = handle.connect().await {
        eprintln!("connect: {error}");
        return ExitCode::FAILURE;
    }
    let mut asked_for_code = false;
    while let Some(event) = events.next().await {
        match event {
            Event::Qr { code, .. } => {
                if let Some(phone) = args.phone.as_deref().filter(|_| !asked_for_code) {
                    asked_for_code = true;
                    if let Err(error) = handle.request_pairing_code(phone).await {
                        eprintln!("pairing code: {error}");
                    }
                    continue;
                }
                match render_terminal(&code) {
                    Ok(qr) => println!("{qr}\nScan with WhatsApp → Linked devices:\n{code}\n"),
                    Err(error) => eprintln!("{error}: {code}"),
                }
            }
            Event::PairingCode { code, .. } => println!("Pairing code: {code}"),
            Event::Paired { me, .. } => println!("Linked as {me}"),
            Event::Connection(update) => {
                println!(
                    "connection: {}{}",
                    update.state,
                    update
                        .reason_name()
                        .map(|r| format!(" ({r}, code {:?})", update.code()))
                        .unwrap_or_default()
                );
                match update.state {
                    ConnectionState::Open => {
                        if let Ok(status) = handle.status().await {
                            println!("open: {status:?}");
                        }
                    }
                    ConnectionState::Closed
                    | ConnectionState::LoggedOut
                    | ConnectionState::Replaced => {
                        return ExitCode::SUCCESS;
                    }
                    _ => {}
                }
            }
            other => println!("{other:?}"),
        }
    }
    ExitCode::SUCCESS
}
