//! A scripted in-process server for driver tests: the Noise responder, a
//! registration that hands out QR refs and links when "scanned", logins that
//! answer the engine's requests, and a few faults. It speaks through the
//! same in-memory [`Connection`]s the simulator's local links will use.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;
use wa_native::{ConnectError, Connection};
use wa_wasm::binary::{Jid, Node, pack, unpack};
use wa_wasm::crypto::{KeyPair, PublicKey};
use wa_wasm::noise::{CertChainBuilder, FrameDecoder, ServerHandshake};
use wa_wasm::pairing::{DeviceIdentityGrant, QrData, issue_device_identity, verify_device_sign};
use wa_wasm::payload::{ClientPayload, PayloadKind};

pub const PHONE: &str = "51987654321";
pub const DEVICE: u16 = 12;

/// What a test can tell the current connection to do.
#[derive(Debug)]
pub enum Control {
    /// The phone scans this QR text.
    Scan(String),
    /// Send this stanza.
    Send(Node),
    /// Drop the socket without a word.
    Close,
}

#[derive(Default)]
pub struct Shared {
    /// The companion identity the phone linked, if any.
    pub linked: Option<PublicKey>,
    /// Pre-keys the server holds.
    pub pre_keys: u64,
    /// Sockets refused while set.
    pub down: bool,
    /// The next login is refused with this reason.
    pub fail_login: Option<u16>,
    /// The connection that stopped answering anything, if any.
    pub silent: Option<u32>,
    /// QR refs per registration.
    pub refs: usize,
    /// Connections accepted.
    pub connections: u32,
    /// Control channel of the newest connection.
    pub control: Option<mpsc::UnboundedSender<Control>>,
    /// Every stanza the clients sent.
    pub received: Vec<Node>,
}

#[derive(Clone)]
pub struct MiniServer {
    pub shared: Arc<Mutex<Shared>>,
    root: KeyPair,
    intermediate: KeyPair,
    static_key: KeyPair,
    account: KeyPair,
}

async fn next_frame(decoder: &mut FrameDecoder, conn: &mut Connection) -> Option<Vec<u8>> {
    loop {
        if let Some(frame) = decoder.next_frame() {
            return Some(frame);
        }
        decoder.push(&conn.incoming.recv().await?).ok()?;
    }
}

