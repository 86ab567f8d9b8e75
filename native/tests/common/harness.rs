//! The small interface scenarios are written against, so that the same
//! scenarios can later run in a browser (against a simulator process over
//! WebSocket) with another implementation. No tokio types appear here.

use core::time::Duration;

use wa_wasm::client::{ClientError, ConnectionState, ConnectionUpdate, Event, Status};

/// Start a client, drive the server, wait for what the client reports.
#[allow(async_fn_in_trait)]
pub trait Harness {
    /// (Re)starts the client from what its store holds (a page reload).
    async fn start_client(&mut self);
    /// `connect`.
    async fn connect(&mut self) -> Result<(), ClientError>;
    /// `logout`.
    async fn logout(&mut self);
    /// `clear_session`.
    async fn clear_session(&mut self);
    /// `request_pairing_code`.
    async fn request_pairing_code(&mut self, phone: &str) -> Result<(), ClientError>;
    /// `status`.
    async fn status(&mut self) -> Status;
    /// The next event for which `wanted` holds, within `within` (test time).
    async fn wait_event(
        &mut self,
        within: Duration,
        wanted: &mut dyn FnMut(&Event) -> bool,
    ) -> Option<Event>;
    /// Lets `duration` of test time pass.
    async fn sleep(&mut self, duration: Duration);

    /// The account's phone number (user part of the JID).
    fn phone(&self) -> &str;
    /// The phone scans this QR text.
    fn scan(&mut self, qr: &str);
    /// The server sends `stream:error` (401 as device_removed, 440 as replaced) and closes.
    fn stream_error(&mut self, code: u16);
    /// The server drops the current connection.
    fn drop_connection(&mut self);
    /// The server restarts (every connection dropped, state kept).
    async fn restart_server(&mut self);
    /// The server stops (true) or resumes answering anything.
    fn set_silent(&mut self, silent: bool);
    /// The server answers the next login with `<failure reason>`.
    fn fail_next_login(&mut self, reason: u16);
    /// Connections the server accepted so far.
    fn connections(&self) -> u32;
    /// Whether the server holds a linked device.
    fn server_has_device(&self) -> bool;
    /// Records in the client's store.
    fn stored_records(&self) -> usize;

    /// The next connection update with `state`, within `within`.
    async fn wait_state(
        &mut self,
        state: ConnectionState,
        within: Duration,
    ) -> Option<ConnectionUpdate> {
        let event = self
            .wait_event(
                within,
                &mut |e| matches!(e, Event::Connection(update) if update.state == state),
            )
            .await?;
        match event {
            Event::Connection(update) => Some(update),
            _ => None,
        }
    }

    /// The next QR code text and its expiry, within `within`.
    async fn wait_qr(&mut self, within: Duration) -> Option<(String, u64)> {
        match self
            .wait_event(within, &mut |e| matches!(e, Event::Qr { .. }))
            .await?
        {
            Event::Qr {
                code, expires_at, ..
            } => Some((code, expires_at)),
            _ => None,
        }
    }
}
