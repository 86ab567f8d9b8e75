//! A scripted WhatsApp Web client for driving the simulator in tests, built only from
//! the core's wire-layer, pairing and Signal modules (not from the engine).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_sim::{LocalLink, Sim, SimConfig, SimEvent};
use wa_wasm::binary::{Jid, Node, pack, unpack};
use wa_wasm::crypto::KeyPair;
use wa_wasm::message::{self, Message};
use wa_wasm::noise::{CertVerifier, ClientHandshake, FrameDecoder, NoiseTransport};
use wa_wasm::pairing::{QrData, verify_pair_success};
use wa_wasm::payload::{ClientPayload, DeviceProps, Login, Registration};
use wa_wasm::signal::store::InMemorySignalStore;
use wa_wasm::signal::{
    CiphertextMessage, IdentityKey, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId,
    ProtocolAddress, RegistrationId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyName,
    SignedPreKey, SignedPreKeyId, group, session,
};

/// How long a test waits for a stanza before failing.
pub const WAIT: Duration = Duration::from_secs(20);

pub const ME: &str = "15550001000";
pub const ALICE: &str = "15550001001";
pub const BOB: &str = "15550001002";

/// A simulator for in-process tests: default accounts, fixed seed, no socket.
pub fn local_sim() -> Sim {
    Sim::start_local(SimConfig {
        seed: Some(7),
        base_unix_ms: Some(1_750_000_000_000),
        ..SimConfig::default()
    })
    .unwrap()
}

/// A client's lasting credentials.
pub struct Creds {
    pub noise: KeyPair,
    pub signal: InMemorySignalStore,
    pub signed: SignedPreKey,
    pub adv_secret: [u8; 32],
    pub me: Option<Jid>,
    pub lid: Option<Jid>,
    /// The signed device identity (account form) to attach to pkmsgs.
    pub account: Option<Vec<u8>>,
    pub next_pre_key: u32,
    pub rng: StdRng,
}

impl Creds {
    pub fn new(seed: u64) -> Creds {
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = KeyPair::generate(&mut rng);
        let identity = IdentityKeyPair::generate(&mut rng);
        let signed = SignedPreKey::generate(SignedPreKeyId(1), &identity, 0, &mut rng);
        let mut signal = InMemorySignalStore::new(identity, RegistrationId::generate(&mut rng));
        signal.add_signed_pre_key(&signed);
        let mut adv_secret = [0u8; 32];
        rand_core::Rng::fill_bytes(&mut rng, &mut adv_secret);
        Creds {
            noise,
            signal,
            signed,
            adv_secret,
            me: None,
            lid: None,
            account: None,
            next_pre_key: 1,
            rng,
        }
    }

    pub fn identity(&self) -> IdentityKeyPair {
        wa_wasm::signal::store::IdentityStore::local_identity(&self.signal).clone()
    }

    pub fn registration(&self) -> Registration {
        let identity = self.identity();
        Registration {
            registration_id: wa_wasm::signal::store::IdentityStore::local_registration_id(
                &self.signal,
            )
            .value(),
            identity_key: *identity.identity_key().public_key(),
            signed_pre_key_id: self.signed.id.0,
            signed_pre_key: self.signed.key_pair.public,
            signed_pre_key_signature: self.signed.signature,
            build_hash: vec![0; 16],
            device_props: DeviceProps {
                os: "Test (Linux)".to_owned(),
                ..DeviceProps::default()
            },
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        match &self.me {
            None => ClientPayload::registration(self.registration()).encode(),
            Some(me) => {
                ClientPayload::login(Login::new(me.user().parse().unwrap(), me.device())).encode()
            }
        }
    }

    /// Makes `count` one-time pre-keys and returns their upload iq.
    pub fn pre_key_upload(&mut self, count: u32) -> Node {
        let identity = self.identity();
        let mut keys = Vec::new();
        for _ in 0..count {
            let key = PreKey::generate(PreKeyId(self.next_pre_key), &mut self.rng);
            self.next_pre_key += 1;
            self.signal.add_pre_key(&key);
            keys.push(Node::new("key").children([
                Node::new("id").bytes(key.id.0.to_be_bytes()[1..].to_vec()),
                Node::new("value").bytes(key.key_pair.public.as_bytes().to_vec()),
            ]));
        }
        let reg = wa_wasm::signal::store::IdentityStore::local_registration_id(&self.signal);
        Node::new("iq")
            .attr("id", format!("up-{}", self.next_pre_key))
            .attr("to", Jid::server_jid())
            .attr("type", "set")
            .attr("xmlns", "encrypt")
            .children([
                Node::new("registration").bytes(reg.value().to_be_bytes().to_vec()),
                Node::new("type").bytes(vec![5]),
                Node::new("identity")
                    .bytes(identity.identity_key().public_key().as_bytes().to_vec()),
                Node::new("list").children(keys),
                Node::new("skey").children([
                    Node::new("id").bytes(self.signed.id.0.to_be_bytes()[1..].to_vec()),
                    Node::new("value").bytes(self.signed.key_pair.public.as_bytes().to_vec()),
                    Node::new("signature").bytes(self.signed.signature.to_vec()),
                ]),
            ])
    }
}

/// Why a connection attempt ended early.
#[derive(Debug)]
pub enum Ended {
    Closed,
    Handshake(String),
}

/// One connection of the scripted client.
pub struct Client {
    link: LocalLink,
    decoder: FrameDecoder,
    transport: NoiseTransport,
    pending: VecDeque<Node>,
    closed: bool,
    next_id: u64,
    /// How long `next` waits for a stanza before failing the test.
    pub wait: Duration,
}

impl Client {
    /// Connects and runs the Noise handshake, pinning the simulator's root.
    pub async fn connect(sim: &Sim, creds: &mut Creds) -> Result<Client, Ended> {
        let mut link = sim.connect_local();
        Client::handshake(&mut link, sim, creds)
            .await
            .map(|transport| Client {
                link,
                decoder: FrameDecoder::new(),
                transport,
                pending: VecDeque::new(),
                closed: false,
                next_id: 1,
                wait: WAIT,
            })
    }

