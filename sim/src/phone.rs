//! The simulated devices: phones and contacts' devices that send, receive, decrypt and
//! answer like real ones.
//!
//! Owns what a simulated device does with a stanza routed to it (decrypt each `enc` in
//! order — pairwise `pkmsg`/`msg`, sender key distributions, `skmsg` — unpad, parse, record
//! it, answer with a delivery (and read) receipt, or with a retry receipt when it cannot
//! decrypt), sending text and documents to linked clients (per-device encryption from
//! the bundles they uploaded, `device-identity` with `pkmsg`s, sender keys in groups),
//! and re-sending after a client's retry receipt. Uses the core's `signal`, `message`
//! and `media` modules.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::Rng;
use wa_wasm::binary::{Jid, Node};
use wa_wasm::crypto::PublicKey;
use wa_wasm::media::{self, MediaType};
use wa_wasm::message::{self, Document, Message, SenderKeyDistribution};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKey, PreKeyBundle, PreKeyId, RegistrationId, SenderKeyMessage,
    SenderKeyName, SignalError, SignedPreKeyId, group, session,
};

use crate::api::{DocumentSpec, ReceivedDocument, ReceivedMessage, SentInfo, SimEvent};
use crate::routing::{Copy, incoming_stanza};
use crate::stanza::take_bundle;
use crate::world::{DeviceKey, SentMessage, World};

/// Why a simulated device could not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The sender is not a simulated device.
    #[error("{0} is not a simulated device")]
    NotSimulated(String),
    /// The destination is not a known account or group.
    #[error("unknown destination {0}")]
    UnknownDestination(String),
    /// The sender is not a member of the group.
    #[error("{0} is not a member of {1}")]
    NotMember(String, String),
    /// Nothing to send.
    #[error("a message needs a text or a document")]
    Empty,
    /// The document content is not base64.
    #[error("document data is not base64: {0}")]
    BadDocument(String),
    /// Signal refused (no bundle for a device, …).
    #[error("encryption failed: {0}")]
    Encryption(String),
}

fn signal_err(err: SignalError) -> SendError {
    SendError::Encryption(err.to_string())
}

fn jid_attr(node: &Node, key: &str) -> Option<Jid> {
    node.jid_attr(key)
        .cloned()
        .or_else(|| node.str_attr(key).and_then(|t| t.parse::<Jid>().ok()))
}

/// Encrypts `plaintext` (already padded) from simulated device `from` to `to`, making a
/// session from `to`'s bundle first if needed. Returns the `enc` type and bytes.
fn encrypt_pairwise(
    world: &mut World,
    from: &DeviceKey,
    to: &DeviceKey,
    plaintext: &[u8],
) -> Result<(&'static str, Vec<u8>), SendError> {
    let address = to.address();
    let has_session = world
        .accounts
        .get(&from.phone)
        .and_then(|a| a.sim(from.device))
        .is_some_and(|s| s.store.has_session(&address));
    if !has_session {
        let bundle = take_bundle(world, to)
            .ok_or_else(|| SendError::Encryption(format!("no keys for {to}")))?;
        start_session(world, from, to, &bundle)?;
    }
    let sim = world
        .accounts
        .get_mut(&from.phone)
        .and_then(|a| a.sim_mut(from.device))
        .ok_or_else(|| SendError::NotSimulated(from.to_string()))?;
    let outcome = session::encrypt(&sim.store, &address, plaintext).map_err(signal_err)?;
    sim.store.apply(outcome.changes);
    world.dirty = true;
    Ok((
        outcome.value.enc_type(),
        outcome.value.serialized().to_vec(),
    ))
}

fn start_session(
    world: &mut World,
    from: &DeviceKey,
    to: &DeviceKey,
    bundle: &PreKeyBundle,
) -> Result<(), SendError> {
    let rng = &mut world.rng;
    let sim = world
        .accounts
        .get_mut(&from.phone)
        .and_then(|a| a.sim_mut(from.device))
        .ok_or_else(|| SendError::NotSimulated(from.to_string()))?;
    let outcome =
        session::process_bundle(&sim.store, &to.address(), bundle, rng).map_err(signal_err)?;
    sim.store.apply(outcome.changes);
    Ok(())
}

