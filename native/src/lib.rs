//! # wa-native
//!
//! Runs the sans-IO engine of [`wa_wasm::client`] natively, on tokio.
//!
//! Owns the I/O the engine leaves out: sockets ([`Connection`], opened by a
//! [`Connector`]: WebSocket with [`WsConnector`], or an in-memory link for
//! tests), HTTP for media ([`HttpTransport`], [`HyperHttp`]), time ([`Clock`], which follows tokio's clock so paused-time tests
//! run in virtual time), storage (any [`wa_wasm::store::Store`]) and the
//! [`Driver`] loop that moves the engine's outputs in order. Applications talk
//! to a running driver through a [`Handle`] and read [`Event`]s from an
//! [`Events`] stream. Does not own protocol logic: that is all in the engine.
//!
//! ```no_run
//! use wa_native::{Clock, Driver, WsConnector};
//! use wa_wasm::client::ClientConfig;
//! use wa_wasm::store::{MemoryStore, load_auth};
//! # async fn run(root: wa_wasm::crypto::PublicKey) -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let auth = load_auth(&store).await?;
//! let config = ClientConfig::new("ws://127.0.0.1:8080/ws/chat", root);
//! let rng: rand::rngs::StdRng = rand::make_rng();
//! let (driver, handle, mut events) =
//!     Driver::new(config, auth, store, WsConnector, Clock::system(), rng);
//! tokio::spawn(driver.run());
//! handle.connect().await?;
//! while let Some(event) = events.next().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

mod clock;
mod connection;
mod driver;
mod http;

pub use clock::Clock;
pub use connection::{ConnectError, Connection, Connector, WsConnector};
pub use driver::{Driver, DriverStopped, Events, Handle};
pub use http::{HttpFuture, HttpTransport, HyperHttp};
pub use wa_wasm::client::Event;
