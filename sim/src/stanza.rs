//! What the server does with each stanza a client sends: the routing table from tag
//! (and `xmlns`) to handler, the IQ namespaces, acks and the login decision.
//!
//! Owns the server side of: login vs registration, `success`/`failure`, pre-keys
//! (`encrypt`: count, upload, digest, key bundles, rotate), `usync` device lists with
//! LIDs, `passive`, `w:p` pings, `w:m` media connections, `md` (logout, link codes),
//! groups (`w:g2`), the small init queries clients make (`abt`, `blocklist`,
//! `privacy`, …), presence and `ib`. Messages and receipts are routed by `routing`.
//! Anything unknown is logged and answered with an error IQ; the connection stays up.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::Rng;
use wa_wasm::binary::{Jid, Node, Server};
use wa_wasm::crypto::PublicKey;
use wa_wasm::payload::{ClientPayload, PayloadKind};
use wa_wasm::signal::PreKeyBundle;

use crate::api::SimEvent;
use crate::pairing;
use crate::routing;
use crate::world::{ConnCommand, ConnState, Device, DeviceKey, Group, World};

/// Pre-key count below which the server tells a client to upload more.
const LOW_PRE_KEYS: usize = 5;

/// `s.whatsapp.net`.
pub(crate) fn server_jid() -> Jid {
    Jid::server_jid()
}

/// `<iq from="s.whatsapp.net" type="result" id=…/>`.
pub(crate) fn iq_result(id: &str) -> Node {
    Node::new("iq")
        .attr("from", server_jid())
        .attr("type", "result")
        .attr("id", id)
}

/// `<iq type="error" id=…><error code text/></iq>`.
pub(crate) fn iq_error(id: &str, code: u16, text: &str) -> Node {
    Node::new("iq")
        .attr("from", server_jid())
        .attr("type", "error")
        .attr("id", id)
        .children([Node::new("error").attr("code", code).attr("text", text)])
}

/// A stream error (`code`, optionally with a `<conflict type=…/>` child) as the real
/// server words it.
pub(crate) fn stream_error(code: u16) -> Node {
    match code {
        401 => Node::new("stream:error")
            .attr("code", "401")
            .children([Node::new("conflict").attr("type", "device_removed")]),
        440 => Node::new("stream:error").children([Node::new("conflict").attr("type", "replaced")]),
        code => Node::new("stream:error").attr("code", code),
    }
}

fn failure(reason: u16) -> Node {
    Node::new("failure").attr("reason", reason)
}

/// After the handshake: decides registration or login from the `ClientPayload`.
/// Returns whether the connection entered pairing (so the caller arms the QR deadline).
pub(crate) fn on_handshake(
    world: &mut World,
    conn: u64,
    client_static: PublicKey,
    payload: &[u8],
) -> bool {
    let payload = match ClientPayload::decode(payload) {
        Ok(payload) => payload,
        Err(err) => {
            tracing::warn!(conn, %err, "unreadable ClientPayload");
            world.emit(SimEvent::LoginRefused {
                connection: conn,
                reason: 400,
            });
            world.command(
                conn,
                ConnCommand::Close {
                    stream_error: Some(failure(400)),
                    reason: format!("bad ClientPayload: {err}"),
                },
            );
            return false;
        }
    };
    match payload.kind {
        PayloadKind::Registration(registration) => {
            tracing::info!(conn, "registration: sending QR references");
            pairing::start(world, conn, registration, client_static);
            true
        }
        PayloadKind::Login(login) => {
            let key = DeviceKey::new(login.username.to_string(), login.device);
            let known = world
                .companion(&key)
                .is_some_and(|c| c.noise_key == client_static);
            let refusal = if known {
                world.faults.take_login_failure(&key)
            } else {
                tracing::info!(conn, device = %key, "login of an unknown device or noise key: 401");
                Some(401)
            };
            if let Some(reason) = refusal {
                world.emit(SimEvent::LoginRefused {
                    connection: conn,
                    reason,
                });
                world.command(
                    conn,
                    ConnCommand::Close {
                        stream_error: Some(failure(reason)),
                        reason: format!("login refused ({reason})"),
                    },
                );
                return false;
            }
            log_in(world, conn, key);
            false
        }
    }
}