fn enc_node(kind: &str, bytes: Vec<u8>, mediatype: Option<&str>, count: Option<u32>) -> Node {
    let node = Node::new("enc").attr("v", "2").attr("type", kind);
    let node = match mediatype {
        Some(m) => node.attr("mediatype", m),
        None => node,
    };
    let node = match count {
        Some(c) => node.attr("count", c),
        None => node,
    };
    node.bytes(bytes)
}

/// Builds a document message: encrypts the file and stores the blob on the media
/// server.
fn document_message(world: &mut World, spec: &DocumentSpec) -> Result<Message, SendError> {
    let data = STANDARD
        .decode(&spec.data_base64)
        .map_err(|e| SendError::BadDocument(e.to_string()))?;
    let mut media_key = [0u8; 32];
    world.rng.fill_bytes(&mut media_key);
    let sealed = media::encrypt(&data, &media_key, MediaType::Document);
    let mut blob_id = [0u8; 16];
    world.rng.fill_bytes(&mut blob_id);
    let direct_path = format!("/v/t62.7119-24/{}?ccb=11-4", hex::encode(blob_id));
    world.media.insert(hex::encode(blob_id), sealed.data);
    world.dirty = true;
    Ok(Message::document(Document {
        url: format!("http://{}{}", world.media_host, direct_path),
        mimetype: spec
            .mimetype
            .clone()
            .unwrap_or_else(|| "application/pdf".to_owned()),
        title: spec.file_name.clone(),
        file_name: spec.file_name.clone(),
        caption: spec.caption.clone(),
        file_sha256: sealed.file_sha256.to_vec(),
        file_enc_sha256: sealed.file_enc_sha256.to_vec(),
        file_length: sealed.file_length,
        media_key: media_key.to_vec(),
        direct_path,
        media_key_timestamp: i64::try_from(world.now()).unwrap_or(i64::MAX),
    }))
}

/// Sends a text and/or document from simulated device `from` to a user or group.
pub(crate) fn send(
    world: &mut World,
    from: &DeviceKey,
    chat: &Jid,
    text: Option<String>,
    document: Option<&DocumentSpec>,
) -> Result<SentInfo, SendError> {
    if world
        .accounts
        .get(&from.phone)
        .and_then(|a| a.sim(from.device))
        .is_none()
    {
        return Err(SendError::NotSimulated(from.to_string()));
    }
    let mut message = match document {
        Some(spec) => document_message(world, spec)?,
        None => Message::default(),
    };
    match (text, &mut message.document) {
        (Some(text), Some(document)) if document.caption.is_none() => {
            document.caption = Some(text);
        }
        (Some(text), None) => message.text = Some(text),
        _ => {}
    }
    if message.text.is_none() && message.document.is_none() {
        return Err(SendError::Empty);
    }
    let id = world.message_id();
    let now = world.now();
    let (kind, mediatype) = if message.document.is_some() {
        ("media", Some("document"))
    } else {
        ("text", None)
    };
    let chat = if chat.is_group() {
        chat.to_non_ad()
    } else {
        let phone = world
            .account_phone(chat)
            .ok_or_else(|| SendError::UnknownDestination(chat.to_string()))?;
        Jid::pn(phone)
    };
    if let Some(account) = world.accounts.get_mut(&from.phone) {
        account.sent.insert(
            id.clone(),
            SentMessage {
                from_device: from.device,
                chat: chat.clone(),
                message: message.encode(),
                kind: kind.to_owned(),
                mediatype: mediatype.map(str::to_owned),
                t: now,
            },
        );
    }
    let delivered_to = if chat.is_group() {
        send_group(world, from, &chat, &id, now, &message, mediatype)?
    } else {
        send_direct(world, from, &chat, &id, now, &message, mediatype)?
    };
    Ok(SentInfo { id, delivered_to })
}

fn sender_adv(world: &World, from: &DeviceKey) -> Option<Vec<u8>> {
    world
        .accounts
        .get(&from.phone)
        .and_then(|a| a.sim(from.device))
        .and_then(|s| s.adv.clone())
}

