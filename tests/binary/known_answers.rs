//! Known answers written out by hand: the worked examples of the protocol notes and
//! whatsmeow-style encodings (Baileys-style ones are in `baileys.rs`).

use wa_wasm::binary::{Content, DICT_VERSION, Jid, Node, Server, decode, encode, pack, unpack};

use crate::h;

/// protocol-facts §4.7, first example, as Baileys writes it (flag byte first).
const PING: &str = "00 F8 0A 19 08 FF 83 1B 2A 3F 11 FA 00 03 04 29 16 57 F8 01 F8 01 56";

fn ping() -> Node {
    Node::new("iq")
        .attr("id", "1.2-3")
        .attr("to", Jid::server_jid())
        .attr("type", "get")
        .attr("xmlns", "w:p")
        .children([Node::new("ping")])
}

#[test]
fn dictionary_version() {
    assert_eq!(DICT_VERSION, 3);
}

#[test]
fn worked_example_ping_both_ways() {
    let node = unpack(&h(PING)).unwrap();
    assert_eq!(node.tag, "iq");
    assert_eq!(node.str_attr("id"), Some("1.2-3"));
    assert_eq!(node.jid_attr("to"), Some(&Jid::server_jid()));
    assert_eq!(node.str_attr("type"), Some("get"));
    assert_eq!(node.str_attr("xmlns"), Some("w:p"));
    assert_eq!(node.child_nodes().len(), 1);
    assert_eq!(node.child("ping"), Some(&Node::new("ping")));
    assert_eq!(node, ping());
    assert_eq!(pack(&ping()).unwrap(), h(PING));
    assert_eq!(encode(&ping()).unwrap(), h(PING)[1..]);
}

#[test]
fn worked_example_message_as_baileys_and_as_whatsmeow_write_it() {
    let baileys =
        "00 F8 08 13 08 FB 05 3E B0 AB CD EF 11 F7 00 00 FF 82 12 3F FC 01 78 FC 00 FC 03 01 02 03";
    let node = unpack(&h(baileys)).unwrap();
    assert_eq!(node.tag, "message");
    assert_eq!(node.str_attr("id"), Some("3EB0ABCDEF"));
    assert_eq!(node.jid_attr("to"), Some(&Jid::pn("123")));
    assert_eq!(node.str_attr("x"), Some(""));
    assert_eq!(node.content, Content::Bytes(vec![1, 2, 3]));
    // whatsmeow's rules: the empty attribute is dropped (list of 6, not 8) and a JID with
    // device 0 is a JID_PAIR: FA, nibble "123", token 03 (s.whatsapp.net).
    let whatsmeow = "F8 06 13 08 FB 05 3E B0 AB CD EF 11 FA FF 82 12 3F 03 FC 03 01 02 03";
    assert_eq!(encode(&node).unwrap(), h(whatsmeow));
    let mut without_x = node.clone();
    without_x.attrs.remove("x");
    assert_eq!(decode(&h(whatsmeow)).unwrap(), without_x);
}

/// `<iq jid=…/>` around a JID encoding: list of 3, `iq` (19), `jid` (0C).
fn jid_attr(jid_hex: &str) -> Jid {
    let node = decode(&h(&format!("F8 03 19 0C {jid_hex}"))).unwrap();
    node.jid_attr("jid").cloned().unwrap()
}