    async fn handshake(
        link: &mut LocalLink,
        sim: &Sim,
        creds: &mut Creds,
    ) -> Result<NoiseTransport, Ended> {
        let (hello, bytes) = ClientHandshake::start(&creds.noise, None, &mut creds.rng)
            .map_err(|e| Ended::Handshake(e.to_string()))?;
        link.send(bytes).map_err(|_| Ended::Closed)?;
        let mut decoder = FrameDecoder::new();
        let frame = loop {
            if let Some(frame) = decoder.next_frame() {
                break frame;
            }
            match tokio::time::timeout(WAIT, link.recv()).await {
                Ok(Some(chunk)) => decoder.push(&chunk).unwrap(),
                Ok(None) => return Err(Ended::Closed),
                Err(_) => return Err(Ended::Handshake("no ServerHello".to_owned())),
            }
        };
        let finished = hello
            .read_server_hello(&frame)
            .and_then(|h| h.verify(&CertVerifier::new(sim.root_public_key()), 1_750_000_000))
            .and_then(|v| v.finish(&creds.payload()))
            .map_err(|e| Ended::Handshake(e.to_string()))?;
        link.send(finished.frame).map_err(|_| Ended::Closed)?;
        Ok(finished.transport)
    }

    pub fn send(&mut self, node: &Node) {
        let frame = self.transport.encrypt_frame(&pack(node).unwrap()).unwrap();
        let _ = self.link.send(frame);
    }

    /// Sends raw bytes on the link (for bad-input tests).
    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.link.send(bytes);
    }

    /// Encrypts arbitrary plaintext as a frame (for bad-input tests).
    pub fn send_plaintext(&mut self, plaintext: &[u8]) {
        let frame = self.transport.encrypt_frame(plaintext).unwrap();
        let _ = self.link.send(frame);
    }

    pub fn id(&mut self) -> String {
        self.next_id += 1;
        format!("t.{}", self.next_id)
    }

    /// The next stanza, or `None` once the server closed the link.
    pub async fn next(&mut self) -> Option<Node> {
        loop {
            if let Some(node) = self.pending.pop_front() {
                return Some(node);
            }
            if self.closed {
                return None;
            }
            if let Some(frame) = self.decoder.next_frame() {
                let plain = self.transport.decrypt(&frame).expect("frame decrypts");
                self.pending
                    .push_back(unpack(&plain).expect("stanza decodes"));
                continue;
            }
            match tokio::time::timeout(self.wait, self.link.recv()).await {
                Ok(Some(chunk)) => self.decoder.push(&chunk).unwrap(),
                Ok(None) => self.closed = true,
                Err(_) => panic!("no stanza from the server within {:?}", self.wait),
            }
        }
    }