fn send_direct(
    world: &mut World,
    from: &DeviceKey,
    chat: &Jid,
    id: &str,
    now: u64,
    message: &Message,
    mediatype: Option<&str>,
) -> Result<Vec<String>, SendError> {
    let chat_phone = chat.user().to_owned();
    let mut targets = world.devices_of(&chat_phone);
    if chat_phone != from.phone {
        targets.extend(world.devices_of(&from.phone));
    }
    let adv = sender_adv(world, from);
    let kind = if mediatype.is_some() { "media" } else { "text" };
    let mut delivered = Vec::new();
    for target in targets {
        if target == *from {
            continue;
        }
        let own = target.phone == from.phone && chat_phone != from.phone;
        let content = if own {
            message.clone().sent_to(chat.to_string())
        } else {
            message.clone()
        };
        if !world.is_companion(&target) {
            record(world, &target, from, id, chat, None, &content, now, 0);
            continue;
        }
        let padded = message::pad(&content.encode(), &mut world.rng);
        let (enc_type, mut bytes) = match encrypt_pairwise(world, from, &target, &padded) {
            Ok(enc) => enc,
            Err(err) => {
                tracing::warn!(from = %from, to = %target, %err, "cannot encrypt for a device; skipping it");
                continue;
            }
        };
        if let Some(account) = world.accounts.get_mut(&from.phone)
            && account.behaviour.corrupt_outgoing_next > 0
        {
            account.behaviour.corrupt_outgoing_next =
                account.behaviour.corrupt_outgoing_next.saturating_sub(1);
            if let Some(byte) = bytes.last_mut() {
                *byte ^= 0x01;
            }
        }
        let recipient = own.then(|| chat.clone());
        let stanza = incoming_stanza(
            world,
            Copy {
                sender: from,
                id,
                kind,
                t: now,
                group: None,
                recipient: recipient.as_ref(),
                encs: vec![enc_node(enc_type, bytes, mediatype, None)],
                device_identity: adv.as_deref(),
            },
        );
        delivered.push(target.pn_jid().to_string());
        world.deliver(&target, stanza);
    }
    Ok(delivered)
}

fn sender_key_name(group: &Jid, sender: &DeviceKey) -> SenderKeyName {
    SenderKeyName::new(group.to_string(), sender.address())
}

