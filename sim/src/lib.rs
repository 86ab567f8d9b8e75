//! # wa-sim
//!
//! A simulated WhatsApp Web server and phones on loopback, faithful enough that real
//! clients (the project's engine, Baileys) link to it, with a control API and fault
//! injection for tests and the demo.
//!
//! One port serves everything: the WebSocket clients connect to
//! (`ws://127.0.0.1:PORT/ws/chat`), the JSON control API (`/control/…`, CORS `*`) and
//! the media endpoints. In-process tests use [`Sim::connect_local`] instead of a socket
//! and drive the same server logic, with tokio's paused time if they like.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wa_sim::SimError> {
//! use wa_sim::{Sim, SimConfig};
//!
//! let sim = Sim::start(SimConfig::default()).await?;
//! println!("{}", sim.banner()); // ws=… root=<hex to pin> control=…
//! // A client shows a QR code; the phone of the default account scans it:
//! // sim.scan_qr(None, "https://wa.me/settings/linked_devices#…")?;
//! // A contact writes to the linked account:
//! // sim.send_text("15550001001", "15550001000", "hola")?;
//! # Ok(()) }
//! ```
//!
//! Layers (each module says what it owns): `conn` (Noise responder, framing, wire
//! faults) → `stanza` (login, IQs) / `pairing` (linking) / `routing` (message fan-out)
//! → `phone` (simulated devices with the core's Signal) over the shared `world`.
#![cfg_attr(not(test), warn(missing_docs))]

mod api;
mod clock;
mod config;
mod conn;
mod http;
mod identity;
mod link;
mod pairing;
mod persist;
mod phone;
mod routing;
mod sim;
mod stanza;
mod store;
mod world;

pub use api::{
    AccountInfo, ConnectionInfo, ContactBehaviour, DeviceInfo, DeviceKind, DocumentSpec,
    EventRecord, Fault, FaultRequest, GroupInfo, HandshakeStage, NewAccount, NewGroup, PairingInfo,
    ReceiptInfo, ReceivedDocument, ReceivedMessage, SendRequest, SentInfo, SimEvent,
};
pub use clock::Clock;
pub use config::{AccountSpec, DEFAULT_ME_PHONE, PairingTimings, SimConfig, default_accounts};
pub use http::CONTROL_ENDPOINTS;
pub use link::{LinkClosed, LinkReceiver, LinkSender, LocalLink};
pub use pairing::PairError;
pub use phone::SendError;
pub use sim::{Sim, SimError};
pub use world::AccountError;