    /// Raw next frame bytes (not decrypted), for frame-fault tests.
    pub async fn next_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                return Some(frame);
            }
            match tokio::time::timeout(WAIT, self.link.recv()).await {
                Ok(Some(chunk)) => self.decoder.push(&chunk).unwrap(),
                Ok(None) => return None,
                Err(_) => panic!("no frame within {WAIT:?}"),
            }
        }
    }

    pub fn try_decrypt(&mut self, frame: &[u8]) -> bool {
        self.transport.decrypt(frame).is_ok()
    }

    /// Waits for a stanza matching `pred`, keeping the others for later.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Node) -> bool) -> Node {
        let mut skipped = Vec::new();
        loop {
            match self.next().await {
                Some(node) if pred(&node) => {
                    for node in skipped.into_iter().rev() {
                        self.pending.push_front(node);
                    }
                    return node;
                }
                Some(node) => skipped.push(node),
                None => panic!("connection closed while waiting for {what}; got {skipped:?}"),
            }
        }
    }

    /// Whether the server closes the link within `WAIT` (draining stanzas).
    pub async fn closed(&mut self) -> Vec<Node> {
        let mut seen = Vec::new();
        while let Some(node) = self.next().await {
            seen.push(node);
        }
        seen
    }

    /// Sends an iq and waits for the answer with the same id.
    pub async fn query(&mut self, iq: Node) -> Node {
        let id = iq.str_attr("id").unwrap().to_owned();
        self.send(&iq);
        self.expect(&format!("answer to {id}"), |n| {
            n.tag == "iq" && n.str_attr("id") == Some(id.as_str())
        })
        .await
    }

    pub fn iq(&mut self, xmlns: &str, kind: &str, children: Vec<Node>) -> Node {
        Node::new("iq")
            .attr("id", self.id())
            .attr("to", Jid::server_jid())
            .attr("type", kind)
            .attr("xmlns", xmlns)
            .children(children)
    }

    pub fn close(&mut self) {
        self.link.close();
    }
}

/// Links a new client by QR through the default phone, returns its credentials after
/// the 515 restart.
pub async fn link_by_qr(sim: &Sim, seed: u64) -> Creds {
    link_by_qr_as(sim, seed, None).await
}

/// Links a new client by QR through the phone of `phone` (default: the "me" account).
pub async fn link_by_qr_as(sim: &Sim, seed: u64, phone: Option<&str>) -> Creds {
    let mut creds = Creds::new(seed);
    let mut client = Client::connect(sim, &mut creds).await.unwrap();
    let pair_device = client
        .expect("pair-device", |n| n.child("pair-device").is_some())
        .await;
    let id = pair_device.str_attr("id").unwrap().to_owned();
    client.send(
        &Node::new("iq")
            .attr("to", Jid::server_jid())
            .attr("type", "result")
            .attr("id", id),
    );
    let first_ref = pair_device.child("pair-device").unwrap().child_nodes()[0]
        .content_bytes()
        .unwrap()
        .to_vec();
    let qr = QrData {
        pairing_ref: String::from_utf8(first_ref).unwrap(),
        noise_key: creds.noise.public,
        identity_key: *creds.identity().identity_key().public_key(),
        adv_secret: creds.adv_secret,
        platform: "1".to_owned(),
    }
    .encode();
    sim.scan_qr(phone, &qr).unwrap();
    finish_pairing(&mut client, &mut creds).await;
    creds
}

/// Answers `pair-success` and checks the 515 restart.
pub async fn finish_pairing(client: &mut Client, creds: &mut Creds) {
    let success = client
        .expect("pair-success", |n| n.child("pair-success").is_some())
        .await;
    let body = success.child("pair-success").unwrap();
    let identity = body
        .child("device-identity")
        .unwrap()
        .content_bytes()
        .unwrap();
    let key_pair = {
        let identity = creds.identity();
        KeyPair {
            private: identity.private_key().clone(),
            public: *identity.identity_key().public_key(),
        }
    };
    let accepted =
        verify_pair_success(identity, &creds.adv_secret, &key_pair, &mut creds.rng).unwrap();
    let device = body.child("device").unwrap();
    creds.me = Some(device.required_jid("jid").unwrap());
    creds.lid = Some(device.required_jid("lid").unwrap());
    creds.account = Some(accepted.account.clone());
    creds.signal.apply({
        let mut changes = wa_wasm::signal::SignalChanges::default();
        changes.identities.insert(
            ProtocolAddress::new(creds.me.as_ref().unwrap().user(), 0),
            IdentityKey::new(accepted.account_identity),
        );
        changes
    });
    client.send(
        &Node::new("iq")
            .attr("to", Jid::server_jid())
            .attr("type", "result")
            .attr("id", success.str_attr("id").unwrap())
            .children([
                Node::new("pair-device-sign").children([Node::new("device-identity")
                    .attr("key-index", accepted.key_index)
                    .bytes(accepted.reply)]),
            ]),
    );
    let error = client
        .expect("stream:error 515", |n| n.tag == "stream:error")
        .await;
    assert_eq!(error.str_attr("code"), Some("515"));
    assert!(client.closed().await.is_empty(), "server closes after 515");
}