fn send_group(
    world: &mut World,
    from: &DeviceKey,
    group_jid: &Jid,
    id: &str,
    now: u64,
    message: &Message,
    mediatype: Option<&str>,
) -> Result<Vec<String>, SendError> {
    let group = world
        .groups
        .get(group_jid.user())
        .cloned()
        .ok_or_else(|| SendError::UnknownDestination(group_jid.to_string()))?;
    if !group.participants.contains(&from.phone) {
        return Err(SendError::NotMember(
            from.phone.clone(),
            group_jid.to_string(),
        ));
    }
    let name = sender_key_name(group_jid, from);
    let padded = message::pad(&message.encode(), &mut world.rng);
    let (distribution, skmsg) = {
        let rng = &mut world.rng;
        let sim = world
            .accounts
            .get_mut(&from.phone)
            .and_then(|a| a.sim_mut(from.device))
            .ok_or_else(|| SendError::NotSimulated(from.to_string()))?;
        let created = group::create_distribution(&sim.store, &name, rng).map_err(signal_err)?;
        sim.store.apply(created.changes);
        let encrypted =
            group::group_encrypt(&sim.store, &name, &padded, rng).map_err(signal_err)?;
        sim.store.apply(encrypted.changes);
        (created.value, encrypted.value)
    };
    world.dirty = true;
    let adv = sender_adv(world, from);
    let kind = if mediatype.is_some() { "media" } else { "text" };
    let mut delivered = Vec::new();
    for phone in &group.participants {
        for target in world.devices_of(phone) {
            if target == *from {
                continue;
            }
            if !world.is_companion(&target) {
                record(
                    world,
                    &target,
                    from,
                    id,
                    group_jid,
                    Some(group_jid),
                    message,
                    now,
                    0,
                );
                continue;
            }
            let mut encs = Vec::new();
            let marker = (group_jid.to_string(), target.clone());
            let needs_key = world
                .accounts
                .get(&from.phone)
                .and_then(|a| a.sim(from.device))
                .is_some_and(|s| !s.sender_key_sent.contains(&marker));
            if needs_key {
                let skdm = Message {
                    sender_key_distribution: Some(SenderKeyDistribution {
                        group_id: group_jid.to_string(),
                        distribution: distribution.serialized().to_vec(),
                    }),
                    ..Message::default()
                };
                let padded = message::pad(&skdm.encode(), &mut world.rng);
                match encrypt_pairwise(world, from, &target, &padded) {
                    Ok((enc_type, bytes)) => {
                        encs.push(enc_node(enc_type, bytes, mediatype, None));
                        if let Some(sim) = world
                            .accounts
                            .get_mut(&from.phone)
                            .and_then(|a| a.sim_mut(from.device))
                        {
                            sim.sender_key_sent.insert(marker);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(to = %target, %err, "cannot send the sender key; skipping the device");
                        continue;
                    }
                }
            }
            encs.push(enc_node(
                "skmsg",
                skmsg.serialized().to_vec(),
                mediatype,
                None,
            ));
            let stanza = incoming_stanza(
                world,
                Copy {
                    sender: from,
                    id,
                    kind,
                    t: now,
                    group: Some(group_jid),
                    recipient: None,
                    encs,
                    device_identity: adv.as_deref(),
                },
            );
            delivered.push(target.pn_jid().to_string());
            world.deliver(&target, stanza);
        }
    }
    Ok(delivered)
}

/// Downloads and opens a document's blob from the simulated media server.
fn open_document(world: &World, document: &Document) -> ReceivedDocument {
    let blob_id = document
        .direct_path
        .rsplit('/')
        .next()
        .and_then(|last| last.split('?').next())
        .unwrap_or_default();
    let opened = match (
        world.media.get(blob_id),
        <[u8; 32]>::try_from(document.media_key.as_slice()),
    ) {
        (None, _) => Err(format!("no media at {}", document.direct_path)),
        (_, Err(_)) => Err("media key is not 32 bytes".to_owned()),
        (Some(blob), Ok(key)) => media::decrypt(
            blob,
            &key,
            MediaType::Document,
            Some(&document.file_enc_sha256),
        )
        .map_err(|e| e.to_string()),
    };
    let (data_base64, error) = match opened {
        Ok(data) => (Some(STANDARD.encode(data)), None),
        Err(err) => (None, Some(err)),
    };
    ReceivedDocument {
        file_name: document.file_name.clone(),
        mimetype: document.mimetype.clone(),
        caption: document.caption.clone(),
        data_base64,
        error,
    }
}

/// Stores what a simulated device received and reports it.
#[allow(clippy::too_many_arguments)]
fn record(
    world: &mut World,
    to: &DeviceKey,
    from: &DeviceKey,
    id: &str,
    chat: &Jid,
    group: Option<&Jid>,
    content: &Message,
    t: u64,
    retry_count: u32,
) {
    let inner = content.inner();
    let from_own_device = content.device_sent.is_some() || from.phone == to.phone;
    let chat = match (&content.device_sent, group) {
        (_, Some(group)) => group.to_string(),
        (Some(sent), None) => sent.destination_jid.clone(),
        (None, None) => {
            if from.phone == to.phone {
                chat.to_string()
            } else {
                Jid::pn(from.phone.as_str()).to_string()
            }
        }
    };
    let document = inner.document.as_ref().map(|d| open_document(world, d));
    let received = ReceivedMessage {
        id: id.to_owned(),
        to: to.pn_jid().to_string(),
        from: from.pn_jid().to_string(),
        chat,
        text: inner.text.clone(),
        document,
        from_own_device,
        timestamp: t,
        retry_count,
    };
    if let Some(account) = world.accounts.get_mut(&to.phone) {
        account.received.push(received.clone());
    }
    world.dirty = true;
    world.emit(SimEvent::MessageReceived(received));
}

/// One decrypted piece of a stanza.
enum Piece {
    Content(Box<Message>),
    Failed(String),
}

/// A stanza routed to a simulated device.
pub(crate) fn receive(world: &mut World, to: &DeviceKey, stanza: &Node) {
    let Some(from_attr) = jid_attr(stanza, "from") else {
        return;
    };
    let participant = jid_attr(stanza, "participant");
    let group = from_attr.is_group().then(|| from_attr.clone());
    let sender_jid = participant.clone().unwrap_or_else(|| from_attr.clone());
    let Some(sender) = world.resolve(&sender_jid) else {
        tracing::debug!(to = %to, from = %sender_jid, "message from an unknown device ignored");
        return;
    };
    let id = stanza.str_attr("id").unwrap_or_default().to_owned();
    let t = stanza
        .str_attr("t")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| world.now());
    let retry_count: u32 = stanza
        .children_by_tag("enc")
        .find_map(|e| e.str_attr("count").and_then(|c| c.parse().ok()))
        .unwrap_or(0);
    let Some(account) = world.accounts.get_mut(&to.phone) else {
        return;
    };
    if account.behaviour.drop_next > 0 {
        account.behaviour.drop_next = account.behaviour.drop_next.saturating_sub(1);
        tracing::info!(to = %to, %id, "dropping a message on request");
        return;
    }
    let mut corrupt = if account.behaviour.corrupt_next > 0 {
        account.behaviour.corrupt_next = account.behaviour.corrupt_next.saturating_sub(1);
        true
    } else {
        false
    };
    let auto_read = account.behaviour.auto_read;

    let mut pieces = Vec::new();
    for enc in stanza.children_by_tag("enc") {
        let mut bytes = enc.content_bytes().unwrap_or_default().to_vec();
        if corrupt {
            corrupt = false;
            if let Some(byte) = bytes.last_mut() {
                *byte ^= 0x01;
            }
        }
        let kind = enc.str_attr("type").unwrap_or_default();
        pieces.push(decrypt_piece(
            world,
            to,
            &sender,
            group.as_ref(),
            kind,
            &bytes,
        ));
    }

    let failure = pieces.iter().find_map(|p| match p {
        Piece::Failed(err) => Some(err.clone()),
        Piece::Content(_) => None,
    });
    if let Some(error) = failure {
        tracing::info!(to = %to, from = %sender, %id, %error, "cannot decrypt; sending a retry receipt");
        world.emit(SimEvent::DecryptFailed {
            device: to.pn_jid().to_string(),
            from: sender.pn_jid().to_string(),
            id: id.clone(),
            error,
        });
        send_retry_receipt(world, to, &sender, &id, t, group.as_ref());
        return;
    }
    let mut content = Message::default();
    for piece in pieces {
        if let Piece::Content(message) = piece {
            merge(&mut content, *message);
        }
    }
    let shown = content.inner();
    if shown.text.is_some() || shown.document.is_some() {
        let chat = stanza
            .jid_attr("recipient")
            .cloned()
            .unwrap_or_else(|| from_attr.clone());
        record(
            world,
            to,
            &sender,
            &id,
            &chat,
            group.as_ref(),
            &content,
            t,
            retry_count,
        );
    }
    send_receipts(world, to, &sender, &id, group.as_ref(), auto_read);
}

