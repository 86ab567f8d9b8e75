//! Property tests: nodes and JIDs survive encoding (and JIDs their text form), encoding is
//! canonical, and arbitrary bytes never panic the decoder.

use proptest::prelude::*;
use wa_wasm::binary::{Content, Jid, Node, Server, Value, decode, encode, pack, unpack};

/// Strings that are tokens (single- and double-byte), to hit the token paths.
const TOKENS: &[&str] = &[
    "iq",
    "s.whatsapp.net",
    "message",
    "w:p",
    "0",
    "1",
    "jid",
    "lid",
    "participant",
    "type",
    "id",
    "to",
    "t",
    "enc",
    "pkmsg",
    "msg",
    "skmsg",
    "g.us",
    "read-self",
    "1961",
    "passive",
    "-",
    ".",
    "...",
    "w:sync:app:state",
    "screen_height",
    "e",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(TOKENS).prop_map(String::from),
        "[0-9.-]{0,130}",
        "[0-9A-F]{0,130}",
        "[a-z_:]{1,12}",
        "\\PC{0,24}",
        any::<String>(),
    ]
}

fn non_empty_text() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |s| !s.is_empty())
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,20}",
        "[a-z][a-z0-9]{0,8}",
        "[0-9]{5,12}-[0-9]{5,10}",
        Just(String::new()),
    ]
}

fn jid() -> impl Strategy<Value = Jid> {
    let agent = prop_oneof![2u8..=127, 130u8..=255];
    prop_oneof![
        (user(), 0u16..=255).prop_map(|(u, d)| Jid::pn(u).with_device(d)),
        (user(), agent, 0u16..=255).prop_map(|(u, a, d)| Jid::with_agent(u, a, d).unwrap()),
        (user(), 0u16..=255).prop_map(|(u, d)| Jid::lid(u).with_device(d)),
        (user(), 0u16..=255, any::<bool>()).prop_map(|(u, d, pn)| {
            Jid::new(
                u,
                if pn {
                    Server::Hosted
                } else {
                    Server::HostedLid
                },
            )
            .with_device(d)
        }),
        (
            user(),
            prop::sample::select(vec![
                Server::Group,
                Server::Broadcast,
                Server::Newsletter,
                Server::Bot,
                Server::LegacyUser,
            ])
        )
            .prop_map(|(u, s)| Jid::new(u, s)),
        (user(), any::<u16>()).prop_map(|(u, d)| Jid::messenger(u, d)),
        (any::<u16>(), user(), any::<u16>()).prop_map(|(i, u, d)| Jid::interop(i, u, d)),
        ("[a-z]{1,8}\\.[a-z]{2,3}", user()).prop_map(|(s, u)| Jid::new(u, Server::from(s))),
        Just(Jid::server_jid()),
        Just(Jid::status_broadcast()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => text().prop_map(Value::from),
        2 => jid().prop_map(Value::Jid),
    ]
}

fn leaf() -> impl Strategy<Value = Node> {
    let content = prop_oneof![
        Just(Content::None),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Content::Bytes),
        prop::collection::vec(any::<u8>(), 250..300).prop_map(Content::Bytes),
        Just(Content::Nodes(vec![])),
    ];
    (
        non_empty_text(),
        prop::collection::vec((non_empty_text(), value()), 0..6),
        content,
    )
        .prop_map(|(tag, attrs, content)| {
            attrs
                .into_iter()
                .fold(Node::new(tag), |node, (k, v)| node.attr(k, v))
                .content(content)
        })
}

fn node() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        (leaf(), prop::collection::vec(inner, 0..8))
            .prop_map(|(node, children)| node.content(Content::Nodes(children)))
    })
}

/// What a node looks like after encoding: attributes with empty values are dropped.
fn without_empty_attrs(mut node: Node) -> Node {
    node.attrs.retain(|_, v| !v.is_empty());
    if let Content::Nodes(children) = node.content {
        node.content = Content::Nodes(children.into_iter().map(without_empty_attrs).collect());
    }
    node
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn nodes_round_trip_and_encode_canonically(node in node()) {
        let bytes = encode(&node).unwrap();
        let decoded = decode(&bytes).unwrap();
        prop_assert_eq!(encode(&decoded).unwrap(), bytes);
        prop_assert_eq!(decoded, without_empty_attrs(node.clone()));
        let text = node.to_string();
        prop_assert!(text.starts_with('<'));
        let _ = format!("{node:#}");
    }

    #[test]
    fn frames_round_trip_plain_and_compressed(node in node()) {
        let payload = pack(&node).unwrap();
        prop_assert_eq!(payload[0], 0);
        let expected = without_empty_attrs(node);
        prop_assert_eq!(&unpack(&payload).unwrap(), &expected);
        let mut compressed = vec![2];
        compressed.extend(miniz_oxide::deflate::compress_to_vec_zlib(&payload[1..], 6));
        prop_assert_eq!(&unpack(&compressed).unwrap(), &expected);
    }

    #[test]
    fn jids_round_trip_as_text(jid in jid()) {
        let text = jid.to_string();
        prop_assert_eq!(text.parse::<Jid>().unwrap(), jid);
    }

    #[test]
    fn jids_round_trip_as_binary(jid in jid()) {
        let node = Node::new("iq").attr("jid", jid.clone()).attr("x", "y");
        let decoded = decode(&encode(&node).unwrap()).unwrap();
        prop_assert_eq!(decoded.jid_attr("jid"), Some(&jid));
    }

    #[test]
    fn jid_strings_stay_strings(jid in jid()) {
        let text = jid.to_string();
        let node = Node::new("iq").attr("jid", text.clone());
        let decoded = decode(&encode(&node).unwrap()).unwrap();
        prop_assert_eq!(decoded.str_attr("jid"), Some(text.as_str()));
        prop_assert_eq!(decoded.required_jid("jid").unwrap(), jid);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(node) = decode(&bytes) {
            let again = decode(&encode(&node).unwrap()).unwrap();
            prop_assert_eq!(again, without_empty_attrs(node.clone()));
            let _ = node.to_string();
        }
        let _ = unpack(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(node in node(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&node).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = decode(&bytes) {
            let again = decode(&encode(&decoded).unwrap()).unwrap();
            prop_assert_eq!(again, without_empty_attrs(decoded));
        }
    }
}
