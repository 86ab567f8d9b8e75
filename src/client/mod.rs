//! The sans-IO client engine.
//!
//! Owns the connection lifecycle of one session: the Noise handshake and the
//! `ClientPayload`, linking (QR codes with rotation and expiry, pairing
//! codes, verification of `pair-success` and the signed reply, the 515
//! restart), login with stored credentials, pre-key uploads, passive/active,
//! keepalive, IQ tracking with deadlines, the reconnect [`policy`] applied to
//! every close, logout and clearing the session, and the status view. Does
//! not own any I/O: sockets, timers, storage and randomness belong to the
//! shell (the tokio driver in `wa-native`, the browser shell in `web`).
//! Messaging (Signal records, receiving, sending, receipts, retries) lives in
//! `messaging` and `keystore`; phone numbers and JIDs typed by people in
//! [`addressing`].
//!
//! # Driving it
//!
//! ```
//! use rand::SeedableRng;
//! use wa_wasm::client::{Client, ClientConfig, ConnectionState, Event, Output};
//! use wa_wasm::store::LoadedAuth;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let mut client = Client::new(ClientConfig::default(), LoadedAuth::Empty);
//! let now = 1_750_000_000_000; // unix ms, from the shell's clock
//! client.connect(now, &mut rng)?;
//! let mut outputs = Vec::new();
//! while let Some(output) = client.poll_output() {
//!     outputs.push(output);
//! }
//! assert!(matches!(outputs[0], Output::Connect { .. }));
//! assert!(matches!(
//!     &outputs[1],
//!     Output::Event(Event::Connection(update)) if update.state == ConnectionState::Connecting
//! ));
//! // The shell opens the socket, then reports it: the ClientHello goes out.
//! client.handle_connected(now + 40, &mut rng);
//! assert!(matches!(client.poll_output(), Some(Output::Send(_))));
//! assert_eq!(client.poll_timeout(), Some(now + 40 + 20_000)); // handshake deadline
//! # Ok::<(), wa_wasm::client::ClientError>(())
//! ```
//!
//! # Ordering and durability
//!
//! Outputs come out in the order they must happen. After
//! [`Output::Persist`] (and [`Output::Wipe`]) nothing comes out until the
//! shell reports the result with [`Client::handle_persisted`]: the
//! `pair-device-sign` reply, pre-key uploads and (later) acks and receipts
//! never leave before what they depend on is stored. A failed commit drops
//! what depended on it and closes the connection; the server sends again
//! what was not acknowledged.

pub mod addressing;
mod config;
mod engine;
mod event;
mod iq;
mod keystore;
mod messaging;
mod payload;
pub mod policy;
mod qr;
mod stanza;
mod state;

pub use config::{
    Browser, ClientConfig, DEFAULT_CLIENT_REVISION, DEFAULT_URL, Platform, PreKeyPolicy, QrTiming,
    Timeouts,
};
pub use engine::{Client, ClientError};
pub use event::{
    CloseReason, ConnectionState, ConnectionUpdate, Event, LastDisconnect, Output, ReconnectStatus,
    Stats, Status,
};
pub use iq::{IqError, QueryId};
pub use keystore::{MESSAGING_NAMESPACES, StoredRecords, load_records};
pub use messaging::{
    IncomingMessage, MessageContent, MessageId, MessageStatus, MessageStatusUpdate, OnWhatsApp,
    Receipt, ReceiptKind, SendFailure,
};
pub use payload::PayloadError;
pub use qr::{QrRenderError, render_svg, render_terminal};