fn merge(into: &mut Message, from: Message) {
    if from.text.is_some() {
        into.text = from.text;
    }
    if from.document.is_some() {
        into.document = from.document;
    }
    if from.device_sent.is_some() {
        into.device_sent = from.device_sent;
    }
}

fn decrypt_piece(
    world: &mut World,
    to: &DeviceKey,
    sender: &DeviceKey,
    group: Option<&Jid>,
    kind: &str,
    bytes: &[u8],
) -> Piece {
    let rng = &mut world.rng;
    let Some(sim) = world
        .accounts
        .get_mut(&to.phone)
        .and_then(|a| a.sim_mut(to.device))
    else {
        return Piece::Failed("not a simulated device".to_owned());
    };
    let plaintext = match kind {
        "pkmsg" | "msg" => {
            let message = match CiphertextMessage::parse(kind, bytes) {
                Some(Ok(message)) => message,
                Some(Err(err)) => return Piece::Failed(err.to_string()),
                None => return Piece::Failed(format!("unknown enc type {kind}")),
            };
            match session::decrypt(&sim.store, &sender.address(), &message, rng) {
                Ok(outcome) => {
                    sim.store.apply(outcome.changes);
                    outcome.value
                }
                Err(err) => return Piece::Failed(err.to_string()),
            }
        }
        "skmsg" => {
            let Some(group) = group else {
                return Piece::Failed("skmsg outside a group".to_owned());
            };
            let message = match SenderKeyMessage::from_bytes(bytes) {
                Ok(message) => message,
                Err(err) => return Piece::Failed(err.to_string()),
            };
            match group::group_decrypt(&sim.store, &sender_key_name(group, sender), &message) {
                Ok(outcome) => {
                    sim.store.apply(outcome.changes);
                    outcome.value
                }
                Err(err) => return Piece::Failed(err.to_string()),
            }
        }
        other => return Piece::Failed(format!("unknown enc type {other}")),
    };
    world.dirty = true;
    let message = match message::unpad(&plaintext)
        .map_err(|e| e.to_string())
        .and_then(|body| Message::decode(body).map_err(|e| e.to_string()))
    {
        Ok(message) => message,
        Err(err) => return Piece::Failed(err),
    };
    if let Some(distribution) = &message.sender_key_distribution {
        let parsed =
            wa_wasm::signal::SenderKeyDistributionMessage::from_bytes(&distribution.distribution);
        let group_jid = distribution.group_id.parse::<Jid>().ok();
        if let (Ok(parsed), Some(group_jid)) = (parsed, group_jid) {
            let name = sender_key_name(&group_jid, sender);
            if let Some(sim) = world
                .accounts
                .get_mut(&to.phone)
                .and_then(|a| a.sim_mut(to.device))
                && let Ok(outcome) = group::process_distribution(&sim.store, &name, &parsed)
            {
                sim.store.apply(outcome.changes);
            }
        }
    }
    Piece::Content(Box::new(message))
}