/// Logs in with stored credentials; returns the client after `success` and the
/// `offline` marker, plus the offline stanzas delivered before it.
pub async fn login(sim: &Sim, creds: &mut Creds) -> (Client, Vec<Node>) {
    let mut client = Client::connect(sim, creds).await.unwrap();
    let success = client.next().await.expect("success");
    assert_eq!(success.tag, "success", "{success}");
    let mut offline = Vec::new();
    loop {
        let node = client.next().await.expect("offline marker");
        if node.tag == "ib" && node.child("offline").is_some() {
            assert_eq!(
                node.child("offline").unwrap().str_attr("count"),
                Some(offline.len().to_string().as_str())
            );
            break;
        }
        offline.push(node);
    }
    (client, offline)
}

/// Links, logs in and uploads 30 pre-keys.
pub async fn linked_client(sim: &Sim, seed: u64) -> (Client, Creds) {
    let mut creds = link_by_qr(sim, seed).await;
    let (mut client, _) = login(sim, &mut creds).await;
    let upload = creds.pre_key_upload(30);
    let answer = client.query(upload).await;
    assert_eq!(answer.str_attr("type"), Some("result"), "{answer}");
    (client, creds)
}

/// Signal address of a device JID as the scripted client names it.
pub fn address(jid: &Jid) -> ProtocolAddress {
    ProtocolAddress::new(jid.user(), u32::from(jid.device()))
}

/// Decrypts the `enc` children of an incoming message stanza; returns the messages.
pub fn decrypt_stanza(creds: &mut Creds, stanza: &Node) -> Vec<Message> {
    let from = stanza.required_jid("from").unwrap();
    let sender = stanza
        .optional_jid("participant")
        .unwrap()
        .unwrap_or(from.clone());
    let mut out = Vec::new();
    for enc in stanza.children_by_tag("enc") {
        let kind = enc.str_attr("type").unwrap();
        let bytes = enc.content_bytes().unwrap();
        let plaintext = if kind == "skmsg" {
            let message = SenderKeyMessage::from_bytes(bytes).unwrap();
            let name = SenderKeyName::new(from.to_string(), address(&sender));
            let outcome = group::group_decrypt(&creds.signal, &name, &message).unwrap();
            creds.signal.apply(outcome.changes);
            outcome.value
        } else {
            let message = CiphertextMessage::parse(kind, bytes).unwrap().unwrap();
            let outcome =
                session::decrypt(&creds.signal, &address(&sender), &message, &mut creds.rng)
                    .unwrap();
            creds.signal.apply(outcome.changes);
            outcome.value
        };
        let message = Message::decode(message::unpad(&plaintext).unwrap()).unwrap();
        if let Some(skdm) = &message.sender_key_distribution {
            let distribution =
                SenderKeyDistributionMessage::from_bytes(&skdm.distribution).unwrap();
            let name = SenderKeyName::new(skdm.group_id.clone(), address(&sender));
            let outcome = group::process_distribution(&creds.signal, &name, &distribution).unwrap();
            creds.signal.apply(outcome.changes);
        }
        out.push(message);
    }
    out
}

/// Parses a bundle `<user>` from a key fetch answer.
pub fn parse_bundle(user: &Node, device: u32) -> PreKeyBundle {
    let be = |b: &[u8]| b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x));
    let skey = user.child("skey").unwrap();
    PreKeyBundle {
        registration_id: RegistrationId::new(be(user.child_bytes("registration").unwrap())),
        device_id: device,
        identity_key: IdentityKey::new(
            wa_wasm::crypto::PublicKey::from_slice(user.child_bytes("identity").unwrap()).unwrap(),
        ),
        signed_pre_key_id: SignedPreKeyId(be(skey.child_bytes("id").unwrap())),
        signed_pre_key: wa_wasm::crypto::PublicKey::from_slice(skey.child_bytes("value").unwrap())
            .unwrap(),
        signed_pre_key_signature: skey.child_bytes("signature").unwrap().try_into().unwrap(),
        pre_key: user.child("key").map(|k| {
            (
                PreKeyId(be(k.child_bytes("id").unwrap())),
                wa_wasm::crypto::PublicKey::from_slice(k.child_bytes("value").unwrap()).unwrap(),
            )
        }),
    }
}

