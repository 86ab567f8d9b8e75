//! Bad input: every rejection is a specific `DecodeError`, never a panic.

use wa_wasm::binary::{DecodeError, MAX_DEPTH, MAX_INFLATED, Node, decode, encode, unpack};

use crate::{h, read_vectors};

use DecodeError::*;

fn end(offset: usize, expected: &'static str) -> DecodeError {
    UnexpectedEnd { offset, expected }
}

fn too_long(offset: usize, expected: &'static str, length: usize, remaining: usize) -> DecodeError {
    LengthExceedsInput {
        offset,
        expected,
        length,
        remaining,
    }
}

/// Named inputs (hex, spaces ignored) and the exact error each must produce.
fn corpus() -> Vec<(&'static str, &'static str, DecodeError)> {
    vec![
        ("empty input", "", end(0, "node list header")),
        (
            "trailing byte",
            "F8 01 19 00",
            TrailingBytes {
                offset: 3,
                remaining: 1,
            },
        ),
        ("LIST_EMPTY as node", "00", EmptyNode { offset: 0 }),
        ("LIST_8 of size 0", "F8 00", EmptyNode { offset: 0 }),
        ("LIST_16 of size 0", "F9 00 00", EmptyNode { offset: 0 }),
        (
            "no list header",
            "19",
            InvalidListTag {
                offset: 0,
                byte: 0x19,
            },
        ),
        (
            "child without list header",
            "F8 02 19 F8 01 19 19 19",
            InvalidListTag {
                offset: 5,
                byte: 0x19,
            },
        ),
        ("empty tag, BINARY_8", "F8 01 FC 00", EmptyTag { offset: 2 }),
        ("empty tag, NIBBLE_8", "F8 01 FF 00", EmptyTag { offset: 2 }),
        ("empty tag, LIST_EMPTY", "F8 01 00", EmptyTag { offset: 2 }),
        (
            "empty attribute key",
            "F8 03 19 00 55",
            EmptyAttributeKey { offset: 3 },
        ),
        (
            "duplicate attribute",
            "F8 05 19 08 55 08 45",
            DuplicateAttribute {
                offset: 0,
                key: "id".into(),
            },
        ),
        (
            "tag byte F0",
            "F8 01 F0",
            UnknownTag {
                offset: 2,
                byte: 0xf0,
                expected: "node tag",
            },
        ),
        (
            "tag byte F1",
            "F8 01 F1",
            UnknownTag {
                offset: 2,
                byte: 0xf1,
                expected: "node tag",
            },
        ),
        (
            "tag byte F4",
            "F8 01 F4",
            UnknownTag {
                offset: 2,
                byte: 0xf4,
                expected: "node tag",
            },
        ),
        (
            "F2 as value",
            "F8 03 19 08 F2",
            UnknownTag {
                offset: 4,
                byte: 0xf2,
                expected: "attribute value",
            },
        ),
        (
            "F3 as content",
            "F8 02 19 F3",
            UnknownTag {
                offset: 3,
                byte: 0xf3,
                expected: "content",
            },
        ),
        (
            "list size 255, 1 byte left",
            "F8 FF 19",
            too_long(0, "node list size", 255, 1),
        ),
        (
            "list size 65535, 1 byte left",
            "F9 FF FF 19",
            too_long(0, "node list size", 65535, 1),
        ),
        (
            "255 children, none there",
            "F8 02 19 F8 FF",
            too_long(3, "child list size", 255, 0),
        ),
        (
            "65535 children, one there",
            "F8 02 19 F9 FF FF F8 01 19",
            too_long(3, "child list size", 65535, 3),
        ),
        (
            "BINARY_8 too long",
            "F8 02 19 FC 05 01 02",
            too_long(3, "content bytes", 5, 2),
        ),
        (
            "BINARY_20 too long",
            "F8 02 19 FD 0F FF FF",
            too_long(3, "content bytes", 0xf_ffff, 0),
        ),
        (
            "BINARY_32 of 4 GiB",
            "F8 02 19 FE FF FF FF FF",
            too_long(3, "content bytes", 0xffff_ffff, 0),
        ),
        (
            "raw tag too long",
            "F8 01 FC 05 68",
            too_long(2, "node tag", 5, 1),
        ),
        (
            "packed tag too long",
            "F8 01 FF 05 12",
            too_long(3, "node tag", 5, 1),
        ),
        (
            "invalid UTF-8 tag",
            "F8 01 FC 02 C3 28",
            InvalidUtf8 {
                offset: 2,
                expected: "node tag",
            },
        ),
        (
            "surrogate in UTF-8",
            "F8 01 FC 03 ED A0 80",
            InvalidUtf8 {
                offset: 2,
                expected: "node tag",
            },
        ),
        (
            "invalid UTF-8 value",
            "F8 03 19 08 FC 01 FF",
            InvalidUtf8 {
                offset: 4,
                expected: "attribute value",
            },
        ),
        (
            "nibble 12",
            "F8 01 FF 01 C1",
            InvalidNibble {
                offset: 4,
                value: 12,
            },
        ),
        (
            "nibble 13 low",
            "F8 01 FF 01 1D",
            InvalidNibble {
                offset: 4,
                value: 13,
            },
        ),
        (
            "nibble 14 high in odd",
            "F8 01 FF 81 EF",
            InvalidNibble {
                offset: 4,
                value: 14,
            },
        ),
        (
            "padding inside even",
            "F8 01 FF 01 1F",
            InvalidNibble {
                offset: 4,
                value: 15,
            },
        ),
        (
            "padding first",
            "F8 01 FF 02 F1 12",
            InvalidNibble {
                offset: 4,
                value: 15,
            },
        ),
        (
            "odd packed of 0 bytes",
            "F8 01 FF 80",
            InvalidPackedLength { offset: 3 },
        ),
        (
            "odd hex of 0 bytes",
            "F8 01 FB 80",
            InvalidPackedLength { offset: 3 },
        ),
        (
            "JID as tag",
            "F8 01 FA 00 03",
            ExpectedString {
                offset: 2,
                expected: "node tag",
                found: "a JID",
            },
        ),
        (
            "JID as key",
            "F8 03 19 FA 00 03 04",
            ExpectedString {
                offset: 3,
                expected: "attribute key",
                found: "a JID",
            },
        ),
        (
            "JID as JID user",
            "F8 03 19 0C FA FA 00 03 03",
            ExpectedString {
                offset: 5,
                expected: "JID user",
                found: "a JID",
            },
        ),
        (
            "list as tag",
            "F8 01 F8 01 19",
            ExpectedString {
                offset: 2,
                expected: "node tag",
                found: "a list",
            },
        ),
        (
            "JID_PAIR empty server",
            "F8 03 19 0C FA 00 00",
            InvalidJid {
                offset: 4,
                reason: "empty server",
            },
        ),
        (
            "JID_PAIR raw empty server",
            "F8 03 19 0C FA FF 82 12 3F FC 00",
            InvalidJid {
                offset: 4,
                reason: "empty server",
            },
        ),
        (
            "FB_JID not msgr",
            "F8 03 19 0C F6 FF 01 98 00 01 03",
            InvalidJid {
                offset: 4,
                reason: "FB_JID server must be msgr",
            },
        ),
        (
            "INTEROP_JID not interop",
            "F8 03 19 0C F5 FF 01 98 00 01 00 05 0C",
            InvalidJid {
                offset: 4,
                reason: "INTEROP_JID server must be interop",
            },
        ),
        (
            "AD_JID cut",
            "F8 03 19 0C F7 00",
            end(6, "AD_JID domain and device"),
        ),
        (
            "FB_JID device cut",
            "F8 03 19 0C F6 00 01",
            end(7, "FB_JID device"),
        ),
        ("double token cut", "F8 01 EC", end(3, "node tag")),
        ("LIST_16 size cut", "F9 00", end(2, "node list size")),
    ]
}