/// Delivery (and read) receipts for a message from a linked client.
fn send_receipts(
    world: &mut World,
    to: &DeviceKey,
    sender: &DeviceKey,
    id: &str,
    group: Option<&Jid>,
    auto_read: bool,
) {
    if !world.is_companion(sender) {
        return;
    }
    let now = world.now();
    let own = to.phone == sender.phone;
    let base = |kind: Option<&str>| {
        let node = Node::new("receipt").attr("id", id).attr("t", now);
        let node = match group {
            Some(group) => node
                .attr("from", group.clone())
                .attr("participant", to.pn_jid()),
            None => node.attr("from", to.pn_jid()),
        };
        match kind {
            Some(kind) => node.attr("type", kind),
            None => node,
        }
    };
    if own {
        world.deliver(sender, base(Some("sender")));
        return;
    }
    world.deliver(sender, base(None));
    if auto_read {
        world.deliver(sender, base(Some("read")));
    }
}

/// A retry receipt from a simulated device that could not decrypt.
fn send_retry_receipt(
    world: &mut World,
    to: &DeviceKey,
    sender: &DeviceKey,
    id: &str,
    t: u64,
    group: Option<&Jid>,
) {
    if !world.is_companion(sender) {
        return;
    }
    let now = world.now();
    let Some(account) = world.accounts.get_mut(&to.phone) else {
        return;
    };
    let count = {
        let entry = account.retries.entry(id.to_owned()).or_insert(0);
        *entry = entry.saturating_add(1);
        *entry
    };
    let Some(sim) = account.sim_mut(to.device) else {
        return;
    };
    let registration = sim.store.registration_id().value().to_be_bytes().to_vec();
    let keys = (count > 1).then(|| {
        let bundle = sim.store.take_bundle(u32::from(to.device), &mut world.rng);
        let mut children = vec![
            Node::new("type").bytes(vec![5]),
            Node::new("identity").bytes(bundle.identity_key.public_key().as_bytes().to_vec()),
        ];
        if let Some((id, key)) = bundle.pre_key {
            children.push(Node::new("key").children([
                Node::new("id").bytes(id.0.to_be_bytes()[1..].to_vec()),
                Node::new("value").bytes(key.as_bytes().to_vec()),
            ]));
        }
        children.push(Node::new("skey").children([
            Node::new("id").bytes(bundle.signed_pre_key_id.0.to_be_bytes()[1..].to_vec()),
            Node::new("value").bytes(bundle.signed_pre_key.as_bytes().to_vec()),
            Node::new("signature").bytes(bundle.signed_pre_key_signature.to_vec()),
        ]));
        if let Some(adv) = &sim.adv {
            children.push(Node::new("device-identity").bytes(adv.clone()));
        }
        Node::new("keys").children(children)
    });
    let mut receipt = Node::new("receipt")
        .attr("id", id)
        .attr("type", "retry")
        .attr("t", now);
    receipt = match group {
        Some(group) => receipt
            .attr("from", group.clone())
            .attr("participant", to.pn_jid()),
        None => receipt.attr("from", to.pn_jid()),
    };
    let mut children = vec![
        Node::new("retry")
            .attr("count", count)
            .attr("id", id)
            .attr("t", t)
            .attr("v", "1"),
        Node::new("registration").bytes(registration),
    ];
    children.extend(keys);
    world.dirty = true;
    world.deliver(sender, receipt.children(children));
}

