//! Encoder: [`Node`] to WABinary bytes.
//!
//! Owns the choice of encoding for every string (token, packed digits/hex, raw), JID
//! (JID_PAIR, AD_JID, FB_JID, INTEROP_JID) and list size. Does not own the frame flag byte
//! (see `frame`).
//!
//! Rules (the ones whatsmeow follows): attributes whose value is an empty string are
//! skipped; a string value stays a string even if it looks like a JID; a JID value uses
//! AD_JID when it names a device (device or agent on `s.whatsapp.net`, device on `lid`)
//! and always on `hosted`/`hosted.lid`, FB_JID on `msgr`, INTEROP_JID on `interop`, and
//! JID_PAIR otherwise.

use super::MAX_DEPTH;
use super::jid::{Jid, JidError, Server};
use super::node::{Content, Node, Value};
use super::tag;
use super::tokens::{self, Token};

/// Why a node could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A node's tag is empty.
    #[error("a node has an empty tag")]
    EmptyTag,
    /// An attribute key is empty.
    #[error("<{tag}> has an attribute with an empty key")]
    EmptyAttributeKey {
        /// The node's tag.
        tag: String,
    },
    /// A node has more attributes, or more children, than a 16-bit list size holds.
    #[error("<{tag}> needs a list of {len} items; at most 65535 fit")]
    ListTooLong {
        /// The node's tag.
        tag: String,
        /// The list size that was needed.
        len: usize,
    },
    /// A string or byte content is longer than a 32-bit length holds.
    #[error("{len} bytes do not fit a 32-bit length")]
    TooLong {
        /// The length.
        len: usize,
    },
    /// Nodes nest deeper than the decoder accepts.
    #[error("nodes nest deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit ([`MAX_DEPTH`]).
        limit: usize,
    },
    /// A JID value has no binary form that decodes back to it.
    #[error("JID {jid} cannot be encoded: {source}")]
    Jid {
        /// The JID, as text.
        jid: String,
        /// What is wrong with it.
        source: JidError,
    },
}

/// Encodes a node (without the frame flag byte).
pub fn encode(node: &Node) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(INITIAL_CAPACITY);
    encode_into(node, &mut out)?;
    Ok(out)
}

