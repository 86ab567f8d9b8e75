//! [`Driver`]: the loop that runs the engine, and the [`Handle`] and
//! [`Events`] an application uses to talk to it.

use core::time::Duration;

use rand::CryptoRng;
use tokio::sync::{mpsc, oneshot};
use wa_wasm::binary::Jid;
use wa_wasm::binary::Node;
use wa_wasm::client::policy::{TransportClose, TransportCloseKind};
use wa_wasm::client::{
    Client, ClientConfig, ClientError, Event, MessageId, Output, QueryId, Status, load_records,
};
use wa_wasm::message::Message;
use wa_wasm::store::{LoadedAuth, Store};

use crate::clock::Clock;
use crate::connection::{Connection, Connector};

/// The driver is gone (its task ended or panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the driver has stopped")]
pub struct DriverStopped;

enum Command {
    Connect(oneshot::Sender<Result<(), ClientError>>),
    Disconnect(oneshot::Sender<()>),
    Logout(oneshot::Sender<()>),
    ClearSession(oneshot::Sender<()>),
    PairingCode(String, oneshot::Sender<Result<(), ClientError>>),
    Query(Node, oneshot::Sender<Result<QueryId, ClientError>>),
    Status(oneshot::Sender<Status>),
    SendText(Jid, String, oneshot::Sender<Result<MessageId, ClientError>>),
    SendMessage(
        Jid,
        Box<Message>,
        oneshot::Sender<Result<MessageId, ClientError>>,
    ),
    MarkRead(ReadMark, oneshot::Sender<Result<(), ClientError>>),
    OnWhatsApp(Vec<String>, oneshot::Sender<Result<QueryId, ClientError>>),
    ParseRecipient(String, oneshot::Sender<Result<Jid, ClientError>>),
}

struct ReadMark {
    chat: Jid,
    sender: Option<Jid>,
    ids: Vec<MessageId>,
}

/// Sends commands to a running [`Driver`]. Cheap to clone; the driver stops
/// when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Command")
    }
}

impl Handle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverStopped> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| DriverStopped)?;
        rx.await.map_err(|_| DriverStopped)
    }

    /// [`Client::connect`].
    pub async fn connect(&self) -> Result<(), ClientError> {
        self.ask(Command::Connect)
            .await
            .unwrap_or(Err(ClientError::Send("the driver has stopped".into())))
    }

    /// [`Client::disconnect`].
    pub async fn disconnect(&self) -> Result<(), DriverStopped> {
        self.ask(Command::Disconnect).await
    }

    /// [`Client::logout`].
    pub async fn logout(&self) -> Result<(), DriverStopped> {
        self.ask(Command::Logout).await
    }

    /// [`Client::clear_session`].
    pub async fn clear_session(&self) -> Result<(), DriverStopped> {
        self.ask(Command::ClearSession).await
    }

    /// [`Client::request_pairing_code`]; the code arrives as [`Event::PairingCode`].
    pub async fn request_pairing_code(&self, phone: &str) -> Result<(), ClientError> {
        let phone = phone.to_owned();
        self.ask(|tx| Command::PairingCode(phone, tx))
            .await
            .unwrap_or(Err(ClientError::Send("the driver has stopped".into())))
    }

    /// [`Client::query`]; the answer arrives as [`Event::QueryResult`].
    pub async fn query(&self, node: Node) -> Result<QueryId, ClientError> {
        self.ask(|tx| Command::Query(node, tx))
            .await
            .unwrap_or(Err(ClientError::Send("the driver has stopped".into())))
    }

    /// [`Client::status`].
    pub async fn status(&self) -> Result<Status, DriverStopped> {
        self.ask(Command::Status).await
    }

    /// [`Client::send_text`]; the status arrives as [`Event::MessageStatus`].
    pub async fn send_text(&self, to: &Jid, text: &str) -> Result<MessageId, ClientError> {
        let (to, text) = (to.clone(), text.to_owned());
        self.ask(|tx| Command::SendText(to, text, tx))
            .await
            .unwrap_or(Err(stopped()))
    }

    /// [`Client::send_message`].
    pub async fn send_message(&self, to: &Jid, message: Message) -> Result<MessageId, ClientError> {
        let to = to.clone();
        self.ask(|tx| Command::SendMessage(to, Box::new(message), tx))
            .await
            .unwrap_or(Err(stopped()))
    }

    /// [`Client::mark_read`].
    pub async fn mark_read(
        &self,
        chat: &Jid,
        sender: Option<&Jid>,
        ids: &[MessageId],
    ) -> Result<(), ClientError> {
        let mark = ReadMark {
            chat: chat.clone(),
            sender: sender.cloned(),
            ids: ids.to_vec(),
        };
        self.ask(|tx| Command::MarkRead(mark, tx))
            .await
            .unwrap_or(Err(stopped()))
    }

    /// [`Client::parse_recipient`].
    pub async fn parse_recipient(&self, input: &str) -> Result<Jid, ClientError> {
        let input = input.to_owned();
        self.ask(|tx| Command::ParseRecipient(input, tx))
            .await
            .unwrap_or(Err(stopped()))
    }

    /// [`Client::is_on_whatsapp`]; the answer arrives as [`Event::OnWhatsApp`].
    pub async fn is_on_whatsapp(&self, phones: &[&str]) -> Result<QueryId, ClientError> {
        let phones = phones.iter().map(|p| (*p).to_owned()).collect();
        self.ask(|tx| Command::OnWhatsApp(phones, tx))
            .await
            .unwrap_or(Err(stopped()))
    }
}

fn stopped() -> ClientError {
    ClientError::Send("the driver has stopped".into())
}