fn log_in(world: &mut World, conn: u64, key: DeviceKey) {
    if let Some(previous) = world.online.insert(key.clone(), conn) {
        tracing::info!(device = %key, previous, "device logged in again: replacing the old connection");
        world.command(
            previous,
            ConnCommand::Close {
                stream_error: Some(stream_error(440)),
                reason: "replaced by a new login (440)".to_owned(),
            },
        );
    }
    if let Some(entry) = world.conns.get_mut(&conn) {
        entry.state = ConnState::LoggedIn(key.clone());
    }
    let lid = world
        .lid_jid(&key)
        .map(|j| j.to_string())
        .unwrap_or_default();
    let now = world.now();
    world.send(
        conn,
        Node::new("success")
            .attr("t", now)
            .attr("lid", lid)
            .attr("props", "1")
            .attr("location", "sim")
            .attr("creation", now),
    );
    let queued: Vec<Node> = world
        .companion(&key)
        .map(|c| c.queue.iter().map(|q| q.node.clone()).collect())
        .unwrap_or_default();
    let count = queued.len();
    for node in queued {
        world.send(conn, node.attr("offline", "1"));
    }
    world.send(
        conn,
        Node::new("ib").children([Node::new("offline").attr("count", count)]),
    );
    tracing::info!(conn, device = %key, queued = count, "logged in");
    world.emit(SimEvent::LoggedIn {
        connection: conn,
        jid: key.pn_jid().to_string(),
    });
}

/// A decoded stanza from a client.
pub(crate) fn handle(world: &mut World, conn: u64, node: Node) {
    let state = world.conns.get(&conn).map(|c| c.state.clone());
    match state {
        Some(ConnState::Pairing) => handle_unpaired(world, conn, &node),
        Some(ConnState::LoggedIn(key)) => handle_logged_in(world, conn, &key, &node),
        _ => tracing::debug!(conn, tag = %node.tag, "stanza on a connection that is closing"),
    }
}

fn reject(world: &mut World, conn: u64, reason: String) {
    tracing::warn!(conn, %reason, "stanza rejected");
    world.emit(SimEvent::StanzaRejected {
        connection: conn,
        reason,
    });
}

fn handle_unpaired(world: &mut World, conn: u64, node: &Node) {
    let id = node.str_attr("id").unwrap_or_default().to_owned();
    match (node.tag.as_str(), node.str_attr("type")) {
        ("iq", Some("result" | "error")) => pairing::handle_reply(world, conn, node),
        ("iq", _) => match (node.str_attr("xmlns"), node.child_nodes().first()) {
            (Some("md"), Some(reg)) if reg.tag == "link_code_companion_reg" => {
                pairing::handle_link_code_iq(world, conn, node, reg);
            }
            (Some("w:p"), _) => world.send(conn, iq_result(&id)),
            _ => {
                reject(world, conn, format!("unexpected iq before pairing: {node}"));
                world.send(conn, iq_error(&id, 401, "not-authorized"));
            }
        },
        // Telemetry and the like: nothing to answer.
        ("ib" | "presence", _) => {}
        (tag, _) => reject(world, conn, format!("unexpected <{tag}> before pairing")),
    }
}

fn handle_logged_in(world: &mut World, conn: u64, key: &DeviceKey, node: &Node) {
    match node.tag.as_str() {
        "iq" => handle_iq(world, conn, key, node),
        "message" => routing::client_message(world, conn, key, node),
        "receipt" => routing::client_receipt(world, conn, key, node),
        "ack" => {
            let class = node.str_attr("class").unwrap_or_default().to_owned();
            let id = node.str_attr("id").unwrap_or_default().to_owned();
            let peer = node.optional_jid("to").ok().flatten();
            let participant = node.optional_jid("participant").ok().flatten();
            world.acknowledge(key, &class, &id, peer.as_ref(), participant.as_ref());
        }
        "presence" | "chatstate" => {}
        "ib" => {}
        "call" => {
            let ack = Node::new("ack")
                .attr("class", "call")
                .attr("id", node.str_attr("id").unwrap_or_default())
                .attr("from", server_jid());
            world.command(conn, ConnCommand::Ack(ack));
        }
        tag => reject(world, conn, format!("unknown stanza <{tag}>")),
    }
}

