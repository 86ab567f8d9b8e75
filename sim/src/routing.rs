//! Message and receipt routing: the server's fan-out of what a client sends.
//!
//! Owns the handling of a client's `message` (server ack, then one stanza per
//! recipient device built from its `<participants><to jid>` entries and the shared
//! `skmsg`, with `from`/`participant`/`recipient`/`t`/`notify` filled in) and of a
//! client's `receipt` (ack, dequeueing, and forwarding to the sender — a simulated
//! device records it, a linked client gets it). Decryption by simulated devices is
//! `phone`'s business.

use wa_wasm::binary::{Jid, Node};

use crate::api::{ReceiptInfo, SimEvent};
use crate::phone;
use crate::stanza::server_jid;
use crate::world::{ConnCommand, DeviceKey, World};

fn jid_attr(node: &Node, key: &str) -> Option<Jid> {
    node.jid_attr(key)
        .cloned()
        .or_else(|| node.str_attr(key).and_then(|t| t.parse::<Jid>().ok()))
}

/// What the recipient device of a copy sees.
pub(crate) struct Copy<'a> {
    pub(crate) sender: &'a DeviceKey,
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) t: u64,
    pub(crate) group: Option<&'a Jid>,
    pub(crate) recipient: Option<&'a Jid>,
    pub(crate) encs: Vec<Node>,
    pub(crate) device_identity: Option<&'a [u8]>,
}

/// Builds the stanza a recipient device receives.
pub(crate) fn incoming_stanza(world: &World, copy: Copy<'_>) -> Node {
    let account = world.accounts.get(&copy.sender.phone);
    let notify = account.map(|a| a.name.clone()).unwrap_or_default();
    let lid_mode = account.is_some_and(|a| a.behaviour.lid_addressing);
    let pn_user = Jid::pn(copy.sender.phone.as_str());
    let lid_user = account.map(|a| a.lid_jid());
    // The sender as the stanza names it, and its other form.
    let (sender_jid, alternative) = match (&lid_user, lid_mode) {
        (Some(lid), true) => (lid.clone().with_device(copy.sender.device), Some(pn_user)),
        (lid, _) => (copy.sender.pn_jid(), lid.clone()),
    };
    let mut node = Node::new("message")
        .attr("id", copy.id)
        .attr("t", copy.t)
        .attr("type", copy.kind)
        .attr("notify", notify);
    node = match copy.group {
        Some(group) => {
            let node = node
                .attr("from", group.clone())
                .attr("participant", sender_jid)
                .attr("addressing_mode", if lid_mode { "lid" } else { "pn" });
            match alternative {
                Some(alt) if lid_mode => node.attr("participant_pn", alt),
                Some(alt) => node.attr("participant_lid", alt),
                None => node,
            }
        }
        None => {
            let node = node.attr("from", sender_jid);
            let node = match alternative {
                Some(alt) if lid_mode => node.attr("sender_pn", alt),
                Some(alt) => node.attr("sender_lid", alt),
                None => node,
            };
            match copy.recipient {
                Some(recipient) => node.attr("recipient", recipient.clone()),
                None => node,
            }
        }
    };
    let has_pkmsg = copy
        .encs
        .iter()
        .any(|e| e.str_attr("type") == Some("pkmsg"));
    let mut children = copy.encs;
    if let (true, Some(identity)) = (has_pkmsg, copy.device_identity) {
        children.push(Node::new("device-identity").bytes(identity.to_vec()));
    }
    node.children(children)
}

/// Hands a copy to its device: a linked client gets the stanza, a simulated device
/// decrypts it.
pub(crate) fn hand_over(world: &mut World, to: &DeviceKey, stanza: Node) {
    if world.is_companion(to) {
        world.deliver(to, stanza);
    } else {
        phone::receive(world, to, &stanza);
    }
}