/// The engine's events, in order.
#[derive(Debug)]
pub struct Events {
    events: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once the driver stopped.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next event for which `wanted` holds (skipping the others), within
    /// `timeout` of tokio time.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut wanted: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        tokio::time::timeout(timeout, async {
            while let Some(event) = self.events.recv().await {
                if wanted(&event) {
                    return Some(event);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// An event already waiting, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}

/// Runs one engine: opens sockets with `C`, commits to `S`, reads time from a
/// [`Clock`], draws randomness from `R`.
#[derive(Debug)]
pub struct Driver<S, C, R> {
    client: Client,
    store: S,
    connector: C,
    clock: Clock,
    rng: R,
    connection: Option<Connection>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
}

impl<S: Store, C: Connector, R: CryptoRng> Driver<S, C, R> {
    /// A driver for a new engine, with its handle and event stream. Call
    /// [`run`](Self::run) (spawn it) to start.
    pub fn new(
        config: ClientConfig,
        auth: LoadedAuth,
        store: S,
        connector: C,
        clock: Clock,
        rng: R,
    ) -> (Self, Handle, Events) {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let driver = Self {
            client: Client::new(config, auth),
            store,
            connector,
            clock,
            rng,
            connection: None,
            commands: command_rx,
            events: event_tx,
        };
        (
            driver,
            Handle {
                commands: command_tx,
            },
            Events { events: event_rx },
        )
    }

    /// Loads the messaging records from the store, then runs until every
    /// [`Handle`] is dropped; returns the store.
    pub async fn run(mut self) -> S {
        match load_records(&self.store).await {
            Ok(records) => self.client.restore(records),
            Err(error) => {
                tracing::warn!(%error, "messaging records not loaded");
                let _ = self.events.send(Event::StoreFailed { error });
            }
        }
        loop {
            self.flush().await;
            let deadline = self
                .client
                .poll_timeout()
                .map(|at| self.clock.instant_at(at));
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let incoming = async {
                match self.connection.as_mut() {
                    Some(connection) => connection.incoming.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                bytes = incoming => {
                    let now = self.clock.now_ms();
                    match bytes {
                        Some(bytes) => self.client.handle_bytes(&bytes, now, &mut self.rng),
                        None => {
                            self.connection = None;
                            let close = TransportClose {
                                kind: TransportCloseKind::ClosedByPeer,
                                websocket_code: None,
                            };
                            self.client.handle_disconnected(close, now, &mut self.rng);
                        }
                    }
                }
                () = sleep => {
                    let now = self.clock.now_ms();
                    self.client.handle_timeout(now, &mut self.rng);
                }
            }
        }
        self.store
    }

    fn command(&mut self, command: Command) {
        let now = self.clock.now_ms();
        let rng = &mut self.rng;
        match command {
            Command::Connect(reply) => {
                let _ = reply.send(self.client.connect(now, rng));
            }
            Command::Disconnect(reply) => {
                self.client.disconnect(now, rng);
                let _ = reply.send(());
            }
            Command::Logout(reply) => {
                self.client.logout(now, rng);
                let _ = reply.send(());
            }
            Command::ClearSession(reply) => {
                self.client.clear_session(now, rng);
                let _ = reply.send(());
            }
            Command::PairingCode(phone, reply) => {
                let _ = reply.send(self.client.request_pairing_code(&phone, now, rng));
            }
            Command::Query(node, reply) => {
                let _ = reply.send(self.client.query(node, now));
            }
            Command::Status(reply) => {
                let _ = reply.send(self.client.status());
            }
            Command::SendText(to, text, reply) => {
                let _ = reply.send(self.client.send_text(&to, &text, now, rng));
            }
            Command::SendMessage(to, message, reply) => {
                let _ = reply.send(self.client.send_message(&to, *message, now, rng));
            }
            Command::MarkRead(mark, reply) => {
                let result =
                    self.client
                        .mark_read(&mark.chat, mark.sender.as_ref(), &mark.ids, now, rng);
                let _ = reply.send(result);
            }
            Command::ParseRecipient(input, reply) => {
                let _ = reply.send(self.client.parse_recipient(&input));
            }
            Command::OnWhatsApp(phones, reply) => {
                let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
                let _ = reply.send(self.client.is_on_whatsapp(&phones, now, rng));
            }
        }
    }

    /// Acts on every output, in order.
    async fn flush(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Connect { url } => {
                    self.connection = None;
                    let result = self.connector.connect(&url).await;
                    let now = self.clock.now_ms();
                    match result {
                        Ok(connection) => {
                            self.connection = Some(connection);
                            self.client.handle_connected(now, &mut self.rng);
                        }
                        Err(error) => {
                            tracing::info!(%error, "connect failed");
                            let close = TransportClose {
                                kind: TransportCloseKind::ConnectFailed,
                                websocket_code: None,
                            };
                            self.client.handle_disconnected(close, now, &mut self.rng);
                        }
                    }
                }
                Output::Send(bytes) => {
                    // A send on a dead socket is noticed by the reader.
                    if let Some(connection) = &self.connection {
                        let _ = connection.outgoing.send(bytes);
                    }
                }
                Output::Disconnect => self.connection = None,
                Output::Persist(changes) => {
                    let result = self.store.commit(&changes).await;
                    let now = self.clock.now_ms();
                    self.client.handle_persisted(result, now, &mut self.rng);
                }
                Output::Wipe => {
                    let result = self.store.wipe().await;
                    let now = self.clock.now_ms();
                    self.client.handle_persisted(result, now, &mut self.rng);
                }
                Output::Event(event) => {
                    let _ = self.events.send(event);
                }
            }
        }
    }
}
