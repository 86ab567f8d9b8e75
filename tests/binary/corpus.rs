//! The shared stanza corpus (tests/data/stanza_corpus.txt): realistic stanzas for the
//! benchmarks and for side-by-side runs with Baileys' codec (tests/interop).
//!
//! The file is generated from `build()` below; regenerate it after changing `build()` with
//! `REGENERATE_CORPUS=1 cargo test --test binary corpus`.

use wa_wasm::binary::{Jid, Node, decode, encode};

use crate::read_vectors;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stanza_corpus.txt");

/// Deterministic filler bytes (splitmix64), so the corpus is reproducible.
struct Filler(u64);

impl Filler {
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(len);
        out
    }

    fn message_id(&mut self) -> String {
        format!("3EB0{}", hex::encode_upper(self.bytes(9)))
    }

    fn number(&mut self, digits: usize) -> String {
        self.bytes(digits)
            .iter()
            .map(|b| char::from(b'0' + b % 10))
            .collect()
    }
}

fn enc(kind: &'static str, bytes: Vec<u8>) -> Node {
    Node::new("enc")
        .attr("v", "2")
        .attr("type", kind)
        .bytes(bytes)
}

/// The corpus: name and stanza.
pub fn build() -> Vec<(&'static str, Node)> {
    let mut r = Filler(0x5741_0603);
    let me = Jid::pn("5511900000000").with_device(7);
    let my_lid = Jid::lid("209876543210987");
    let peer = Jid::pn("5511987654321");
    let peer_lid = Jid::lid("188123456789012");
    let group = Jid::group("120363025246125888");
    let t = "1732272000";
    let mut corpus = Vec::new();

    let id = r.message_id();
    corpus.push((
        "message_out_1to1",
        Node::new("message")
            .attr("id", id)
            .attr("to", peer.clone())
            .attr("type", "text")
            .children([
                Node::new("participants").children([
                    Node::new("to")
                        .attr("jid", peer.clone())
                        .children([enc("pkmsg", r.bytes(226))]),
                    Node::new("to")
                        .attr("jid", peer.clone().with_device(3))
                        .children([enc("msg", r.bytes(186))]),
                    Node::new("to")
                        .attr("jid", me.to_non_ad())
                        .children([enc("msg", r.bytes(202))]),
                    Node::new("to")
                        .attr("jid", me.to_non_ad().with_device(2))
                        .children([enc("pkmsg", r.bytes(232))]),
                ]),
                Node::new("device-identity").bytes(r.bytes(186)),
            ]),
    ));

    let id = r.message_id();
    corpus.push((
        "message_in_1to1",
        Node::new("message")
            .attr("from", peer_lid.clone().with_device(3))
            .attr("type", "text")
            .attr("id", id)
            .attr("sender_pn", peer.clone())
            .attr("t", t)
            .attr("notify", "Ana María")
            .attr("addressing_mode", "lid")
            .children([enc("pkmsg", r.bytes(218))]),
    ));

    let id = r.message_id();
    let members: Vec<Jid> = (0..6).map(|_| Jid::lid(r.number(15))).collect();
    corpus.push((
        "message_out_group",
        Node::new("message")
            .attr("id", id)
            .attr("to", group.clone())
            .attr("type", "text")
            .attr("addressing_mode", "lid")
            .attr("phash", "2:kXw3rP0q")
            .children([
                Node::new("participants").children(members.iter().enumerate().map(
                    |(i, member)| {
                        let kind = if i % 3 == 0 { "pkmsg" } else { "msg" };
                        Node::new("to")
                            .attr("jid", member.clone().with_device(i as u16 % 3))
                            .children([enc(kind, r.bytes(170 + 10 * i))])
                    },
                )),
                enc("skmsg", r.bytes(140)),
                Node::new("device-identity").bytes(r.bytes(186)),
            ]),
    ));

    let id = r.message_id();
    corpus.push((
        "message_in_group",
        Node::new("message")
            .attr("from", group.clone())
            .attr("type", "text")
            .attr("id", id)
            .attr("participant", members[1].clone().with_device(2))
            .attr("participant_pn", peer.clone())
            .attr("t", t)
            .attr("notify", "João")
            .attr("addressing_mode", "lid")
            .children([enc("skmsg", r.bytes(124))]),
    ));

    let id = r.message_id();
    corpus.push((
        "receipt_delivered",
        Node::new("receipt")
            .attr("from", peer.clone().with_device(3))
            .attr("id", id)
            .attr("t", t),
    ));

    let ids: Vec<String> = (0..5).map(|_| r.message_id()).collect();
    corpus.push((
        "receipt_read_list",
        Node::new("receipt")
            .attr("from", peer_lid.clone())
            .attr("id", ids[0].clone())
            .attr("type", "read")
            .attr("t", t)
            .children([Node::new("list").children(
                ids[1..]
                    .iter()
                    .map(|id| Node::new("item").attr("id", id.clone())),
            )]),
    ));

    let id = r.message_id();
    corpus.push((
        "receipt_out_read",
        Node::new("receipt")
            .attr("id", id)
            .attr("to", group.clone())
            .attr("participant", members[2].clone())
            .attr("type", "read")
            .attr("t", t),
    ));

    let id = r.message_id();
    corpus.push((
        "ack_message_server",
        Node::new("ack")
            .attr("class", "message")
            .attr("from", peer.clone())
            .attr("id", id)
            .attr("t", t)
            .attr("phash", "2:kXw3rP0q"),
    ));

    let id = r.message_id();
    corpus.push((
        "ack_receipt_client",
        Node::new("ack")
            .attr("class", "receipt")
            .attr("id", id)
            .attr("to", peer.clone().with_device(3))
            .attr("type", "read"),
    ));

    corpus.push((
        "iq_ping",
        Node::new("iq")
            .attr("id", "41327.20931-7")
            .attr("to", Jid::server_jid())
            .attr("type", "get")
            .attr("xmlns", "w:p")
            .children([Node::new("ping")]),
    ));

    corpus.push((
        "iq_result",
        Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("id", "41327.20931-7")
            .attr("type", "result"),
    ));

    let users: Vec<Node> = (0..50)
        .map(|i| {
            let number = format!("55119{}", r.number(8));
            let devices = (0..=(i % 4)).map(|d| {
                let id = [0u16, 2, 5, 17][d];
                let device = Node::new("device").attr("id", id);
                if id == 0 {
                    device
                } else {
                    device.attr("key-index", d)
                }
            });
            let mut devices_node =
                Node::new("devices").children([Node::new("device-list").children(devices)]);
            if i % 4 != 0 {
                devices_node = devices_node.children([Node::new("key-index-list")
                    .attr("ts", "1731000000")
                    .bytes(r.bytes(120))]);
            }
            Node::new("user").attr("jid", Jid::pn(number)).children([
                devices_node,
                Node::new("lid").attr("val", Jid::lid(r.number(15))),
            ])
        })
        .collect();
    corpus.push((
        "usync_devices_result_50",
        Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("id", "41327.20931-9")
            .attr("type", "result")
            .children([Node::new("usync")
                .attr("sid", "41327.20931-8")
                .attr("index", "0")
                .attr("last", "true")
                .attr("mode", "query")
                .attr("context", "message")
                .children([
                    Node::new("result").children([Node::new("devices"), Node::new("lid")]),
                    Node::new("list").children(users),
                ])]),
    ));

    corpus.push((
        "usync_devices_query",
        Node::new("iq")
            .attr("id", "41327.20931-10")
            .attr("to", Jid::server_jid())
            .attr("type", "get")
            .attr("xmlns", "usync")
            .children([Node::new("usync")
                .attr("sid", "41327.20931-11")
                .attr("mode", "query")
                .attr("last", "true")
                .attr("index", "0")
                .attr("context", "message")
                .children([
                    Node::new("query")
                        .children([Node::new("devices").attr("version", "2"), Node::new("lid")]),
                    Node::new("list").children([
                        Node::new("user").attr("jid", peer.clone()),
                        Node::new("user").attr("jid", me.to_non_ad()),
                    ]),
                ])]),
    ));

    let keys: Vec<Node> = (1u32..=50)
        .map(|id| {
            Node::new("key").children([
                Node::new("id").bytes(id.to_be_bytes()[1..].to_vec()),
                Node::new("value").bytes(r.bytes(32)),
            ])
        })
        .collect();
    corpus.push((
        "prekey_upload_50",
        Node::new("iq")
            .attr("id", "41327.20931-12")
            .attr("to", Jid::server_jid())
            .attr("type", "set")
            .attr("xmlns", "encrypt")
            .children([
                Node::new("registration").bytes(vec![0, 0, 0x30, 0x39]),
                Node::new("type").bytes(vec![5]),
                Node::new("identity").bytes(r.bytes(32)),
                Node::new("list").children(keys),
                Node::new("skey").children([
                    Node::new("id").bytes(vec![0, 0, 1]),
                    Node::new("value").bytes(r.bytes(32)),
                    Node::new("signature").bytes(r.bytes(64)),
                ]),
            ]),
    ));

    corpus.push((
        "success",
        Node::new("success")
            .attr("t", t)
            .attr("props", "26471")
            .attr("abprops", "89")
            .attr("location", "gru")
            .attr("lid", my_lid.clone())
            .attr("creation", "1700000000")
            .attr(
                "companion_enc_static",
                "kC9pZ0uJr1mS6VfH2nQxT3yLb4EaGw8D5oIcUeRjKhM=",
            ),
    ));

    corpus.push((
        "pair_device_6_refs",
        Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("type", "set")
            .attr("id", "2837463512")
            .attr("xmlns", "md")
            .children([Node::new("pair-device").children((0..6).map(|_| {
                let reference = format!("2@{}", hex::encode(r.bytes(40)));
                Node::new("ref").bytes(reference.into_bytes())
            }))]),
    ));

    corpus.push((
        "pair_success",
        Node::new("iq")
            .attr("from", Jid::server_jid())
            .attr("type", "result")
            .attr("id", "2837463513")
            .attr("t", t)
            .children([Node::new("pair-success").children([
                Node::new("device-identity").bytes(r.bytes(236)),
                Node::new("device")
                    .attr("jid", me.clone())
                    .attr("lid", my_lid.clone().with_device(7)),
                Node::new("platform").attr("name", "android"),
                Node::new("biz").attr("name", "Hotel Miraflores"),
            ])]),
    ));

    corpus.push((
        "notification_encrypt_count",
        Node::new("notification")
            .attr("from", Jid::server_jid())
            .attr("type", "encrypt")
            .attr("id", "2841927491")
            .attr("t", t)
            .children([Node::new("count").attr("value", "4")]),
    ));

    corpus.push((
        "notification_devices",
        Node::new("notification")
            .attr("from", peer.clone())
            .attr("type", "devices")
            .attr("id", "3984712")
            .attr("t", t)
            .children(
                [Node::new("add").attr("device_hash", "2:Ab3dE9x").children([
                    Node::new("device")
                        .attr("jid", peer.clone().with_device(4))
                        .attr("key-index", "3"),
                    Node::new("key-index-list").attr("ts", t).bytes(r.bytes(96)),
                ])],
            ),
    ));

    corpus.push((
        "notification_group_add",
        Node::new("notification")
            .attr("from", group.clone())
            .attr("type", "w:gp2")
            .attr("id", "1198237")
            .attr("participant", peer_lid.clone())
            .attr("t", t)
            .attr("addressing_mode", "lid")
            .children([Node::new("add").attr("reason", "invite").children(
                members[..3]
                    .iter()
                    .map(|m| Node::new("participant").attr("jid", m.clone())),
            )]),
    ));

    corpus.push((
        "presence_available",
        Node::new("presence")
            .attr("type", "available")
            .attr("name", "Recepción Hotel"),
    ));

    corpus.push((
        "chatstate_composing",
        Node::new("chatstate")
            .attr("from", peer.clone())
            .children([Node::new("composing")]),
    ));

    corpus.push((
        "stream_error_515",
        Node::new("stream:error").attr("code", "515"),
    ));

    corpus.push((
        "ib_offline",
        Node::new("ib")
            .attr("from", Jid::server_jid())
            .children([Node::new("offline").attr("count", "12")]),
    ));

    corpus
}