#[test]
fn every_bad_input_gives_its_error() {
    for (name, hex, want) in corpus() {
        assert_eq!(decode(&h(hex)), Err(want), "{name}");
    }
}

#[test]
fn bad_input_inside_a_frame_gives_the_same_error() {
    for (name, hex, want) in corpus() {
        let mut payload = vec![0];
        payload.extend(h(hex));
        assert_eq!(unpack(&payload), Err(want), "{name}");
    }
}

/// Depth `levels`: each level is `<iq>` with one child; the innermost is `<iq/>`.
fn nested(levels: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(levels * 5);
    for _ in 1..levels {
        bytes.extend_from_slice(&[0xf8, 0x02, 0x19, 0xf8, 0x01]);
    }
    bytes.extend_from_slice(&[0xf8, 0x01, 0x19]);
    bytes
}

#[test]
fn depth_is_capped() {
    let deepest = decode(&nested(MAX_DEPTH)).unwrap();
    let mut depth = 1;
    let mut node = &deepest;
    while let Some(child) = node.child("iq") {
        node = child;
        depth += 1;
    }
    assert_eq!(depth, MAX_DEPTH);
    let too_deep = TooDeep {
        offset: 5 * MAX_DEPTH,
        limit: MAX_DEPTH,
    };
    assert_eq!(decode(&nested(MAX_DEPTH + 1)), Err(too_deep.clone()));
    // a million levels: still an error, not a stack overflow
    assert_eq!(decode(&nested(1_000_000)), Err(too_deep));
}

