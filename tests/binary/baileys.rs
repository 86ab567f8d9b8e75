//! Vectors encoded by Baileys' `encodeBinaryNode` (tests/interop/baileys_nodes.mjs), decoded
//! here and compared with structures written out by hand.

use base64::Engine;
use wa_wasm::binary::{Jid, Node, Server, encode, pack, unpack};

use crate::read_vectors;

const VECTORS: &str = include_str!("../data/baileys_nodes.txt");

/// Same deterministic filler as the script.
fn filler(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((seed * 131 + i * 71 + (i >> 3)) & 0xff) as u8)
        .collect()
}

fn enc(kind: &'static str, bytes: Vec<u8>) -> Node {
    Node::new("enc")
        .attr("v", "2")
        .attr("type", kind)
        .bytes(bytes)
}

fn to(jid: Jid, child: Node) -> Node {
    Node::new("to").attr("jid", jid).children([child])
}

/// The expected node for each vector, and whether our encoder writes exactly Baileys'
/// bytes for it (it does unless Baileys' own rules differ: empty attributes, `:0`
/// devices, string content, JID_PAIR for hosted JIDs).
fn expected(name: &str) -> (Node, bool) {
    let pn = || Jid::pn("5511987654321");
    let lid = |dev| Jid::lid("209876543210987").with_device(dev);
    match name {
        "ping_iq" => (
            Node::new("iq")
                .attr("id", "1.2-3")
                .attr("to", Jid::server_jid())
                .attr("type", "get")
                .attr("xmlns", "w:p")
                .children([Node::new("ping")]),
            true,
        ),
        "message_empty_attr" => (
            Node::new("message")
                .attr("id", "3EB0ABCDEF")
                .attr("to", Jid::pn("123"))
                .attr("x", "")
                .bytes(vec![1, 2, 3]),
            false,
        ),
        "message_pkmsg" => (
            Node::new("message")
                .attr("id", "3EB0C767D26A1D8E7BA5D2")
                .attr("to", pn())
                .attr("type", "text")
                .children([
                    Node::new("participants").children([
                        to(pn(), enc("pkmsg", filler(212, 1))),
                        to(pn().with_device(3), enc("msg", filler(180, 2))),
                        to(
                            Jid::pn("5511912345678").with_device(12),
                            enc("pkmsg", filler(220, 3)),
                        ),
                    ]),
                    Node::new("device-identity").bytes(filler(160, 4)),
                ]),
            true,
        ),
        "message_group_skmsg" => (
            Node::new("message")
                .attr("id", "3EB0AA00BB11CC22DD33EE")
                .attr("to", Jid::group("120363025246125888"))
                .attr("type", "text")
                .attr("addressing_mode", "lid")
                .attr("phash", "2:kXw3rP0")
                .children([
                    Node::new("participants").children([to(lid(2), enc("msg", filler(150, 5)))]),
                    enc("skmsg", filler(120, 6)),
                ]),
            true,
        ),
        "receipt_read" => (
            Node::new("receipt")
                .attr("id", "3EB0C767D26A1D8E7BA5D2")
                .attr("to", pn())
                .attr("type", "read")
                .attr("t", "1732272000")
                .children([Node::new("list").children([
                    Node::new("item").attr("id", "3EB0AA00BB11CC22DD33EE"),
                    Node::new("item").attr("id", "ABCDEF0123456789"),
                ])]),
            true,
        ),
        "receipt_peer" => (
            Node::new("receipt")
                .attr("id", "3A1B2C3D4E5F")
                .attr("to", pn().with_device(5))
                .attr("type", "peer_msg")
                .attr("category", "peer"),
            true,
        ),
        "ack_message" => (
            Node::new("ack")
                .attr("class", "message")
                .attr("id", "3EB0C767D26A1D8E7BA5D2")
                .attr("to", pn())
                .attr("from", Jid::pn("5511900000000").with_device(7))
                .attr("t", "1732272001"),
            true,
        ),
        "usync_query" => (
            Node::new("iq")
                .attr("id", "43210.5678-9")
                .attr("to", Jid::server_jid())
                .attr("type", "get")
                .attr("xmlns", "usync")
                .children([Node::new("usync")
                    .attr("sid", "43210.5678-8")
                    .attr("mode", "query")
                    .attr("last", "true")
                    .attr("index", "0")
                    .attr("context", "message")
                    .children([
                        Node::new("query").children([
                            Node::new("devices").attr("version", "2"),
                            Node::new("lid"),
                        ]),
                        Node::new("list").children([
                            Node::new("user").attr("jid", pn()),
                            Node::new("user").attr("jid", Jid::pn("5511900000000")),
                        ]),
                    ])]),
            true,
        ),
        "prekey_upload" => (
            Node::new("iq")
                .attr("id", "1.2-4")
                .attr("to", Jid::server_jid())
                .attr("type", "set")
                .attr("xmlns", "encrypt")
                .children([
                    Node::new("registration").bytes(vec![0, 0, 0x30, 0x39]),
                    Node::new("type").bytes(vec![5]),
                    Node::new("identity").bytes(filler(32, 7)),
                    Node::new("list").children((1..=3).map(|i| {
                        Node::new("key").children([
                            Node::new("id").bytes(vec![0, 0, i as u8]),
                            Node::new("value").bytes(filler(32, 10 + i)),
                        ])
                    })),
                    Node::new("skey").children([
                        Node::new("id").bytes(vec![0, 0, 1]),
                        Node::new("value").bytes(filler(32, 20)),
                        Node::new("signature").bytes(filler(64, 21)),
                    ]),
                ]),
            true,
        ),
        "pair_device" => (
            Node::new("iq")
                .attr("from", Jid::server_jid())
                .attr("type", "set")
                .attr("id", "1234567890")
                .attr("xmlns", "md")
                .children([Node::new("pair-device").children((1..=6).map(|i| {
                    let reference = base64::engine::general_purpose::STANDARD.encode(filler(30, i));
                    Node::new("ref").bytes(format!("2@{reference}").into_bytes())
                }))]),
            true,
        ),
        "success" => (
            Node::new("success")
                .attr("t", "1732272000")
                .attr("props", "1234")
                .attr("abprops", "56")
                .attr("location", "gru")
                .attr("lid", Jid::lid("209876543210987"))
                .attr("creation", "1700000000")
                .attr("display_name", ""),
            false,
        ),
        "stream_error_conflict" => (
            Node::new("stream:error")
                .attr("code", "440")
                .children([Node::new("conflict").attr("type", "replaced")]),
            true,
        ),
        "notification_count" => (
            Node::new("notification")
                .attr("from", Jid::server_jid())
                .attr("type", "encrypt")
                .attr("id", "2841927491")
                .attr("t", "1732272002")
                .children([Node::new("count").attr("value", "3")]),
            true,
        ),
        "string_contents" => (
            Node::new("strings").children([
                Node::new("text").bytes("Tu reserva está confirmada ✓".as_bytes()),
                Node::new("digits").bytes(&b"5511987654321"[..]),
                Node::new("token").bytes(&b"s.whatsapp.net"[..]),
                Node::new("jid").bytes(&b"5511987654321:3@s.whatsapp.net"[..]),
                Node::new("empty").bytes(Vec::new()),
            ]),
            false,
        ),
        "agent_forms" => (
            // Baileys reads `_N` as a domain type: 1 = LID, 128 = hosted; others are agents.
            Node::new("user")
                .attr("a", Jid::lid("5511987654321").with_device(2))
                .attr(
                    "b",
                    Jid::new("5511987654321", Server::Hosted).with_device(1),
                )
                .attr("c", Jid::with_agent("5511987654321", 7, 3).unwrap())
                .attr("d", Jid::lid("123")),
            false,
        ),
        "hosted_forms" => (
            Node::new("user")
                .attr(
                    "a",
                    Jid::new("5511987654321", Server::Hosted).with_device(5),
                )
                .attr("b", Jid::new("209876543210987", Server::HostedLid))
                .attr(
                    "c",
                    Jid::new("209876543210987", Server::HostedLid).with_device(1),
                )
                .attr("d", Jid::new("5511987654321", Server::Hosted)),
            false,
        ),
        "email_like" => (
            // Baileys writes every string containing '@' as a JID.
            Node::new("contact")
                .attr(
                    "email",
                    Jid::new("support", Server::Other("example.org".into())),
                )
                .attr("name", "Ana María"),
            true,
        ),
        "large_lists" => (
            Node::new("list").attr("digits", "1".repeat(130)).children(
                std::iter::once(Node::new("blob").bytes(filler(300, 9)))
                    .chain((0..300).map(|i: u32| Node::new("item").attr("id", i))),
            ),
            true,
        ),
        "double_tokens" => (
            Node::new("iq")
                .attr("xmlns", "w:sync:app:state")
                .attr("type", "set")
                .attr("id", "7.7-7")
                .children([
                    Node::new("sync").children([Node::new("collection")
                        .attr("name", "regular_high")
                        .attr("version", "12")
                        .attr("return_snapshot", "false")]),
                    Node::new("passive"),
                ]),
            true,
        ),
        other => panic!("no expectation written for vector {other}"),
    }
}