/// A `message` from a logged-in client.
pub(crate) fn client_message(world: &mut World, conn: u64, sender: &DeviceKey, node: &Node) {
    let (Some(id), Some(to)) = (node.str_attr("id").map(str::to_owned), jid_attr(node, "to"))
    else {
        tracing::warn!(conn, %node, "message without id or to");
        world.emit(SimEvent::StanzaRejected {
            connection: conn,
            reason: "message without id or to".to_owned(),
        });
        let ack = Node::new("ack")
            .attr("class", "message")
            .attr("id", node.str_attr("id").unwrap_or_default())
            .attr("from", server_jid())
            .attr("error", "400");
        world.command(conn, ConnCommand::Ack(ack));
        return;
    };
    let now = world.now();
    if world.repeated_message(sender, node) {
        // A resend after a lost ack: acknowledge it again, deliver nothing.
        tracing::info!(conn, %id, "repeated message acknowledged, not delivered again");
        let ack = Node::new("ack")
            .attr("class", "message")
            .attr("id", id.as_str())
            .attr("from", to)
            .attr("t", now);
        world.command(conn, ConnCommand::Ack(ack));
        return;
    }
    let kind = node.str_attr("type").unwrap_or("text").to_owned();
    let device_identity = node
        .child("device-identity")
        .and_then(Node::content_bytes)
        .map(<[u8]>::to_vec);
    let direct: Vec<Node> = node.children_by_tag("enc").cloned().collect();
    let mut pairwise: Vec<(DeviceKey, Vec<Node>)> = Vec::new();
    if let Some(participants) = node.child("participants") {
        for target in participants.children_by_tag("to") {
            let Some(device) = jid_attr(target, "jid").and_then(|j| world.resolve(&j)) else {
                tracing::debug!(conn, to = ?target.str_attr("jid"), "copy for an unknown device dropped");
                continue;
            };
            let encs: Vec<Node> = target.children_by_tag("enc").cloned().collect();
            match pairwise.iter_mut().find(|(d, _)| *d == device) {
                Some((_, existing)) => existing.extend(encs),
                None => pairwise.push((device, encs)),
            }
        }
    }

    let mut ack = Node::new("ack")
        .attr("class", "message")
        .attr("id", id.as_str())
        .attr("from", to.clone())
        .attr("t", now);
    let mut deliveries: Vec<(DeviceKey, Node)> = Vec::new();
    if to.is_group() {
        match world.groups.get(to.user()).cloned() {
            Some(group) if group.participants.contains(&sender.phone) => {
                for phone in &group.participants {
                    for device in world.devices_of(phone) {
                        if device == *sender {
                            continue;
                        }
                        let mut encs: Vec<Node> = pairwise
                            .iter()
                            .find(|(d, _)| *d == device)
                            .map(|(_, e)| e.clone())
                            .unwrap_or_default();
                        encs.extend(direct.iter().cloned());
                        if encs.is_empty() {
                            continue;
                        }
                        let stanza = incoming_stanza(
                            world,
                            Copy {
                                sender,
                                id: &id,
                                kind: &kind,
                                t: now,
                                group: Some(&to),
                                recipient: None,
                                encs,
                                device_identity: device_identity.as_deref(),
                            },
                        );
                        deliveries.push((device, stanza));
                    }
                }
            }
            Some(_) => ack = ack.attr("error", "403"),
            None => ack = ack.attr("error", "404"),
        }
    } else if let Some(chat_phone) = world.account_phone(&to) {
        let chat = Jid::pn(chat_phone.as_str());
        let explicit = jid_attr(node, "recipient");
        let mut copies = pairwise;
        if copies.is_empty() && !direct.is_empty() {
            // A resend to one device (after a retry receipt), or a peer message to our
            // own phone.
            let device = if to.device() != 0 {
                world.resolve(&to)
            } else if chat_phone == sender.phone {
                Some(DeviceKey::new(chat_phone.clone(), 0))
            } else {
                world.resolve(&to)
            };
            if let Some(device) = device {
                copies.push((device, direct.clone()));
            }
        }
        for (device, encs) in copies {
            if device == *sender || encs.is_empty() {
                continue;
            }
            let recipient = if device.phone == sender.phone && chat_phone != sender.phone {
                Some(chat.clone())
            } else {
                explicit.as_ref().map(Jid::to_non_ad)
            };
            let stanza = incoming_stanza(
                world,
                Copy {
                    sender,
                    id: &id,
                    kind: &kind,
                    t: now,
                    group: None,
                    recipient: recipient.as_ref(),
                    encs,
                    device_identity: device_identity.as_deref(),
                },
            );
            deliveries.push((device, stanza));
        }
    } else {
        ack = ack.attr("error", "404");
    }
    world.command(conn, ConnCommand::Ack(ack));
    world.remember_sender(&id, sender);
    world.emit(SimEvent::MessageFromClient {
        from: sender.pn_jid().to_string(),
        to: to.to_string(),
        id: id.clone(),
        copies: deliveries.len(),
    });
    for (device, stanza) in deliveries {
        hand_over(world, &device, stanza);
    }
}

