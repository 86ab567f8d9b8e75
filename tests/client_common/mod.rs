//! Engine tests against a scripted fake server built from the Noise responder,
//! the binary codec and the phone side of `pairing`. The test plays the
//! shell: it moves outputs, answers persists and advances time by hand.
//!
//! Public API only, so the same tests run natively (`tests/client_engine.rs`)
//! and in the browser (`tests/web/client.rs`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod faults;
mod messaging;
mod scenarios;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;

use wa_wasm::binary::{Jid, Node, pack, unpack};
use wa_wasm::client::policy::{TransportClose, TransportCloseKind};
use wa_wasm::client::*;
use wa_wasm::crypto::KeyPair;
use wa_wasm::noise::{
    CertChainBuilder, FrameDecoder, NoiseTransport, ServerAwaitingFinish, ServerHandshake,
};
use wa_wasm::pairing::{DeviceIdentityGrant, issue_device_identity, verify_device_sign};
use wa_wasm::payload::ClientPayload;
use wa_wasm::store::{Change, Changes, Credentials, LoadedAuth, Namespace, StoreError};

pub const START: u64 = 1_750_000_000_000;

/// The server side of one connection.
pub struct ServerConn {
    decoder: FrameDecoder,
    awaiting_finish: Option<ServerAwaitingFinish>,
    handshake: Option<ServerHandshake>,
    transport: Option<NoiseTransport>,
    /// The decoded ClientPayload, once the handshake finished.
    pub payload: Option<ClientPayload>,
}

/// A fake WhatsApp server plus phone: its keys and the current connection.
pub struct FakeServer {
    pub root: KeyPair,
    intermediate: KeyPair,
    static_key: KeyPair,
    pub account: KeyPair,
    pub conn: Option<ServerConn>,
    /// Stanzas the client sent (over every connection), oldest first.
    received: Vec<Node>,
    /// Answer keepalive pings by itself.
    pub auto_pong: bool,
    rng: StdRng,
}

impl FakeServer {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            root: KeyPair::generate(&mut rng),
            intermediate: KeyPair::generate(&mut rng),
            static_key: KeyPair::generate(&mut rng),
            account: KeyPair::generate(&mut rng),
            conn: None,
            received: Vec::new(),
            auto_pong: true,
            rng,
        }
    }

    fn accept(&mut self) {
        let chain = CertChainBuilder::new(
            &self.root.private,
            &self.intermediate,
            self.static_key.public,
        )
        .intermediate_validity(0, u64::MAX / 2)
        .leaf_validity(0, u64::MAX / 2)
        .build(&mut self.rng);
        self.conn = Some(ServerConn {
            decoder: FrameDecoder::expecting_intro(),
            awaiting_finish: None,
            handshake: Some(ServerHandshake::new(self.static_key.clone(), chain)),
            transport: None,
            payload: None,
        });
    }

    /// Bytes from the client; returns bytes to send back (the ServerHello,
    /// answers to pings).
    fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        let Some(conn) = self.conn.as_mut() else {
            return Vec::new();
        };
        conn.decoder.push(bytes).unwrap();
        let mut reply = Vec::new();
        while let Some(frame) = conn.decoder.next_frame() {
            if let Some(handshake) = conn.handshake.take() {
                let (awaiting, hello) = handshake.read_client_hello(&frame, &mut self.rng).unwrap();
                conn.awaiting_finish = Some(awaiting);
                reply.extend(hello);
            } else if let Some(awaiting) = conn.awaiting_finish.take() {
                let finished = awaiting.read_client_finish(&frame).unwrap();
                conn.payload = Some(ClientPayload::decode(&finished.client_payload).unwrap());
                conn.transport = Some(finished.transport);
            } else if let Some(transport) = conn.transport.as_mut() {
                let plaintext = transport.decrypt(&frame).unwrap();
                let node = unpack(&plaintext).unwrap();
                if self.auto_pong && node.str_attr("xmlns") == Some("w:p") {
                    let pong = result(node.str_attr("id").unwrap());
                    reply.extend(transport.encrypt_frame(&pack(&pong).unwrap()).unwrap());
                    continue;
                }
                self.received.push(node);
            }
        }
        reply
    }

    /// Encrypts a stanza for the client.
    pub fn frame(&mut self, node: &Node) -> Vec<u8> {
        let transport = self
            .conn
            .as_mut()
            .and_then(|c| c.transport.as_mut())
            .expect("handshake finished");
        transport.encrypt_frame(&pack(node).unwrap()).unwrap()
    }

    /// Takes the stanzas received so far.
    pub fn take_received(&mut self) -> Vec<Node> {
        std::mem::take(&mut self.received)
    }

    /// The phone's `pair-success` for a companion with `identity` and `adv_secret`.
    pub fn pair_success(
        &mut self,
        id: &str,
        identity: &wa_wasm::crypto::PublicKey,
        adv_secret: &[u8; 32],
    ) -> Node {
        let container = issue_device_identity(
            &self.account,
            identity,
            adv_secret,
            DeviceIdentityGrant {
                raw_id: 1,
                key_index: 3,
                timestamp: START / 1000,
            },
            &mut self.rng,
        );
        Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("id", id)
            .attr("type", "set")
            .attr("t", START / 1000)
            .children([Node::new("pair-success").children([
                Node::new("device-identity").bytes(container),
                Node::new("device")
                    .attr("jid", Jid::pn("51987654321").with_device(12))
                    .attr("lid", Jid::lid("98765432109876").with_device(12)),
                Node::new("platform").attr("name", "android"),
            ])])
    }

    /// Checks a `pair-device-sign` reply like the phone does.
    pub fn check_device_sign(&self, reply: &Node, identity: &wa_wasm::crypto::PublicKey) {
        let bytes = reply
            .child_path(&["pair-device-sign", "device-identity"])
            .and_then(Node::content_bytes)
            .expect("device-identity in the reply");
        verify_device_sign(bytes, &self.account.public, identity).expect("valid device signature");
    }
}