impl MiniServer {
    pub fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(1);
        Self {
            shared: Arc::new(Mutex::new(Shared {
                refs: 6,
                ..Shared::default()
            })),
            root: KeyPair::generate(&mut rng),
            intermediate: KeyPair::generate(&mut rng),
            static_key: KeyPair::generate(&mut rng),
            account: KeyPair::generate(&mut rng),
        }
    }

    pub fn root(&self) -> PublicKey {
        self.root.public
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        f(&mut self.shared.lock().unwrap())
    }

    /// Tells the newest connection to do something.
    pub fn control(&self, control: Control) {
        if let Some(tx) = self.with(|s| s.control.clone()) {
            let _ = tx.send(control);
        }
    }

    /// A connector for the driver: each call starts a server task.
    pub fn connector(&self) -> impl FnMut(&str) -> Result<Connection, ConnectError> + use<> {
        let server = self.clone();
        move |url: &str| {
            if server.with(|s| s.down) {
                return Err(ConnectError {
                    url: url.to_owned(),
                    reason: "server down".into(),
                });
            }
            let (client, server_end) = Connection::pair();
            let (tx, rx) = mpsc::unbounded_channel();
            let id = server.with(|s| {
                s.connections += 1;
                s.control = Some(tx);
                s.connections
            });
            tokio::spawn(server.clone().serve(id, server_end, rx));
            Ok(client)
        }
    }

    async fn serve(
        self,
        id: u32,
        mut conn: Connection,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut rng = StdRng::seed_from_u64(u64::from(id));
        let chain = CertChainBuilder::new(
            &self.root.private,
            &self.intermediate,
            self.static_key.public,
        )
        .intermediate_validity(0, u64::MAX / 2)
        .leaf_validity(0, u64::MAX / 2)
        .build(&mut rng);
        let mut decoder = FrameDecoder::expecting_intro();
        let Some(hello) = next_frame(&mut decoder, &mut conn).await else {
            return;
        };
        let (awaiting, reply) = ServerHandshake::new(self.static_key.clone(), chain)
            .read_client_hello(&hello, &mut rng)
            .unwrap();
        let Ok(()) = conn.outgoing.send(reply) else {
            return;
        };
        let Some(finish) = next_frame(&mut decoder, &mut conn).await else {
            return;
        };
        let finished = awaiting.read_client_finish(&finish).unwrap();
        let mut transport = finished.transport;
        let payload = ClientPayload::decode(&finished.client_payload).unwrap();
        macro_rules! send {
            ($node:expr, $conn:expr $(,)?) => {{
                let _ = $conn
                    .outgoing
                    .send(transport.encrypt_frame(&pack($node).unwrap()).unwrap());
            }};
        }
        let registration = match payload.kind {
            PayloadKind::Registration(reg) => {
                let refs = self.with(|s| s.refs);
                let pair_device = Node::new("iq")
                    .attr("from", Jid::server_jid())
                    .attr("id", "pd")
                    .attr("type", "set")
                    .children([Node::new("pair-device").children(
                        (0..refs).map(|i| Node::new("ref").bytes(format!("ref-{i}").into_bytes())),
                    )]);
                send!(&pair_device, &conn);
                Some(reg)
            }
            PayloadKind::Login(login) => {
                let linked = self.with(|s| s.linked.is_some());
                if login.username.to_string() != PHONE || login.device != DEVICE || !linked {
                    send!(&Node::new("failure").attr("reason", "401"), &conn);
                    return;
                }
                if let Some(reason) = self.with(|s| s.fail_login.take()) {
                    send!(&Node::new("failure").attr("reason", reason), &conn);
                    return;
                }
                send!(
                    &Node::new("success")
                        .attr("t", "1750000000")
                        .attr("lid", Jid::lid("98765432109876").with_device(DEVICE)),
                    &conn,
                );
                None
            }
        };
        let mut scanned_identity = None;
        loop {
            tokio::select! {
                bytes = conn.incoming.recv() => {
                    let Some(bytes) = bytes else { return };
                    if decoder.push(&bytes).is_err() { return; }
                    while let Some(frame) = decoder.next_frame() {
                        let Ok(plain) = transport.decrypt(&frame) else { return };
                        let node = unpack(&plain).unwrap();
                        self.with(|s| s.received.push(node.clone()));
                        if self.with(|s| s.silent == Some(id)) {
                            continue;
                        }
                        if let Some(reply) = self.answer(&node, scanned_identity.as_ref()) {
                            send!(&reply, &conn);
                        }
                        if node.child("pair-device-sign").is_some() {
                            send!(&Node::new("stream:error").attr("code", "515"), &conn);
                            return;
                        }
                    }
                }
                command = control.recv() => match command {
                    Some(Control::Scan(qr)) => {
                        let Some(reg) = registration.as_ref() else { continue };
                        let qr = QrData::parse(&qr).unwrap();
                        assert_eq!(qr.identity_key, reg.identity_key);
                        let container = issue_device_identity(
                            &self.account,
                            &qr.identity_key,
                            &qr.adv_secret,
                            DeviceIdentityGrant { raw_id: 1, key_index: 1, timestamp: 1_750_000_000 },
                            &mut rng,
                        );
                        scanned_identity = Some(qr.identity_key);
                        send!(&Node::new("iq").attr("from", Jid::server_jid()).attr("id", "ps").attr("type", "set")
                            .children([Node::new("pair-success").children([
                                Node::new("device-identity").bytes(container),
                                Node::new("device")
                                    .attr("jid", Jid::pn(PHONE).with_device(DEVICE))
                                    .attr("lid", Jid::lid("98765432109876").with_device(DEVICE)),
                                Node::new("platform").attr("name", "android"),
                            ])]), &conn);
                    }
                    Some(Control::Send(node)) => { send!(&node, &conn); }
                    Some(Control::Close) | None => return,
                },
            }
        }
    }

    fn answer(&self, node: &Node, scanned: Option<&PublicKey>) -> Option<Node> {
        if node.tag != "iq" {
            return None;
        }
        let id = node.str_attr("id")?;
        let result = Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("id", id)
            .attr("type", "result");
        if let Some(sign) = node.child("pair-device-sign") {
            let bytes = sign.child("device-identity")?.content_bytes()?;
            let identity = scanned?;
            verify_device_sign(bytes, &self.account.public, identity).unwrap();
            self.with(|s| s.linked = Some(*identity));
            return None;
        }
        match node.str_attr("xmlns") {
            Some("encrypt") if node.child("count").is_some() => {
                let count = self.with(|s| s.pre_keys);
                Some(result.children([Node::new("count").attr("value", count)]))
            }
            Some("encrypt") => {
                let added = node
                    .child("list")
                    .map_or(0, |l| l.children_by_tag("key").count());
                self.with(|s| s.pre_keys += added as u64);
                Some(result)
            }
            Some("md") if node.child("remove-companion-device").is_some() => {
                self.with(|s| s.linked = None);
                Some(result)
            }
            _ if node.str_attr("type") == Some("result") => None,
            _ => Some(result),
        }
    }
}