/// A `receipt` from a logged-in client.
pub(crate) fn client_receipt(world: &mut World, conn: u64, from: &DeviceKey, node: &Node) {
    let id = node.str_attr("id").unwrap_or_default().to_owned();
    let kind = node.str_attr("type").unwrap_or_default().to_owned();
    let to = jid_attr(node, "to");
    let participant = jid_attr(node, "participant");
    let ack = Node::new("ack")
        .attr("class", "receipt")
        .attr("id", id.as_str())
        .attr("from", to.clone().unwrap_or_else(server_jid))
        .attr("type", kind.as_str());
    world.command(conn, ConnCommand::Ack(ack));

    let mut ids = vec![id.clone()];
    if let Some(list) = node.child("list") {
        ids.extend(
            list.children_by_tag("item")
                .filter_map(|i| i.str_attr("id").map(str::to_owned)),
        );
    }
    // Any receipt (delivery, read, retry) tells us the stanza arrived.
    for id in &ids {
        world.acknowledge(from, "message", id, to.as_ref(), participant.as_ref());
    }
    if kind == "read-self" || kind == "played-self" {
        return;
    }
    // Who sent the message: the participant in groups, the chat otherwise.
    let Some(owner) = participant
        .as_ref()
        .or(to.as_ref())
        .and_then(|j| world.account_phone(j))
    else {
        return;
    };
    for id in ids {
        let sim_sender = world
            .accounts
            .get(&owner)
            .and_then(|a| a.sent.get(&id))
            .map(|s| DeviceKey::new(owner.clone(), s.from_device));
        match sim_sender {
            Some(sender) => {
                let info = ReceiptInfo {
                    id: id.clone(),
                    from: from.pn_jid().to_string(),
                    kind: if kind.is_empty() {
                        "delivery".to_owned()
                    } else {
                        kind.clone()
                    },
                };
                if let Some(account) = world.accounts.get_mut(&owner) {
                    account.receipts.push(info.clone());
                }
                world.emit(SimEvent::Receipt(info));
                if kind == "retry" {
                    phone::handle_retry(world, &sender, from, node);
                }
            }
            None => forward_receipt(world, from, &owner, &id, &kind, to.as_ref(), node),
        }
    }
}

/// Forwards a receipt to the linked client that sent the message.
fn forward_receipt(
    world: &mut World,
    from: &DeviceKey,
    owner: &str,
    id: &str,
    kind: &str,
    to: Option<&Jid>,
    original: &Node,
) {
    let targets: Vec<DeviceKey> = match world.client_sent.get(id) {
        Some(sender) if sender.phone == owner => vec![sender.clone()],
        _ => world
            .devices_of(owner)
            .into_iter()
            .filter(|d| world.is_companion(d))
            .collect(),
    };
    let now = world.now();
    let group = to.filter(|j| j.is_group());
    let mut receipt = Node::new("receipt").attr("id", id).attr("t", now);
    receipt = match group {
        Some(group) => receipt
            .attr("from", group.clone())
            .attr("participant", from.pn_jid()),
        None => receipt.attr("from", from.pn_jid()),
    };
    if !kind.is_empty() {
        receipt = receipt.attr("type", kind);
    }
    if kind == "retry" {
        receipt = receipt.children(original.child_nodes().to_vec());
    }
    for target in targets {
        if target != *from {
            world.deliver(&target, receipt.clone());
        }
    }
}