/// Appends the encoding of a node to `out`, so a buffer can be reused. On error `out` is
/// left as it was.
pub fn encode_into(node: &Node, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let result = Encoder { out }.node(node, 1);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

const INITIAL_CAPACITY: usize = 256;
const MAX_LIST: usize = u16::MAX as usize;
const MAX_BINARY: usize = u32::MAX as usize;

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn node(&mut self, node: &Node, depth: usize) -> Result<(), EncodeError> {
        if depth > MAX_DEPTH {
            return Err(EncodeError::TooDeep { limit: MAX_DEPTH });
        }
        if node.tag.is_empty() {
            return Err(EncodeError::EmptyTag);
        }
        let attrs = node.attrs.iter().filter(|(_, v)| !v.is_empty());
        let has_content = usize::from(!matches!(node.content, Content::None));
        let size = attrs
            .clone()
            .count()
            .saturating_mul(2)
            .saturating_add(1 + has_content);
        self.list_start(size, &node.tag)?;
        self.string(&node.tag)?;
        for (key, value) in attrs {
            if key.is_empty() {
                return Err(EncodeError::EmptyAttributeKey {
                    tag: node.tag.to_string(),
                });
            }
            self.string(key)?;
            match value {
                Value::Str(s) => self.string(s)?,
                Value::Jid(jid) => self.jid(jid)?,
            }
        }
        match &node.content {
            Content::None => {}
            Content::Nodes(children) => {
                self.list_start(children.len(), &node.tag)?;
                for child in children {
                    self.node(child, depth + 1)?;
                }
            }
            Content::Bytes(bytes) => {
                self.byte_length(bytes.len())?;
                self.out.extend_from_slice(bytes);
            }
        }
        Ok(())
    }

    fn list_start(&mut self, size: usize, tag: &str) -> Result<(), EncodeError> {
        match size {
            0 => self.out.push(tag::LIST_EMPTY),
            1..=0xff => self.out.extend_from_slice(&[tag::LIST_8, size as u8]),
            0x100..=MAX_LIST => {
                self.out.push(tag::LIST_16);
                self.out.extend_from_slice(&(size as u16).to_be_bytes());
            }
            _ => {
                return Err(EncodeError::ListTooLong {
                    tag: tag.to_owned(),
                    len: size,
                });
            }
        }
        Ok(())
    }

    fn byte_length(&mut self, len: usize) -> Result<(), EncodeError> {
        match len {
            0..=0xff => self.out.extend_from_slice(&[tag::BINARY_8, len as u8]),
            0x100..=0xf_ffff => {
                let [_, a, b, c] = (len as u32).to_be_bytes();
                self.out.extend_from_slice(&[tag::BINARY_20, a, b, c]);
            }
            0x10_0000..=MAX_BINARY => {
                self.out.push(tag::BINARY_32);
                self.out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            _ => return Err(EncodeError::TooLong { len }),
        }
        Ok(())
    }

    /// Token, else nibble-packed, else hex-packed, else raw.
    fn string(&mut self, s: &str) -> Result<(), EncodeError> {
        match tokens::lookup(s) {
            Some(Token::Single(index)) => self.out.push(index),
            Some(Token::Double(dict, index)) => self
                .out
                .extend_from_slice(&[tag::DICTIONARY_0 + dict, index]),
            None => match packing(s) {
                Some(packing) => self.packed(s.as_bytes(), packing),
                None => {
                    self.byte_length(s.len())?;
                    self.out.extend_from_slice(s.as_bytes());
                }
            },
        }
        Ok(())
    }

    fn packed(&mut self, s: &[u8], packing: Packing) {
        let (tag, pack): (u8, fn(u8) -> u8) = match packing {
            Packing::Nibble => (tag::NIBBLE_8, pack_nibble),
            Packing::Hex => (tag::HEX_8, pack_hex),
        };
        // `packing` only accepts strings of at most 127 bytes, so this fits 7 bits.
        let odd = (s.len() % 2) as u8;
        let pairs = s.len().div_ceil(2) as u8;
        self.out.extend_from_slice(&[tag, pairs | (odd << 7)]);
        let chunks = s.chunks(2);
        self.out.extend(chunks.map(|pair| match pair {
            [a, b] => (pack(*a) << 4) | pack(*b),
            [a] => (pack(*a) << 4) | tag::PACKED_PADDING,
            _ => tag::PACKED_PADDING,
        }));
    }

    fn jid(&mut self, jid: &Jid) -> Result<(), EncodeError> {
        jid.check().map_err(|source| EncodeError::Jid {
            jid: jid.to_string(),
            source,
        })?;
        let device = jid.device();
        match jid.server() {
            Server::Whatsapp if jid.is_ad() => self.ad_jid(jid.agent(), device, jid.user()),
            Server::Lid if device != 0 => self.ad_jid(jid.domain_type(), device, jid.user()),
            Server::Hosted | Server::HostedLid => {
                self.ad_jid(jid.domain_type(), device, jid.user())
            }
            Server::Messenger => {
                self.out.push(tag::FB_JID);
                self.string(jid.user())?;
                self.out.extend_from_slice(&device.to_be_bytes());
                self.string(jid.server().as_str())
            }
            Server::Interop => {
                self.out.push(tag::INTEROP_JID);
                self.string(jid.user())?;
                self.out.extend_from_slice(&device.to_be_bytes());
                self.out.extend_from_slice(&jid.integrator().to_be_bytes());
                self.string(jid.server().as_str())
            }
            server => {
                self.out.push(tag::JID_PAIR);
                if jid.user().is_empty() {
                    self.out.push(tag::LIST_EMPTY);
                } else {
                    self.string(jid.user())?;
                }
                self.string(server.as_str())
            }
        }
    }

    /// `check` has limited these servers' devices to one byte.
    fn ad_jid(&mut self, domain: u8, device: u16, user: &str) -> Result<(), EncodeError> {
        let device = u8::try_from(device).unwrap_or(u8::MAX);
        self.out.extend_from_slice(&[tag::AD_JID, domain, device]);
        self.string(user)
    }
}

#[derive(Clone, Copy)]
enum Packing {
    Nibble,
    Hex,
}

/// Which packed form fits `s` (nibble preferred), if any.
fn packing(s: &str) -> Option<Packing> {
    if s.len() > tag::PACKED_MAX {
        return None;
    }
    let (mut nibble, mut hex) = (true, true);
    for &b in s.as_bytes() {
        let digit = b.is_ascii_digit();
        nibble &= digit || b == b'-' || b == b'.';
        hex &= digit || (b'A'..=b'F').contains(&b);
        if !nibble && !hex {
            return None;
        }
    }
    if nibble {
        Some(Packing::Nibble)
    } else {
        Some(Packing::Hex)
    }
}

fn pack_nibble(b: u8) -> u8 {
    match b {
        b'-' => 10,
        b'.' => 11,
        _ => b.wrapping_sub(b'0') & 0x0f,
    }
}

fn pack_hex(b: u8) -> u8 {
    match b {
        b'A'..=b'F' => b - b'A' + 10,
        _ => b.wrapping_sub(b'0') & 0x0f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(node: &Node) -> String {
        hex::encode(encode(node).unwrap())
    }

    #[test]
    fn strings_pick_the_smallest_form() {
        // token, double token, nibble (even/odd), hex, raw, empty
        assert_eq!(hex(&Node::new("iq")), "f80119");
        assert_eq!(hex(&Node::new("read-self")), "f801ec00");
        assert_eq!(hex(&Node::new("12.-")), "f801ff0212ba");
        assert_eq!(hex(&Node::new("123")), "f801ff82123f");
        assert_eq!(hex(&Node::new("3EB0F")), "f801fb833eb0ff");
        assert_eq!(hex(&Node::new("hi")), "f801fc026869");
        assert_eq!(hex(&Node::new("3eb0")), "f801fc0433656230");
    }

    #[test]
    fn lengths_at_the_boundaries() {
        let raw = |n: usize| encode(&Node::new("x").bytes(vec![0xaa; n])).unwrap();
        assert_eq!(&raw(255)[..6], &[0xf8, 0x02, 0xfc, 0x01, 0x78, 0xfc]);
        assert_eq!(raw(255)[6], 0xff);
        assert_eq!(&raw(256)[5..9], &[0xfd, 0x00, 0x01, 0x00]);
        assert_eq!(&raw(0xf_ffff)[5..9], &[0xfd, 0x0f, 0xff, 0xff]);
        assert_eq!(&raw(0x10_0000)[5..10], &[0xfe, 0x00, 0x10, 0x00, 0x00]);
        let long = "7".repeat(127);
        assert_eq!(encode(&Node::new(long)).unwrap()[2..4], [0xff, 0xc0]);
        let too_long = "7".repeat(128);
        assert_eq!(encode(&Node::new(too_long)).unwrap()[2..4], [0xfc, 128]);
        let children = |n: usize| Node::new("list").children((0..n).map(|_| Node::new("item")));
        assert_eq!(
            &encode(&children(255)).unwrap()[..6],
            &[0xf8, 0x02, 0x71, 0xf8, 0xff, 0xf8]
        );
        assert_eq!(&encode(&children(256)).unwrap()[3..6], &[0xf9, 0x01, 0x00]);
        assert_eq!(
            encode(&children(65536)),
            Err(EncodeError::ListTooLong {
                tag: "list".into(),
                len: 65536
            })
        );
    }

    #[test]
    fn jid_forms() {
        // <iq jid=…/>: list of 3, "iq" token 0x19, "jid" token 0x0c, then the JID.
        let enc = |jid: Jid| {
            let bytes = encode(&Node::new("iq").attr("jid", jid)).unwrap();
            assert_eq!(bytes[..4], [0xf8, 0x03, 0x19, 0x0c]);
            hex::encode(&bytes[4..])
        };
        assert_eq!(enc(Jid::server_jid()), "fa0003");
        assert_eq!(enc(Jid::pn("123")), "faff82123f03");
        assert_eq!(enc(Jid::pn("123").with_device(0)), "faff82123f03");
        assert_eq!(enc(Jid::pn("123").with_device(2)), "f70002ff82123f");
        assert_eq!(enc(Jid::lid("98").with_device(2)), "f70102ff0198");
        assert_eq!(enc(Jid::lid("98")), "faff019876");
        assert_eq!(enc(Jid::new("98", Server::Hosted)), "f78000ff0198");
        assert_eq!(
            enc(Jid::new("98", Server::HostedLid).with_device(3)),
            "f78103ff0198"
        );
        assert_eq!(enc(Jid::with_agent("98", 7, 0).unwrap()), "f70700ff0198");
        assert_eq!(enc(Jid::messenger("98", 300)), "f6ff0198012ccc");
        assert_eq!(
            enc(Jid::interop(5, "98", 1)),
            "f5ff019800010005fc07696e7465726f70"
        );
        assert_eq!(enc(Jid::group("1-2")), "faff821a2f1c");
        assert_eq!(
            encode(&Node::new("a").attr("j", Jid::group("1").with_device(1))),
            Err(EncodeError::Jid {
                jid: "1:1@g.us".into(),
                source: JidError::DeviceNotAllowed {
                    device: 1,
                    server: "g.us".into()
                }
            })
        );
    }

    #[test]
    fn empty_values_skipped_and_invalid_nodes_rejected() {
        // "x" is skipped; "id" is token 0x08 and "1" token 0x55.
        let node = Node::new("iq").attr("x", "").attr("id", "1");
        assert_eq!(hex(&node), "f803190855");
        assert_eq!(encode(&Node::new("")), Err(EncodeError::EmptyTag));
        assert_eq!(
            encode(&Node::new("a").attr("", "v")),
            Err(EncodeError::EmptyAttributeKey { tag: "a".into() })
        );
        let mut deep = Node::new("leaf");
        for _ in 0..MAX_DEPTH {
            deep = Node::new("n").children([deep]);
        }
        assert_eq!(
            encode(&deep),
            Err(EncodeError::TooDeep { limit: MAX_DEPTH })
        );
        let mut buf = vec![1, 2, 3];
        assert!(encode_into(&deep, &mut buf).is_err());
        assert_eq!(buf, [1, 2, 3]);
        encode_into(&Node::new("iq"), &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 0xf8, 0x01, 0x19]);
    }
}