fn render(corpus: &[(&str, Node)]) -> String {
    let mut text = String::from(
        "# Realistic WABinary stanzas (no frame flag byte), one per line as `name hex`.\n\
         # Generated by tests/binary/corpus.rs (`REGENERATE_CORPUS=1 cargo test --test binary corpus`);\n\
         # shared by benches/binary.rs and tests/interop/baileys_corpus.mjs.\n",
    );
    for (name, node) in corpus {
        text.push_str(&format!("{name} {}\n", hex::encode(encode(node).unwrap())));
    }
    text
}

#[test]
fn corpus_file_matches_its_generator() {
    let want = render(&build());
    if std::env::var_os("REGENERATE_CORPUS").is_some() {
        std::fs::write(PATH, &want).unwrap();
    }
    let have = std::fs::read_to_string(PATH).unwrap();
    assert!(
        have == want,
        "tests/data/stanza_corpus.txt is stale; see the module docs"
    );
}

#[test]
fn corpus_stanzas_decode_and_encode_back_to_the_same_bytes() {
    let text = std::fs::read_to_string(PATH).unwrap();
    let vectors = read_vectors(&text);
    let built = build();
    assert_eq!(vectors.len(), built.len());
    for ((name, bytes), (built_name, node)) in vectors.iter().zip(&built) {
        assert_eq!(name, built_name);
        let decoded = decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&decoded, node, "{name}");
        assert_eq!(&encode(&decoded).unwrap(), bytes, "{name}");
    }
}