fn bundle_from_retry(receipt: &Node, device_id: u32) -> Option<PreKeyBundle> {
    let keys = receipt.child("keys")?;
    let be = |bytes: &[u8]| -> Option<u32> {
        (!bytes.is_empty() && bytes.len() <= 4)
            .then(|| bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    };
    let registration = receipt
        .child("registration")
        .and_then(Node::content_bytes)
        .and_then(be)?;
    let identity = PublicKey::from_slice(keys.child("identity")?.content_bytes()?).ok()?;
    let skey = keys.child("skey")?;
    let pre_key = keys.child("key").and_then(|k| {
        Some((
            PreKeyId(be(k.child("id")?.content_bytes()?)?),
            PublicKey::from_slice(k.child("value")?.content_bytes()?).ok()?,
        ))
    });
    Some(PreKeyBundle {
        registration_id: RegistrationId::new(registration),
        device_id,
        identity_key: IdentityKey::new(identity),
        signed_pre_key_id: SignedPreKeyId(be(skey.child("id")?.content_bytes()?)?),
        signed_pre_key: PublicKey::from_slice(skey.child("value")?.content_bytes()?).ok()?,
        signed_pre_key_signature: skey.child("signature")?.content_bytes()?.try_into().ok()?,
        pre_key,
    })
}

/// A linked client could not decrypt what simulated device `sender` sent it: send the
/// message again, to that device only.
pub(crate) fn handle_retry(
    world: &mut World,
    sender: &DeviceKey,
    requester: &DeviceKey,
    receipt: &Node,
) {
    let id = receipt.str_attr("id").unwrap_or_default().to_owned();
    let count: u32 = receipt
        .child("retry")
        .and_then(|r| r.str_attr("count"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let Some(sent) = world
        .accounts
        .get(&sender.phone)
        .and_then(|a| a.sent.get(&id))
        .cloned()
    else {
        tracing::warn!(%id, "retry receipt for a message we do not have");
        return;
    };
    let fresh = bundle_from_retry(receipt, u32::from(requester.device));
    let rebuilt = match fresh {
        Some(bundle) => start_session(world, sender, requester, &bundle),
        None if count >= 2 => match take_bundle(world, requester) {
            Some(bundle) => start_session(world, sender, requester, &bundle),
            None => Err(SendError::Encryption(format!("no keys for {requester}"))),
        },
        None => Ok(()),
    };
    if let Err(err) = rebuilt {
        tracing::warn!(%id, %err, "cannot rebuild the session for a retry");
        return;
    }
    let Ok(original) = Message::decode(&sent.message) else {
        return;
    };
    let group = sent.chat.is_group().then(|| sent.chat.clone());
    let mut content = if requester.phone == sender.phone && group.is_none() {
        original.sent_to(sent.chat.to_string())
    } else {
        original
    };
    if let Some(group_jid) = &group {
        // Re-send the sender key with the content, pairwise.
        let name = sender_key_name(group_jid, sender);
        let rng = &mut world.rng;
        if let Some(sim) = world
            .accounts
            .get_mut(&sender.phone)
            .and_then(|a| a.sim_mut(sender.device))
            && let Ok(created) = group::create_distribution(&sim.store, &name, rng)
        {
            sim.store.apply(created.changes);
            content.sender_key_distribution = Some(SenderKeyDistribution {
                group_id: group_jid.to_string(),
                distribution: created.value.serialized().to_vec(),
            });
        }
    }
    let padded = message::pad(&content.encode(), &mut world.rng);
    let (enc_type, bytes) = match encrypt_pairwise(world, sender, requester, &padded) {
        Ok(enc) => enc,
        Err(err) => {
            tracing::warn!(%id, %err, "cannot re-encrypt for a retry");
            return;
        }
    };
    let adv = sender_adv(world, sender);
    let recipient = (requester.phone == sender.phone && group.is_none()).then(|| sent.chat.clone());
    let stanza = incoming_stanza(
        world,
        Copy {
            sender,
            id: &id,
            kind: &sent.kind,
            t: sent.t,
            group: group.as_ref(),
            recipient: recipient.as_ref(),
            encs: vec![enc_node(
                enc_type,
                bytes,
                sent.mediatype.as_deref(),
                Some(count),
            )],
            device_identity: adv.as_deref(),
        },
    );
    world.deliver(requester, stanza);
}