fn handle_iq(world: &mut World, conn: u64, key: &DeviceKey, node: &Node) {
    let Some(id) = node.str_attr("id").map(str::to_owned) else {
        reject(world, conn, format!("iq without an id: {node}"));
        world.command(
            conn,
            ConnCommand::Close {
                stream_error: Some(Node::new("stream:error").children([Node::new("bad-request")])),
                reason: "iq without an id".to_owned(),
            },
        );
        return;
    };
    let kind = node.str_attr("type").unwrap_or_default();
    if kind == "result" || kind == "error" {
        // Answers to the server's own iqs (none need handling after login).
        return;
    }
    let xmlns = node.str_attr("xmlns").unwrap_or_default();
    let first = node.child_nodes().first();
    let first_tag = first.map(|c| c.tag.as_str()).unwrap_or_default();
    let reply = match (xmlns, kind, first_tag) {
        ("w:p", _, _) => Some(iq_result(&id)),
        ("passive", "set", _) => Some(iq_result(&id)),
        ("encrypt", "get", "count") => {
            let count = world.companion(key).map_or(0, |c| c.pre_keys.len());
            Some(iq_result(&id).children([Node::new("count").attr("value", count)]))
        }
        ("encrypt", "set", "rotate") => Some(rotate(world, key, &id, node)),
        ("encrypt", "set", _) => Some(upload_pre_keys(world, key, &id, node)),
        ("encrypt", "get", "digest") => Some(digest(world, key, &id)),
        ("encrypt", "get", "key") => first.map(|k| key_bundles(world, key, &id, k)),
        ("usync", "get", "usync") => first.map(|u| usync(world, &id, u)),
        ("w:m", "set", "media_conn") => Some(media_conn(world, &id)),
        ("md", "set", "remove-companion-device") => {
            first.map(|r| remove_companion(world, conn, key, &id, r))
        }
        ("w:g2", _, _) => Some(groups_iq(world, key, &id, node)),
        ("abt", "get", _) => Some(
            iq_result(&id).children([Node::new("props")
                .attr("protocol", "1")
                .attr("hash", "sim")
                .children([])]),
        ),
        ("blocklist", "get", _) => Some(iq_result(&id).children([Node::new("list").children([])])),
        ("privacy", "get", _) => Some(
            iq_result(&id).children([Node::new("privacy").children(
                [
                    "last",
                    "online",
                    "profile",
                    "status",
                    "readreceipts",
                    "groupadd",
                    "calladd",
                ]
                .into_iter()
                .map(|name| {
                    Node::new("category").attr("name", name).attr(
                        "value",
                        if name == "readreceipts" || name == "online" {
                            "all"
                        } else {
                            "contacts"
                        },
                    )
                }),
            )]),
        ),
        ("privacy", "set", _)
        | ("urn:xmpp:whatsapp:dirty", _, _)
        | ("w:stats", _, _)
        | ("status", "set", _)
        | ("disappearing_mode", _, _) => Some(iq_result(&id)),
        _ => None,
    };
    match reply {
        Some(reply) => world.send(conn, reply),
        None => {
            tracing::warn!(conn, %node, "unsupported iq: answering 501");
            world.emit(SimEvent::StanzaRejected {
                connection: conn,
                reason: format!("unsupported iq xmlns={xmlns} type={kind} <{first_tag}>"),
            });
            world.send(conn, iq_error(&id, 501, "feature-not-implemented"));
        }
    }
}

fn be_bytes(value: u32, len: usize) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    bytes
        .get(bytes.len().saturating_sub(len)..)
        .unwrap_or_default()
        .to_vec()
}