/// Waits for an event after `seq`.
pub async fn event(sim: &Sim, seq: u64, what: &str, pred: impl Fn(&SimEvent) -> bool) -> SimEvent {
    sim.wait_for_event(seq, WAIT, what, pred)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .event
}

/// Makes sure the scripted client has sessions with `devices`, fetching bundles.
pub async fn ensure_sessions(client: &mut Client, creds: &mut Creds, devices: &[Jid]) {
    let missing: Vec<&Jid> = devices
        .iter()
        .filter(|d| creds.signal.session_bytes(&address(d)).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let fetch = client.iq(
        "encrypt",
        "get",
        vec![
            Node::new("key").children(
                missing
                    .iter()
                    .map(|d| Node::new("user").attr("jid", (*d).clone())),
            ),
        ],
    );
    let answer = client.query(fetch).await;
    for user in answer.child("list").unwrap().children_by_tag("user") {
        let jid = user.required_jid("jid").unwrap();
        let bundle = parse_bundle(user, u32::from(jid.device()));
        let outcome =
            session::process_bundle(&creds.signal, &address(&jid), &bundle, &mut creds.rng)
                .unwrap();
        creds.signal.apply(outcome.changes);
    }
}

/// Encrypts `message` for one device and returns the `<enc>`.
pub fn encrypt_for(creds: &mut Creds, device: &Jid, message: &Message) -> Node {
    let padded = message::pad(&message.encode(), &mut creds.rng);
    let outcome = session::encrypt(&creds.signal, &address(device), &padded).unwrap();
    creds.signal.apply(outcome.changes);
    Node::new("enc")
        .attr("v", "2")
        .attr("type", outcome.value.enc_type())
        .bytes(outcome.value.serialized().to_vec())
}

/// Sends a 1:1 message to `chat` for `devices` (our own devices get the DSM wrapper);
/// returns the id.
pub async fn send_direct(
    client: &mut Client,
    creds: &mut Creds,
    chat: &Jid,
    devices: &[Jid],
    message: &Message,
) -> String {
    ensure_sessions(client, creds, devices).await;
    let me = creds.me.clone().unwrap();
    let mut participants = Vec::new();
    let mut pkmsg = false;
    for device in devices {
        let content = if device.user() == me.user() {
            message.clone().sent_to(chat.to_string())
        } else {
            message.clone()
        };
        let enc = encrypt_for(creds, device, &content);
        pkmsg |= enc.str_attr("type") == Some("pkmsg");
        participants.push(Node::new("to").attr("jid", device.clone()).children([enc]));
    }
    let id = format!("3EB0{}", hex::encode_upper(client.id().as_bytes()));
    let mut children = vec![Node::new("participants").children(participants)];
    if pkmsg {
        children.push(Node::new("device-identity").bytes(creds.account.clone().unwrap()));
    }
    let kind = if message.document.is_some() {
        "media"
    } else {
        "text"
    };
    client.send(
        &Node::new("message")
            .attr("id", id.as_str())
            .attr("to", chat.clone())
            .attr("type", kind)
            .children(children),
    );
    let ack = client
        .expect("message ack", |n| {
            n.tag == "ack" && n.str_attr("id") == Some(id.as_str())
        })
        .await;
    assert_eq!(ack.str_attr("class"), Some("message"));
    assert!(ack.str_attr("error").is_none(), "{ack}");
    assert!(ack.has_attr("t"));
    id
}

/// Sends the delivery receipt for an incoming stanza.
pub fn send_receipt(client: &mut Client, stanza: &Node, kind: Option<&str>) {
    let mut receipt = Node::new("receipt")
        .attr("id", stanza.str_attr("id").unwrap())
        .attr("to", stanza.required_jid("from").unwrap());
    if let Some(participant) = stanza.optional_jid("participant").unwrap() {
        receipt = receipt.attr("participant", participant);
    }
    if let Some(kind) = kind {
        receipt = receipt.attr("type", kind);
    }
    client.send(&receipt);
}

/// The next incoming `message` stanza.
pub async fn next_message(client: &mut Client) -> Node {
    client.expect("message", |n| n.tag == "message").await
}

/// A minimal HTTP/1.1 exchange (`Connection: close`): status and body.
pub async fn http(addr: std::net::SocketAddr, request: Vec<u8>) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}