fn valid_stanzas() -> Vec<Vec<u8>> {
    let vectors = read_vectors(include_str!("../data/baileys_nodes.txt"));
    let mut stanzas: Vec<Vec<u8>> = vectors
        .into_iter()
        .filter(|(name, _)| {
            [
                "ping_iq",
                "message_pkmsg",
                "agent_forms",
                "hosted_forms",
                "large_lists",
            ]
            .contains(name)
        })
        .map(|(_, payload)| payload[1..].to_vec())
        .collect();
    let corpus = read_vectors(include_str!("../data/stanza_corpus.txt"));
    stanzas.extend(corpus.into_iter().take(8).map(|(_, bytes)| bytes));
    stanzas
}

#[test]
fn truncated_at_every_position() {
    for stanza in valid_stanzas() {
        decode(&stanza).unwrap();
        for cut in 0..stanza.len() {
            match decode(&stanza[..cut]) {
                Err(UnexpectedEnd { offset, .. }) => assert_eq!(offset, cut),
                Err(LengthExceedsInput {
                    offset, remaining, ..
                }) => assert!(offset < cut && remaining < cut),
                other => panic!("cut at {cut} of {}: {other:?}", stanza.len()),
            }
        }
    }
}

#[test]
fn every_single_byte_change_is_handled() {
    // Not a property of the format (many changes stay valid), but none may panic, and a
    // changed stanza that decodes must encode again.
    let stanza = &valid_stanzas()[1];
    for at in 0..stanza.len() {
        for delta in [1u8, 0x80, 0xff] {
            let mut changed = stanza.clone();
            changed[at] = changed[at].wrapping_add(delta);
            if let Ok(node) = decode(&changed) {
                let _ = encode(&node).unwrap();
            }
        }
    }
}

#[test]
fn frame_flags() {
    assert_eq!(unpack(&[]), Err(EmptyFrame));
    for flags in [0x01, 0x04, 0x80, 0x03, 0xff] {
        assert_eq!(
            unpack(&[flags, 0xf8, 0x01, 0x19]),
            Err(UnknownFrameFlags { flags })
        );
    }
    assert_eq!(unpack(&[0x00, 0xf8, 0x01, 0x19]), Ok(Node::new("iq")));
    assert_eq!(unpack(&[0x00]), Err(end(0, "node list header")));
}

fn compressed(body: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x02];
    payload.extend(miniz_oxide::deflate::compress_to_vec_zlib(body, 1));
    payload
}

#[test]
fn corrupt_zlib() {
    let good = compressed(&h("F8 02 19 FC 05 68 65 6C 6C 6F"));
    assert!(unpack(&good).is_ok());
    let mut bad_checksum = good.clone();
    *bad_checksum.last_mut().unwrap() ^= 1;
    assert_eq!(
        unpack(&bad_checksum),
        Err(Inflate {
            reason: "checksum mismatch"
        })
    );
    let truncated = &good[..good.len() - 6];
    assert_eq!(
        unpack(truncated),
        Err(Inflate {
            reason: "truncated stream"
        })
    );
    assert_eq!(
        unpack(&[0x02]),
        Err(Inflate {
            reason: "truncated stream"
        })
    );
    // header check bits wrong
    assert_eq!(
        unpack(&h("02 78 00 01 02")),
        Err(Inflate {
            reason: "corrupt stream"
        })
    );
    // a block type 3 (reserved)
    assert_eq!(
        unpack(&h("02 78 01 07 00")),
        Err(Inflate {
            reason: "corrupt stream"
        })
    );
    // a valid stream holding an invalid node
    assert_eq!(
        unpack(&compressed(&h("F8 00"))),
        Err(EmptyNode { offset: 0 })
    );
}

#[test]
fn zlib_bomb_is_refused() {
    // A node of exactly MAX_INFLATED bytes inflates; one byte more is refused.
    let header = [0xf8, 0x02, 0x19, 0xfe];
    let content_len = MAX_INFLATED - header.len() - 4;
    let mut body = header.to_vec();
    body.extend_from_slice(&(content_len as u32).to_be_bytes());
    body.resize(MAX_INFLATED, 0);
    let node = unpack(&compressed(&body)).unwrap();
    assert_eq!(node.content_bytes().map(<[u8]>::len), Some(content_len));
    body.push(0);
    let bomb = compressed(&body);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    assert_eq!(
        unpack(&bomb),
        Err(InflatedTooLarge {
            limit: MAX_INFLATED
        })
    );
}