/// The test playing the shell.
pub struct Run {
    pub client: Client,
    pub server: FakeServer,
    pub rng: StdRng,
    pub now: u64,
    /// Every event, oldest first.
    pub events: Vec<Event>,
    /// The simulated store.
    pub store: BTreeMap<(Namespace, String), Vec<u8>>,
    /// Commits to fail, counted down.
    pub fail_commits: u32,
    /// Persists seen (answered or not).
    pub persists: Vec<Changes>,
    /// Wipes performed.
    pub wipes: u32,
    /// Socket commands seen: "connect" / "disconnect".
    pub socket_log: Vec<&'static str>,
    /// Whether the shell holds a socket.
    pub socket_open: bool,
    /// Answer persists automatically.
    pub auto_persist: bool,
    /// Sockets fail to open.
    pub server_down: bool,
}

impl Run {
    pub fn new(auth: LoadedAuth) -> Self {
        Self::with_config(auth, |_| {})
    }

    pub fn with_config(auth: LoadedAuth, tweak: impl FnOnce(&mut ClientConfig)) -> Self {
        let server = FakeServer::new(99);
        let mut config = ClientConfig::new("ws://fake/ws/chat", server.root.public);
        tweak(&mut config);
        Self {
            client: Client::new(config, auth),
            server,
            rng: StdRng::seed_from_u64(5),
            now: START,
            events: Vec::new(),
            store: BTreeMap::new(),
            fail_commits: 0,
            persists: Vec::new(),
            wipes: 0,
            socket_log: Vec::new(),
            socket_open: false,
            auto_persist: true,
            server_down: false,
        }
    }

    /// Moves outputs until none is left (or a persist waits for a manual answer).
    pub fn pump(&mut self) {
        loop {
            let Some(output) = self.client.poll_output() else {
                return;
            };
            match output {
                Output::Connect { .. } if self.server_down => {
                    self.socket_log.push("connect");
                    self.client.handle_disconnected(
                        TransportClose {
                            kind: TransportCloseKind::ConnectFailed,
                            websocket_code: None,
                        },
                        self.now,
                        &mut self.rng,
                    );
                }
                Output::Connect { .. } => {
                    self.socket_log.push("connect");
                    self.socket_open = true;
                    self.server.accept();
                    self.client.handle_connected(self.now, &mut self.rng);
                }
                Output::Send(bytes) => {
                    assert!(self.socket_open, "send without a socket");
                    let reply = self.server.receive(&bytes);
                    if !reply.is_empty() {
                        self.client.handle_bytes(&reply, self.now, &mut self.rng);
                    }
                }
                Output::Disconnect => {
                    self.socket_log.push("disconnect");
                    self.socket_open = false;
                    self.server.conn = None;
                }
                Output::Persist(changes) => {
                    self.persists.push(changes.clone());
                    if !self.auto_persist {
                        return;
                    }
                    self.answer_persist(changes);
                }
                Output::Wipe => {
                    self.wipes += 1;
                    self.store.clear();
                    self.client
                        .handle_persisted(Ok(()), self.now, &mut self.rng);
                }
                Output::Event(event) => self.events.push(event),
                // This server has no media endpoint.
                Output::Http(request) => self.client.handle_http_response(
                    request.id,
                    Err("no media endpoint".into()),
                    self.now,
                    &mut self.rng,
                ),
            }
        }
    }