pub mod harness;
pub mod sim;

use core::time::Duration;

use wa_native::{Clock, Driver, Events, Handle};
use wa_wasm::client::{ClientConfig, ClientError, Event, Status};
use wa_wasm::store::{FaultyStore, MemoryStore, load_auth};

/// Virtual start time of every native scenario (unix ms).
pub const START: u64 = 1_750_000_000_000;

/// The harness in-process: the [`MiniServer`] over in-memory links, a tokio
/// driver, a memory store that survives client restarts, virtual time.
pub struct NativeHarness {
    pub server: MiniServer,
    pub store: Arc<FaultyStore<MemoryStore>>,
    clock: Clock,
    seed: u64,
    handle: Option<Handle>,
    events: Option<Events>,
    /// Applied to every client's configuration.
    pub tweak: fn(&mut ClientConfig),
}

impl NativeHarness {
    pub fn new() -> Self {
        Self {
            server: MiniServer::new(),
            store: Arc::new(FaultyStore::new(MemoryStore::new())),
            clock: Clock::starting_at(START),
            seed: 10,
            handle: None,
            events: None,
            tweak: |_| {},
        }
    }

    fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("client started")
    }
}

impl harness::Harness for NativeHarness {
    async fn start_client(&mut self) {
        self.handle = None;
        self.events = None;
        let auth = load_auth(&self.store).await.unwrap();
        let mut config = ClientConfig::new("mem://sim/ws/chat", self.server.root());
        (self.tweak)(&mut config);
        self.seed += 1;
        let (driver, handle, events) = Driver::new(
            config,
            auth,
            self.store.clone(),
            self.server.connector(),
            self.clock,
            StdRng::seed_from_u64(self.seed),
        );
        tokio::spawn(driver.run());
        self.handle = Some(handle);
        self.events = Some(events);
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        self.handle().connect().await
    }

    async fn logout(&mut self) {
        self.handle().logout().await.unwrap();
    }

    async fn clear_session(&mut self) {
        self.handle().clear_session().await.unwrap();
    }

    async fn request_pairing_code(&mut self, phone: &str) -> Result<(), ClientError> {
        self.handle().request_pairing_code(phone).await
    }

    async fn status(&mut self) -> Status {
        self.handle().status().await.unwrap()
    }

    async fn wait_event(
        &mut self,
        within: Duration,
        wanted: &mut dyn FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let events = self.events.as_mut().expect("client started");
        events.wait_for(within, |e| wanted(e)).await
    }

    async fn sleep(&mut self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn phone(&self) -> &str {
        PHONE
    }

    fn scan(&mut self, qr: &str) {
        self.server.control(Control::Scan(qr.to_owned()));
    }

    fn stream_error(&mut self, code: u16) {
        let node = match code {
            440 => {
                Node::new("stream:error").children([Node::new("conflict").attr("type", "replaced")])
            }
            401 => Node::new("stream:error")
                .attr("code", code)
                .children([Node::new("conflict").attr("type", "device_removed")]),
            _ => Node::new("stream:error").attr("code", code),
        };
        self.server.control(Control::Send(node));
        self.server.control(Control::Close);
    }

    fn drop_connection(&mut self) {
        self.server.control(Control::Close);
    }

    async fn restart_server(&mut self) {
        self.server.control(Control::Close);
    }

    fn set_silent(&mut self, silent: bool) {
        // Like the simulator's black hole: the current connection only.
        self.server
            .with(|s| s.silent = silent.then_some(s.connections));
    }

    fn fail_next_login(&mut self, reason: u16) {
        self.server.with(|s| s.fail_login = Some(reason));
    }

    fn connections(&self) -> u32 {
        self.server.with(|s| s.connections)
    }

    fn server_has_device(&self) -> bool {
        self.server.with(|s| s.linked.is_some())
    }

    fn stored_records(&self) -> usize {
        self.store.inner().len()
    }
}