#[test]
fn whatsmeow_style_jids() {
    // JID_PAIR for device 0, LIST_EMPTY for the empty user
    assert_eq!(jid_attr("FA FF 82 12 3F 03"), Jid::pn("123"));
    assert_eq!(jid_attr("FA 00 03"), Jid::server_jid());
    assert_eq!(jid_attr("FA 00 1C"), Jid::new("", Server::Group));
    // AD_JID with device > 0 on s.whatsapp.net / lid; always on hosted
    assert_eq!(
        jid_attr("F7 00 05 FF 82 12 3F"),
        Jid::pn("123").with_device(5)
    );
    assert_eq!(
        jid_attr("F7 01 05 FF 82 12 3F"),
        Jid::lid("123").with_device(5)
    );
    assert_eq!(
        jid_attr("F7 80 00 FF 82 12 3F"),
        Jid::new("123", Server::Hosted)
    );
    assert_eq!(
        jid_attr("F7 81 63 FF 82 12 3F"),
        Jid::new("123", Server::HostedLid).with_device(99)
    );
    // AD_JID whose user is whatsmeow's empty string (NIBBLE_8, length 0)
    assert_eq!(jid_attr("F7 00 02 FF 00"), Jid::pn("").with_device(2));
    // FB_JID: user, 2-byte device, server "msgr" (token CC)
    assert_eq!(
        jid_attr("F6 FF 82 12 3F 01 02 CC"),
        Jid::messenger("123", 258)
    );
    // INTEROP_JID: user, device, integrator, raw "interop"
    assert_eq!(
        jid_attr("F5 FF 82 12 3F 00 03 00 2A FC 07 69 6E 74 65 72 6F 70"),
        Jid::interop(42, "123", 3)
    );
    // and our encoder writes the same bytes for each
    for (hex, jid) in [
        ("FA FF 82 12 3F 03", Jid::pn("123")),
        ("F7 01 05 FF 82 12 3F", Jid::lid("123").with_device(5)),
        ("F7 80 00 FF 82 12 3F", Jid::new("123", Server::Hosted)),
        ("F6 FF 82 12 3F 01 02 CC", Jid::messenger("123", 258)),
        (
            "F5 FF 82 12 3F 00 03 00 2A FC 07 69 6E 74 65 72 6F 70",
            Jid::interop(42, "123", 3),
        ),
    ] {
        let bytes = encode(&Node::new("iq").attr("jid", jid)).unwrap();
        assert_eq!(bytes, h(&format!("F8 03 19 0C {hex}")));
    }
}

#[test]
fn whatsmeow_style_strings_and_content() {
    // t=1732272000 as whatsmeow writes an integer attribute: nibble-packed digits;
    // content "" as whatsmeow writes an empty string: NIBBLE_8 of length 0.
    let node = decode(&h("F8 04 19 1A FF 05 17 32 27 20 00 FF 00")).unwrap();
    assert_eq!(node.required_u64("t").unwrap(), 1_732_272_000);
    assert_eq!(node.content, Content::Bytes(vec![]));
    // an attribute value written as whatsmeow's empty string still reads as ""
    let node = decode(&h("F8 03 19 08 FF 00")).unwrap();
    assert_eq!(node.str_attr("id"), Some(""));
    // JID content (whatsmeow writes a JID value in content position as a JID)
    let node = decode(&h("F8 02 19 F7 00 05 FF 82 12 3F")).unwrap();
    assert_eq!(node.content_str(), Some("123:5@s.whatsapp.net"));
    // a token as content
    let node = decode(&h("F8 02 19 56")).unwrap();
    assert_eq!(node.content_str(), Some("ping"));
    // LIST_16 for a small list and BINARY_32 for a short blob are valid, if unusual
    let node = decode(&h("F9 00 02 19 FE 00 00 00 02 AB CD")).unwrap();
    assert_eq!(node, Node::new("iq").bytes(vec![0xab, 0xcd]));
    let node = decode(&h("F8 02 19 F9 00 01 F8 01 56")).unwrap();
    assert_eq!(node, Node::new("iq").children([Node::new("ping")]));
    // an empty child list stays an empty list
    let node = decode(&h("F8 02 19 00")).unwrap();
    assert_eq!(node.content, Content::Nodes(vec![]));
    assert_eq!(encode(&node).unwrap(), h("F8 02 19 00"));
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn compressed_frame_with_a_hand_built_zlib_stream() {
    // zlib header 78 01, one final stored block (01, LEN, NLEN little-endian), Adler-32.
    let body = h(&PING[3..]);
    let len = body.len() as u16;
    let mut payload = vec![0x02, 0x78, 0x01, 0x01];
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(&(!len).to_le_bytes());
    payload.extend_from_slice(&body);
    payload.extend_from_slice(&adler32(&body).to_be_bytes());
    assert_eq!(unpack(&payload).unwrap(), ping());
}

#[test]
fn compressed_frame_from_a_real_compressor() {
    let body = encode(&ping()).unwrap();
    let mut payload = vec![0x02];
    payload.extend(miniz_oxide::deflate::compress_to_vec_zlib(&body, 9));
    assert_eq!(unpack(&payload).unwrap(), ping());
}