#[test]
fn every_baileys_vector_decodes_to_the_expected_node() {
    let vectors = read_vectors(VECTORS);
    assert_eq!(
        vectors.len(),
        19,
        "vector file and expectations out of step"
    );
    let mut identical = 0;
    for (name, payload) in vectors {
        let node = unpack(&payload).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (want, same_bytes) = expected(name);
        assert_eq!(node, want, "{name}");
        if same_bytes {
            assert_eq!(
                pack(&want).unwrap(),
                payload,
                "{name}: our bytes differ from Baileys'"
            );
            identical += 1;
        } else {
            assert_ne!(
                pack(&want).unwrap(),
                payload,
                "{name}: expected a different encoding"
            );
            // Our encoding of the decoded node still decodes to the same node.
            let ours = encode(&node).unwrap();
            let mut again = wa_wasm::binary::decode(&ours).unwrap();
            let mut without_empty = node.clone();
            without_empty.attrs.retain(|_, v| !v.is_empty());
            again.attrs.retain(|_, v| !v.is_empty());
            assert_eq!(again, without_empty, "{name}");
        }
    }
    assert_eq!(identical, 14);
}

#[test]
fn typed_reading_of_a_baileys_stanza() {
    let vectors = read_vectors(VECTORS);
    let (_, payload) = vectors
        .iter()
        .find(|(name, _)| *name == "message_pkmsg")
        .unwrap();
    let message = unpack(payload).unwrap();
    assert_eq!(
        message.required_attr("id").unwrap(),
        "3EB0C767D26A1D8E7BA5D2"
    );
    assert_eq!(
        message.required_jid("to").unwrap(),
        Jid::pn("5511987654321")
    );
    let participants = message.required_child("participants").unwrap();
    let devices: Vec<u16> = participants
        .children_by_tag("to")
        .map(|to| to.required_jid("jid").unwrap().device())
        .collect();
    assert_eq!(devices, [0, 3, 12]);
    let first_enc = participants.child_path(&["to", "enc"]).unwrap();
    assert_eq!(first_enc.str_attr("type"), Some("pkmsg"));
    assert_eq!(first_enc.required_bytes().unwrap().len(), 212);
    assert_eq!(
        message.child_bytes("device-identity").unwrap(),
        filler(160, 4)
    );
}