    /// Commits (or fails) the last persist by hand.
    pub fn answer_persist(&mut self, changes: Changes) {
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            self.client
                .handle_persisted(Err(StoreError::QuotaExceeded), self.now, &mut self.rng);
            return;
        }
        for change in changes.iter() {
            match change {
                Change::Put {
                    namespace,
                    key,
                    value,
                } => {
                    self.store.insert((*namespace, key.clone()), value.clone());
                }
                Change::Delete { namespace, key } => {
                    self.store.remove(&(*namespace, key.clone()));
                }
                Change::Clear { namespace } => self.store.retain(|(ns, _), _| ns != namespace),
            }
        }
        self.client
            .handle_persisted(Ok(()), self.now, &mut self.rng);
    }

    pub fn connect(&mut self) {
        self.client.connect(self.now, &mut self.rng).unwrap();
        self.pump();
    }

    /// The server sends `node`.
    pub fn deliver(&mut self, node: &Node) {
        let bytes = self.server.frame(node);
        self.client.handle_bytes(&bytes, self.now, &mut self.rng);
        self.pump();
    }

    /// The server closes the socket.
    pub fn drop_socket(&mut self) {
        self.socket_open = false;
        self.server.conn = None;
        self.client.handle_disconnected(
            TransportClose {
                kind: TransportCloseKind::ClosedByPeer,
                websocket_code: Some(1006),
            },
            self.now,
            &mut self.rng,
        );
        self.pump();
    }

    /// Advances time to `at`, firing every timer due on the way.
    pub fn advance_to(&mut self, at: u64) {
        while let Some(deadline) = self.client.poll_timeout() {
            if deadline > at {
                break;
            }
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now, &mut self.rng);
            self.pump();
        }
        self.now = self.now.max(at);
    }

    pub fn advance(&mut self, ms: u64) {
        self.advance_to(self.now + ms);
    }

    /// Connection updates seen so far.
    pub fn updates(&self) -> Vec<&ConnectionUpdate> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connection(update) => Some(update),
                _ => None,
            })
            .collect()
    }

    pub fn states(&self) -> Vec<ConnectionState> {
        self.updates().iter().map(|u| u.state).collect()
    }

    pub fn last_update(&self) -> &ConnectionUpdate {
        self.updates().last().copied().expect("a connection event")
    }

    /// Stanzas the server received since last asked.
    pub fn sent(&mut self) -> Vec<Node> {
        self.server.take_received()
    }

    pub fn qr_codes(&self) -> Vec<(String, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Qr {
                    code, expires_at, ..
                } => Some((code.clone(), *expires_at)),
                _ => None,
            })
            .collect()
    }

    /// Sends `pair-device` with `refs` after a registration handshake.
    pub fn pair_device(&mut self, refs: &[&str]) {
        let node = Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("id", "pd-1")
            .attr("type", "set")
            .children([Node::new("pair-device").children(
                refs.iter()
                    .map(|r| Node::new("ref").bytes(r.as_bytes().to_vec())),
            )]);
        self.deliver(&node);
    }

    /// Links by QR up to the 515 restart and the login `success` → `open`.
    pub fn link_and_open(&mut self) {
        self.connect();
        self.pair_device(&["ref-1", "ref-2"]);
        self.sent();
        let creds = self.client.credentials().unwrap().clone();
        let success = self.server.pair_success(
            "ps-1",
            &creds.identity_key.public,
            creds.adv_secret.as_bytes(),
        );
        self.deliver(&success);
        self.sent();
        self.deliver(&Node::new("stream:error").attr("code", "515"));
        self.login();
    }

    /// Answers a fresh login handshake up to `open`: `success`, the count
    /// (with `server_count` pre-keys) and `active`.
    pub fn login_with_count(&mut self, server_count: u32) {
        self.deliver(
            &Node::new("success")
                .attr("t", self.now / 1000)
                .attr("lid", Jid::lid("98765432109876").with_device(12)),
        );
        let sent = self.sent();
        for node in &sent {
            if node.tag != "iq" {
                continue;
            }
            let id = node.str_attr("id").unwrap().to_owned();
            match node.str_attr("xmlns") {
                Some("encrypt") if node.child("count").is_some() => {
                    self.deliver(
                        &result(&id).children([Node::new("count").attr("value", server_count)]),
                    );
                }
                Some("passive") => self.deliver(&result(&id)),
                _ => {}
            }
        }
        // Answer a pre-key upload, if one went out.
        for node in self.sent() {
            if node.str_attr("xmlns") == Some("encrypt") && node.child("list").is_some() {
                let id = node.str_attr("id").unwrap().to_owned();
                self.deliver(&result(&id));
            }
        }
    }

    pub fn login(&mut self) {
        self.login_with_count(0);
    }

    pub fn registered_auth(&self) -> LoadedAuth {
        let bytes = self
            .store
            .get(&(
                Namespace::Credentials,
                wa_wasm::store::keys::CREDENTIALS.to_owned(),
            ))
            .expect("stored credentials");
        LoadedAuth::Registered(Box::new(Credentials::decode(bytes).unwrap()))
    }
}

/// `<iq type="result" id>` from the server.
pub fn result(id: &str) -> Node {
    Node::new("iq")
        .attr("from", Jid::server_jid())
        .attr("id", id)
        .attr("type", "result")
}

/// A scenario that starts linked and open, from stored credentials.
pub fn open_run() -> Run {
    let mut linking = Run::new(LoadedAuth::Empty);
    linking.link_and_open();
    let auth = linking.registered_auth();
    let mut run = Run::new(auth);
    run.connect();
    run.login_with_count(100);
    assert_eq!(run.client.state(), ConnectionState::Open);
    run.sent();
    run.events.clear();
    run
}