#[test]
fn corpus_has_the_promised_shapes() {
    let built = build();
    let get = |name: &str| &built.iter().find(|(n, _)| *n == name).unwrap().1;
    let usync = get("usync_devices_result_50");
    let users = usync.child_path(&["usync", "list"]).unwrap();
    assert_eq!(users.children_by_tag("user").count(), 50);
    let devices: usize = users
        .child_nodes()
        .iter()
        .map(|u| {
            u.child_path(&["devices", "device-list"])
                .unwrap()
                .child_nodes()
                .len()
        })
        .sum();
    assert!(devices > 100, "{devices}");
    assert_eq!(
        get("prekey_upload_50")
            .required_child("list")
            .unwrap()
            .child_nodes()
            .len(),
        50
    );
    assert_eq!(
        get("pair_device_6_refs")
            .child("pair-device")
            .unwrap()
            .children_by_tag("ref")
            .count(),
        6
    );
    let out = get("message_out_1to1");
    let encs: Vec<&str> = out
        .child("participants")
        .unwrap()
        .child_nodes()
        .iter()
        .map(|to| to.child("enc").unwrap().str_attr("type").unwrap())
        .collect();
    assert_eq!(encs, ["pkmsg", "msg", "msg", "pkmsg"]);
    assert!(out.child("device-identity").is_some());
    let group = get("message_out_group");
    assert!(
        group
            .children_by_tag("enc")
            .any(|e| e.str_attr("type") == Some("skmsg"))
    );
    assert!(built.len() >= 20);
}