fn be_value(bytes: &[u8]) -> Option<u32> {
    (!bytes.is_empty() && bytes.len() <= 4)
        .then(|| bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// `<iq xmlns="encrypt" type="set">` with registration, identity, pre-keys, signed pre-key.
fn upload_pre_keys(world: &mut World, key: &DeviceKey, id: &str, node: &Node) -> Node {
    let mut keys = Vec::new();
    if let Some(list) = node.child("list") {
        for item in list.children_by_tag("key") {
            let key_id = item
                .child("id")
                .and_then(Node::content_bytes)
                .and_then(be_value);
            let value = item
                .child("value")
                .and_then(Node::content_bytes)
                .and_then(|v| PublicKey::from_slice(v).ok());
            match (key_id, value) {
                (Some(key_id), Some(value)) => keys.push((key_id, value)),
                _ => return iq_error(id, 400, "bad-request"),
            }
        }
    }
    let signed = node.child("skey").and_then(parse_signed_key);
    let identity = node
        .child("identity")
        .and_then(Node::content_bytes)
        .and_then(|v| PublicKey::from_slice(v).ok());
    let registration = node
        .child("registration")
        .and_then(Node::content_bytes)
        .and_then(be_value);
    let Some(companion) = world.companion_mut(key) else {
        return iq_error(id, 404, "item-not-found");
    };
    if identity.is_some_and(|i| i != companion.identity) {
        tracing::warn!(device = %key, "pre-key upload with another identity key");
        return iq_error(id, 406, "not-acceptable");
    }
    if let Some(registration) = registration {
        companion.registration_id = registration;
    }
    if let Some(signed) = signed {
        companion.signed_pre_key = signed;
    }
    let count = keys.len();
    companion.pre_keys.extend(keys);
    world.dirty = true;
    world.emit(SimEvent::PreKeysUploaded {
        jid: key.pn_jid().to_string(),
        count,
    });
    iq_result(id)
}

fn parse_signed_key(skey: &Node) -> Option<crate::world::UploadedSignedKey> {
    Some(crate::world::UploadedSignedKey {
        id: skey
            .child("id")
            .and_then(Node::content_bytes)
            .and_then(be_value)?,
        public: PublicKey::from_slice(skey.child("value").and_then(Node::content_bytes)?).ok()?,
        signature: skey
            .child("signature")
            .and_then(Node::content_bytes)?
            .try_into()
            .ok()?,
    })
}

fn rotate(world: &mut World, key: &DeviceKey, id: &str, node: &Node) -> Node {
    let signed = node
        .child_path(&["rotate", "skey"])
        .and_then(parse_signed_key);
    match (signed, world.companion_mut(key)) {
        (Some(signed), Some(companion)) => {
            companion.signed_pre_key = signed;
            world.dirty = true;
            iq_result(id)
        }
        _ => iq_error(id, 400, "bad-request"),
    }
}

fn skey_node(id: u32, public: &PublicKey, signature: &[u8]) -> Node {
    Node::new("skey").children([
        Node::new("id").bytes(be_bytes(id, 3)),
        Node::new("value").bytes(public.as_bytes().to_vec()),
        Node::new("signature").bytes(signature.to_vec()),
    ])
}

/// What the server holds for a client's keys (Baileys checks only that it is there).
fn digest(world: &mut World, key: &DeviceKey, id: &str) -> Node {
    let Some(companion) = world.companion(key) else {
        return iq_error(id, 404, "item-not-found");
    };
    let s = &companion.signed_pre_key;
    iq_result(id).children([Node::new("digest").children([
        Node::new("type").bytes(vec![5]),
        Node::new("registration").bytes(be_bytes(companion.registration_id, 4)),
        Node::new("identity").bytes(companion.identity.as_bytes().to_vec()),
        skey_node(s.id, &s.public, &s.signature),
        Node::new("list").children(
            companion
                .pre_keys
                .keys()
                .map(|&k| Node::new("id").bytes(be_bytes(k, 3))),
        ),
    ])])
}

/// A bundle for a device, handing out one of its one-time pre-keys.
pub(crate) fn take_bundle(world: &mut World, key: &DeviceKey) -> Option<PreKeyBundle> {
    let now = world.now();
    let id = world.stanza_id();
    let account = world.accounts.get_mut(&key.phone)?;
    let (bundle, low) = match account.devices.get_mut(&key.device)? {
        Device::Sim(sim) => (
            sim.store.take_bundle(u32::from(key.device), &mut world.rng),
            None,
        ),
        Device::Companion(companion) => {
            let pre_key = companion.pre_keys.pop_first();
            let left = companion.pre_keys.len();
            let bundle = PreKeyBundle {
                registration_id: wa_wasm::signal::RegistrationId::new(companion.registration_id),
                device_id: u32::from(key.device),
                identity_key: companion.identity.into(),
                signed_pre_key_id: wa_wasm::signal::SignedPreKeyId(companion.signed_pre_key.id),
                signed_pre_key: companion.signed_pre_key.public,
                signed_pre_key_signature: companion.signed_pre_key.signature,
                pre_key: pre_key.map(|(id, k)| (wa_wasm::signal::PreKeyId(id), k)),
            };
            (bundle, (left < LOW_PRE_KEYS).then_some(left))
        }
    };
    world.dirty = true;
    if let Some(left) = low {
        let notification = Node::new("notification")
            .attr("from", server_jid())
            .attr("type", "encrypt")
            .attr("id", id)
            .attr("t", now)
            .children([Node::new("count").attr("value", left)]);
        world.deliver(key, notification);
    }
    Some(bundle)
}

fn bundle_node(jid: Jid, bundle: &PreKeyBundle) -> Node {
    let mut children = vec![
        Node::new("registration").bytes(be_bytes(bundle.registration_id.value(), 4)),
        Node::new("type").bytes(vec![5]),
        Node::new("identity").bytes(bundle.identity_key.public_key().as_bytes().to_vec()),
        skey_node(
            bundle.signed_pre_key_id.0,
            &bundle.signed_pre_key,
            &bundle.signed_pre_key_signature,
        ),
    ];
    if let Some((id, public)) = &bundle.pre_key {
        children.push(Node::new("key").children([
            Node::new("id").bytes(be_bytes(id.0, 3)),
            Node::new("value").bytes(public.as_bytes().to_vec()),
        ]));
    }
    Node::new("user").attr("jid", jid).children(children)
}

/// `<key><user jid=…/>…</key>`: one bundle per named device.
fn key_bundles(world: &mut World, _asker: &DeviceKey, id: &str, key: &Node) -> Node {
    let mut users = Vec::new();
    for user in key.children_by_tag("user") {
        let Some(jid) = user.jid_attr("jid").cloned().or_else(|| {
            user.str_attr("jid")
                .and_then(|text| text.parse::<Jid>().ok())
        }) else {
            continue;
        };
        let bundle = world
            .resolve(&jid)
            .and_then(|device| take_bundle(world, &device));
        users.push(match bundle {
            Some(bundle) => bundle_node(jid, &bundle),
            None => Node::new("user")
                .attr("jid", jid)
                .children([Node::new("error")
                    .attr("code", "404")
                    .attr("text", "item-not-found")]),
        });
    }
    iq_result(id).children([Node::new("list").children(users)])
}

/// `<usync>`: device lists, LIDs and "is on WhatsApp" for each user asked about.
fn usync(world: &mut World, id: &str, usync: &Node) -> Node {
    let protocols: Vec<String> = usync
        .child("query")
        .map(|q| q.child_nodes().iter().map(|c| c.tag.to_string()).collect())
        .unwrap_or_default();
    let wants = |p: &str| protocols.iter().any(|q| q == p);
    let mut users = Vec::new();
    for user in usync
        .child("list")
        .map(|l| l.children_by_tag("user").collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let asked = user.jid_attr("jid").cloned().or_else(|| {
            user.str_attr("jid")
                .and_then(|text| text.parse::<Jid>().ok())
        });
        let contact = user
            .child("contact")
            .and_then(Node::content_bytes)
            .map(|c| {
                String::from_utf8_lossy(c)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
            });
        let (jid, phone) = match (asked, contact) {
            (Some(jid), _) => {
                let phone = world.account_phone(&jid);
                (jid.to_non_ad(), phone)
            }
            (None, Some(number)) => {
                let phone = world.accounts.contains_key(&number).then(|| number.clone());
                (Jid::pn(number), phone)
            }
            (None, None) => continue,
        };
        let mut children = Vec::new();
        if wants("contact") {
            children.push(
                Node::new("contact").attr("type", if phone.is_some() { "in" } else { "out" }),
            );
        }
        let account = phone.as_ref().and_then(|p| world.accounts.get(p));
        if wants("devices") {
            let devices = account
                .map(|a| {
                    a.devices
                        .iter()
                        .map(|(&device, d)| {
                            let key_index = match d {
                                Device::Sim(s) => s.key_index,
                                Device::Companion(c) => c.key_index,
                            };
                            let node = Node::new("device").attr("id", device);
                            if device == 0 {
                                node
                            } else {
                                node.attr("key-index", key_index)
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            children
                .push(Node::new("devices").children([Node::new("device-list").children(devices)]));
        }
        if wants("lid") {
            if let Some(account) = account.filter(|_| jid.server() == &Server::Whatsapp) {
                children.push(Node::new("lid").attr("val", account.lid_jid()));
            } else {
                children.push(Node::new("lid"));
            }
        }
        users.push(Node::new("user").attr("jid", jid).children(children));
    }
    iq_result(id).children([Node::new("usync")
        .attr("sid", usync.str_attr("sid").unwrap_or_default())
        .attr("mode", usync.str_attr("mode").unwrap_or("query"))
        .attr(
            "context",
            usync.str_attr("context").unwrap_or("interactive"),
        )
        .attr("last", "true")
        .attr("index", "0")
        .children([Node::new("list").children(users)])])
}

fn media_conn(world: &mut World, id: &str) -> Node {
    let mut auth = [0u8; 24];
    world.rng.fill_bytes(&mut auth);
    iq_result(id).children([Node::new("media_conn")
        .attr("auth", URL_SAFE_NO_PAD.encode(auth))
        .attr("ttl", "21600")
        .attr("auth_ttl", "21600")
        .attr("max_buckets", "12")
        .children([Node::new("host")
            .attr("hostname", world.media_host.clone())
            .attr("maxContentLengthBytes", "104857600")])])
}

/// Logout: the client asks to remove itself (or another companion of its account).
fn remove_companion(
    world: &mut World,
    conn: u64,
    key: &DeviceKey,
    id: &str,
    remove: &Node,
) -> Node {
    let target = remove
        .jid_attr("jid")
        .cloned()
        .or_else(|| remove.str_attr("jid").and_then(|t| t.parse::<Jid>().ok()))
        .and_then(|jid| world.resolve(&jid));
    match target {
        Some(target) if target.phone == key.phone && target.device != 0 => {
            tracing::info!(conn, device = %target, "companion removed by the client (logout)");
            unlink(world, &target, target != *key);
            iq_result(id)
        }
        _ => iq_error(id, 404, "item-not-found"),
    }
}

/// Removes a companion from its account; a live connection gets `stream:error 401`
/// (device removed) when `notify_connection` is set.
pub(crate) fn unlink(world: &mut World, key: &DeviceKey, notify_connection: bool) -> bool {
    let removed = world
        .accounts
        .get_mut(&key.phone)
        .and_then(|a| match a.devices.get(&key.device) {
            Some(Device::Companion(_)) => a.devices.remove(&key.device),
            _ => None,
        })
        .is_some();
    if !removed {
        return false;
    }
    world.dirty = true;
    if let Some(conn) = world.online.remove(key)
        && notify_connection
    {
        world.command(
            conn,
            ConnCommand::Close {
                stream_error: Some(stream_error(401)),
                reason: "device removed (401)".to_owned(),
            },
        );
    }
    world.emit(SimEvent::Unlinked {
        jid: key.pn_jid().to_string(),
    });
    true
}

fn group_node(world: &World, group: &Group) -> Node {
    Node::new("group")
        .attr("id", group.id.as_str())
        .attr("subject", group.subject.as_str())
        .attr("s_t", group.created)
        .attr("s_o", Jid::pn(group.creator.as_str()))
        .attr("creation", group.created)
        .attr("creator", Jid::pn(group.creator.as_str()))
        .attr("addressing_mode", "pn")
        .attr("size", group.participants.len())
        .children(group.participants.iter().map(|phone| {
            let node = Node::new("participant").attr("jid", Jid::pn(phone.as_str()));
            let node = if *phone == group.creator {
                node.attr("type", "superadmin")
            } else {
                node
            };
            match world.accounts.get(phone) {
                Some(account) => node.attr("lid", account.lid_jid()),
                None => node,
            }
        }))
}

fn participants_of(node: &Node, world: &World) -> Vec<String> {
    node.children_by_tag("participant")
        .filter_map(|p| {
            p.jid_attr("jid")
                .cloned()
                .or_else(|| p.str_attr("jid").and_then(|t| t.parse::<Jid>().ok()))
        })
        .filter_map(|jid| world.account_phone(&jid))
        .collect()
}

/// Creates a group (from a client's `create` or the control API).
pub(crate) fn create_group(
    world: &mut World,
    creator: &str,
    subject: &str,
    members: Vec<String>,
) -> Group {
    let id = format!("120363{:012}", world.rng.next_u64() % 1_000_000_000_000);
    let mut participants = vec![creator.to_owned()];
    for member in members {
        if !participants.contains(&member) && world.accounts.contains_key(&member) {
            participants.push(member);
        }
    }
    let group = Group {
        id: id.clone(),
        subject: subject.to_owned(),
        creator: creator.to_owned(),
        participants,
        created: world.now(),
    };
    world.groups.insert(id, group.clone());
    world.dirty = true;
    group
}

fn groups_iq(world: &mut World, key: &DeviceKey, id: &str, node: &Node) -> Node {
    let to = node
        .jid_attr("to")
        .cloned()
        .or_else(|| node.str_attr("to").and_then(|t| t.parse::<Jid>().ok()));
    let Some(first) = node.child_nodes().first() else {
        return iq_error(id, 400, "bad-request");
    };
    let group_id = to
        .as_ref()
        .filter(|j| j.is_group() && !j.user().is_empty())
        .map(|j| j.user().to_owned());
    match (first.tag.as_str(), group_id) {
        ("create", _) => {
            let subject = first.str_attr("subject").unwrap_or("group").to_owned();
            let members = participants_of(first, world);
            let group = create_group(world, &key.phone, &subject, members);
            let node = group_node(world, &group);
            iq_result(id).children([node])
        }
        ("participating", _) => {
            let groups: Vec<Node> = world
                .groups
                .values()
                .filter(|g| g.participants.contains(&key.phone))
                .map(|g| group_node(world, g))
                .collect();
            iq_result(id).children([Node::new("groups").children(groups)])
        }
        ("query", Some(gid)) => match world.groups.get(&gid) {
            Some(group) if group.participants.contains(&key.phone) => {
                let node = group_node(world, group);
                iq_result(id).children([node])
            }
            Some(_) => iq_error(id, 401, "not-authorized"),
            None => iq_error(id, 404, "item-not-found"),
        },
        (op @ ("add" | "remove"), Some(gid)) => {
            let phones = participants_of(first, world);
            let Some(group) = world.groups.get_mut(&gid) else {
                return iq_error(id, 404, "item-not-found");
            };
            if !group.participants.contains(&key.phone) {
                return iq_error(id, 401, "not-authorized");
            }
            for phone in &phones {
                if op == "add" {
                    if !group.participants.contains(phone) {
                        group.participants.push(phone.clone());
                    }
                } else {
                    group.participants.retain(|p| p != phone);
                }
            }
            world.dirty = true;
            iq_result(id).children([Node::new(op).children(
                phones
                    .iter()
                    .map(|p| Node::new("participant").attr("jid", Jid::pn(p.as_str()))),
            )])
        }
        _ => iq_error(id, 501, "feature-not-implemented"),
    }
}
