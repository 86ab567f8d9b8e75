//! Decoder: WABinary bytes to [`Node`].
//!
//! Owns reading every form Baileys and whatsmeow write (tokens, both empty-string forms,
//! packed strings, raw strings, all four JID forms, string or JID content) and rejecting
//! everything else with a [`DecodeError`] that says where and what. Does not own the
//! frame flag byte or zlib (see `frame`).
//!
//! Hostile input: every length is checked against the remaining input before anything is
//! allocated for it, nesting is capped at [`MAX_DEPTH`], and nothing panics.

use super::MAX_DEPTH;
use super::jid::{Jid, Server};
use super::node::{Attrs, Content, Node, Value};
use super::tag;
use super::text::Text;
use super::tokens;

/// Why bytes are not a valid node. Offsets count from the start of the decoded buffer
/// (after the frame flag byte and inflation, for [`unpack`](super::unpack)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends in the middle of an item.
    #[error("input ends at byte {offset} while reading {expected}")]
    UnexpectedEnd {
        /// Where the input ended.
        offset: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A declared length (bytes, packed string, list) needs more input than remains.
    #[error(
        "{expected} at byte {offset} declares {length} items/bytes but only {remaining} bytes remain"
    )]
    LengthExceedsInput {
        /// Where the length was declared.
        offset: usize,
        /// What the length was for.
        expected: &'static str,
        /// The declared length.
        length: usize,
        /// Bytes left after the length field.
        remaining: usize,
    },
    /// Bytes follow the top node.
    #[error("{remaining} bytes left over after the node ending at byte {offset}")]
    TrailingBytes {
        /// Where the node ended.
        offset: usize,
        /// How many bytes follow.
        remaining: usize,
    },
    /// A node did not start with a list header (0, 248 or 249).
    #[error("expected a node list header at byte {offset}, found {byte:#04x}")]
    InvalidListTag {
        /// Where.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// A node's list size is 0 (a node needs at least a tag).
    #[error("node at byte {offset} has list size 0")]
    EmptyNode {
        /// Where the node starts.
        offset: usize,
    },
    /// A node's tag is the empty string.
    #[error("node tag at byte {offset} is empty")]
    EmptyTag {
        /// Where the tag is.
        offset: usize,
    },
    /// An attribute key is the empty string.
    #[error("attribute key at byte {offset} is empty")]
    EmptyAttributeKey {
        /// Where the key is.
        offset: usize,
    },
    /// The same attribute key appears twice in one node.
    #[error("node at byte {offset} repeats attribute {key:?}")]
    DuplicateAttribute {
        /// Where the node starts.
        offset: usize,
        /// The repeated key.
        key: String,
    },
    /// A byte that is no token or tag of the format (240–244).
    #[error("unknown tag byte {byte:#04x} at byte {offset} while reading {expected}")]
    UnknownTag {
        /// Where.
        offset: usize,
        /// The byte.
        byte: u8,
        /// What was being read.
        expected: &'static str,
    },
    /// A string was required (tag, key, JID part) but something else was found.
    #[error("{expected} at byte {offset} must be a string, found {found}")]
    ExpectedString {
        /// Where.
        offset: usize,
        /// What was being read.
        expected: &'static str,
        /// What was found ("a JID" or "a list").
        found: &'static str,
    },
    /// A raw string is not valid UTF-8.
    #[error("{expected} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string's tag is.
        offset: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A nibble-packed string holds a value that is no character (12–14, or the padding
    /// value 15 before the end).
    #[error("invalid nibble {value} in packed string at byte {offset}")]
    InvalidNibble {
        /// Where the packed byte is.
        offset: usize,
        /// The 4-bit value.
        value: u8,
    },
    /// A packed string's length byte marks an odd length but holds no bytes.
    #[error("packed string at byte {offset} has an odd length of zero bytes")]
    InvalidPackedLength {
        /// Where the length byte is.
        offset: usize,
    },
    /// A JID's parts are inconsistent.
    #[error("invalid JID at byte {offset}: {reason}")]
    InvalidJid {
        /// Where the JID's tag is.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Nodes nest deeper than [`MAX_DEPTH`].
    #[error("node at byte {offset} nests deeper than {limit} levels")]
    TooDeep {
        /// Where the too-deep node starts.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame payload is empty (no flag byte).
    #[error("empty frame payload")]
    EmptyFrame,
    /// The frame flag byte has bits other than 0x02 (compressed) set.
    #[error("unknown frame flags {flags:#04x}")]
    UnknownFrameFlags {
        /// The flag byte.
        flags: u8,
    },
    /// The compressed body is not a valid zlib stream.
    #[error("cannot inflate frame: {reason}")]
    Inflate {
        /// What went wrong.
        reason: &'static str,
    },
    /// The compressed body inflates to more than the limit.
    #[error("frame inflates to more than {limit} bytes")]
    InflatedTooLarge {
        /// The limit ([`MAX_INFLATED`](super::MAX_INFLATED)).
        limit: usize,
    },
}

/// Decodes one node that must fill `data` exactly (no frame flag byte).
pub fn decode(data: &[u8]) -> std::result::Result<Node, DecodeError> {
    let mut reader = Reader { data, pos: 0 };
    let node = reader.node(1)?;
    match data.len() - reader.pos {
        0 => Ok(node),
        remaining => Err(DecodeError::TrailingBytes {
            offset: reader.pos,
            remaining,
        }),
    }
}

/// The smallest possible encoded node: list header, size, one-byte tag.
const MIN_NODE_LEN: usize = 3;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

type Result<T> = std::result::Result<T, DecodeError>;

// An error built eagerly (`ok_or`) is dropped again on every successful read,
// which the size-optimised build does not optimise away.
#[allow(clippy::unnecessary_lazy_evaluations)]
impl<'a> Reader<'a> {
    #[inline(always)]
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    #[inline(always)]
    fn byte(&mut self, expected: &'static str) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| DecodeError::UnexpectedEnd {
                offset: self.pos,
                expected,
            })?;
        self.pos += 1;
        Ok(b)
    }

    #[inline(always)]
    fn array<const N: usize>(&mut self, expected: &'static str) -> Result<[u8; N]> {
        let bytes = self
            .data
            .get(self.pos..self.pos + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| DecodeError::UnexpectedEnd {
                offset: self.data.len(),
                expected,
            })?;
        self.pos += N;
        Ok(bytes)
    }

    #[inline(always)]
    fn u16(&mut self, expected: &'static str) -> Result<u16> {
        self.array(expected).map(u16::from_be_bytes)
    }

    /// `len` bytes whose length was declared at `offset`.
    #[inline(always)]
    fn take(&mut self, len: usize, offset: usize, expected: &'static str) -> Result<&'a [u8]> {
        let remaining = self.remaining();
        let bytes = self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| DecodeError::LengthExceedsInput {
                offset,
                expected,
                length: len,
                remaining,
            })?;
        self.pos += len;
        Ok(bytes)
    }

    /// Checks a declared count of items, each at least `min_len` bytes long.
    #[inline(always)]
    fn check_count(
        &self,
        count: usize,
        min_len: usize,
        offset: usize,
        expected: &'static str,
    ) -> Result<()> {
        let remaining = self.remaining();
        if count.saturating_mul(min_len) > remaining {
            return Err(DecodeError::LengthExceedsInput {
                offset,
                expected,
                length: count,
                remaining,
            });
        }
        Ok(())
    }

    /// A list size after its header byte, or `None` if `header` is no list header.
    #[inline(always)]
    fn list_size(&mut self, header: u8, expected: &'static str) -> Result<Option<usize>> {
        Ok(Some(match header {
            tag::LIST_EMPTY => 0,
            tag::LIST_8 => usize::from(self.byte(expected)?),
            tag::LIST_16 => usize::from(self.u16(expected)?),
            _ => return Ok(None),
        }))
    }

    fn node(&mut self, depth: usize) -> Result<Node> {
        let start = self.pos;
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                offset: start,
                limit: MAX_DEPTH,
            });
        }
        let header = self.byte("node list header")?;
        let size = self.list_size(header, "node list size")?.ok_or_else(|| {
            DecodeError::InvalidListTag {
                offset: start,
                byte: header,
            }
        })?;
        if size == 0 {
            return Err(DecodeError::EmptyNode { offset: start });
        }
        // Every item (tag, keys, values, content) takes at least one byte.
        self.check_count(size, 1, start, "node list size")?;

        let tag_offset = self.pos;
        let tag = self.string("node tag")?;
        if tag.is_empty() {
            return Err(DecodeError::EmptyTag { offset: tag_offset });
        }

        let attr_count = (size - 1) / 2;
        let mut attrs = Attrs::with_capacity(attr_count);
        for _ in 0..attr_count {
            let key_offset = self.pos;
            let key = self.string("attribute key")?;
            if key.is_empty() {
                return Err(DecodeError::EmptyAttributeKey { offset: key_offset });
            }
            let value = self.value("attribute value")?;
            attrs.push_unchecked(key, value);
        }
        if let Some(key) = attrs.find_duplicate() {
            return Err(DecodeError::DuplicateAttribute {
                offset: start,
                key: key.to_owned(),
            });
        }

        let content = if size % 2 == 0 {
            self.content(depth)?
        } else {
            Content::None
        };
        Ok(Node {
            tag,
            attrs,
            content,
        })
    }

    fn content(&mut self, depth: usize) -> Result<Content> {
        let offset = self.pos;
        let header = self.byte("content")?;
        if let Some(count) = self.list_size(header, "child list size")? {
            self.check_count(count, MIN_NODE_LEN, offset, "child list size")?;
            let mut children = Vec::with_capacity(count);
            for _ in 0..count {
                children.push(self.node(depth + 1)?);
            }
            return Ok(Content::Nodes(children));
        }
        if let Some(bytes) = self.binary(header, offset, "content bytes")? {
            return Ok(Content::Bytes(bytes.to_vec()));
        }
        Ok(Content::Bytes(
            match self.value_after(header, offset, "content")? {
                Value::Str(s) => s.as_bytes().to_vec(),
                Value::Jid(jid) => jid.to_string().into_bytes(),
            },
        ))
    }

    /// Raw bytes after a BINARY_* header, or `None` if `header` is none of those.
    fn binary(
        &mut self,
        header: u8,
        offset: usize,
        expected: &'static str,
    ) -> Result<Option<&'a [u8]>> {
        let len = match header {
            tag::BINARY_8 => usize::from(self.byte(expected)?),
            tag::BINARY_20 => {
                let [a, b, c] = self.array(expected)?;
                usize::from(a & 0x0f) << 16 | usize::from(b) << 8 | usize::from(c)
            }
            tag::BINARY_32 => {
                let len = u32::from_be_bytes(self.array(expected)?);
                usize::try_from(len).unwrap_or(usize::MAX)
            }
            _ => return Ok(None),
        };
        self.take(len, offset, expected).map(Some)
    }

    #[inline(always)]
    fn string(&mut self, expected: &'static str) -> Result<Text> {
        let offset = self.pos;
        let header = self.byte(expected)?;
        self.string_after(header, offset, expected)
    }

    #[inline(always)]
    fn value(&mut self, expected: &'static str) -> Result<Value> {
        let offset = self.pos;
        let header = self.byte(expected)?;
        self.value_after(header, offset, expected)
    }

    /// A string or a JID.
    fn value_after(&mut self, header: u8, offset: usize, expected: &'static str) -> Result<Value> {
        match header {
            tag::JID_PAIR => self.jid_pair(offset).map(Value::Jid),
            tag::AD_JID => self.ad_jid().map(Value::Jid),
            tag::FB_JID => self.fb_jid(offset).map(Value::Jid),
            tag::INTEROP_JID => self.interop_jid(offset).map(Value::Jid),
            _ => self.string_after(header, offset, expected).map(Value::Str),
        }
    }

    fn string_after(&mut self, header: u8, offset: usize, expected: &'static str) -> Result<Text> {
        // Most strings are single-byte tokens.
        if let Some(token) = tokens::single(header) {
            return Ok(Text::from_static(token));
        }
        match header {
            tag::LIST_EMPTY => Ok(Text::new()),
            tag::DICTIONARY_0..=tag::DICTIONARY_3 => {
                let index = self.byte(expected)?;
                tokens::double(header - tag::DICTIONARY_0, index)
                    .map(Text::from_static)
                    .ok_or_else(|| DecodeError::UnknownTag {
                        offset,
                        byte: header,
                        expected,
                    })
            }
            tag::NIBBLE_8 => self.packed(&NIBBLE_ALPHABET, expected),
            tag::HEX_8 => self.packed(&HEX_ALPHABET, expected),
            tag::JID_PAIR | tag::AD_JID | tag::FB_JID | tag::INTEROP_JID => {
                Err(DecodeError::ExpectedString {
                    offset,
                    expected,
                    found: "a JID",
                })
            }
            tag::LIST_8 | tag::LIST_16 => Err(DecodeError::ExpectedString {
                offset,
                expected,
                found: "a list",
            }),
            _ => match self.binary(header, offset, expected)? {
                Some(bytes) => std::str::from_utf8(bytes)
                    .map(Text::from)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset, expected }),
                None => Err(DecodeError::UnknownTag {
                    offset,
                    byte: header,
                    expected,
                }),
            },
        }
    }

    /// A NIBBLE_8/HEX_8 body: length byte (bit 7 = odd length), then two characters a byte.
    fn packed(&mut self, alphabet: &[u8; 16], expected: &'static str) -> Result<Text> {
        let len_offset = self.pos;
        let len_byte = self.byte(expected)?;
        let byte_count = usize::from(len_byte & 0x7f);
        let odd = len_byte & 0x80 != 0;
        if odd && byte_count == 0 {
            return Err(DecodeError::InvalidPackedLength { offset: len_offset });
        }
        let start = self.pos;
        let bytes = self.take(byte_count, len_offset, expected)?;
        let len = 2 * byte_count - usize::from(odd);
        // Short strings (the usual case) are unpacked on the stack.
        let mut small = [0u8; SMALL_PACKED];
        let mut large = Vec::new();
        let chars: &mut [u8] = if len <= SMALL_PACKED {
            small.get_mut(..len).unwrap_or_default()
        } else {
            large.resize(len, 0);
            &mut large
        };
        // For an odd length the last chunk has one character: the low nibble is padding.
        for (i, (chunk, &b)) in chars.chunks_mut(2).zip(bytes).enumerate() {
            let invalid = |value| DecodeError::InvalidNibble {
                offset: start + i,
                value,
            };
            let high = alphabet[usize::from(b >> 4)];
            if high == INVALID {
                return Err(invalid(b >> 4));
            }
            match chunk {
                [first, second] => {
                    let low = alphabet[usize::from(b & 0x0f)];
                    if low == INVALID {
                        return Err(invalid(b & 0x0f));
                    }
                    (*first, *second) = (high, low);
                }
                [only] => *only = high,
                _ => {}
            }
        }
        Ok(Text::from_ascii(chars))
    }

    fn jid_user(&mut self) -> Result<Text> {
        self.string("JID user")
    }

    fn jid_server(&mut self, offset: usize) -> Result<Server> {
        let header_offset = self.pos;
        let header = self.byte("JID server")?;
        // The usual servers are single-byte tokens.
        match header {
            tokens::S_WHATSAPP_NET => return Ok(Server::Whatsapp),
            tokens::LID => return Ok(Server::Lid),
            tokens::G_US => return Ok(Server::Group),
            tokens::BROADCAST => return Ok(Server::Broadcast),
            tokens::MSGR => return Ok(Server::Messenger),
            _ => {}
        }
        let server = self.string_after(header, header_offset, "JID server")?;
        if server.is_empty() {
            return Err(DecodeError::InvalidJid {
                offset,
                reason: "empty server",
            });
        }
        Ok(match Server::known_bytes(server.as_bytes()) {
            Some(known) => known,
            None => Server::Other(server.into_string()),
        })
    }

    fn jid_pair(&mut self, offset: usize) -> Result<Jid> {
        let user = self.jid_user()?;
        let server = self.jid_server(offset)?;
        Ok(Jid::new(user, server))
    }

    fn ad_jid(&mut self) -> Result<Jid> {
        let [domain, device] = self.array("AD_JID domain and device")?;
        let user = self.jid_user()?;
        let (server, agent) = Server::from_domain_type(domain);
        Ok(Jid::from_parts(user, agent, u16::from(device), 0, server))
    }

    fn fb_jid(&mut self, offset: usize) -> Result<Jid> {
        let user = self.jid_user()?;
        let device = self.u16("FB_JID device")?;
        match self.jid_server(offset)? {
            Server::Messenger => Ok(Jid::from_parts(user, 0, device, 0, Server::Messenger)),
            _ => Err(DecodeError::InvalidJid {
                offset,
                reason: "FB_JID server must be msgr",
            }),
        }
    }

    fn interop_jid(&mut self, offset: usize) -> Result<Jid> {
        let user = self.jid_user()?;
        let device = self.u16("INTEROP_JID device")?;
        let integrator = self.u16("INTEROP_JID integrator")?;
        match self.jid_server(offset)? {
            Server::Interop => Ok(Jid::from_parts(
                user,
                0,
                device,
                integrator,
                Server::Interop,
            )),
            _ => Err(DecodeError::InvalidJid {
                offset,
                reason: "INTEROP_JID server must be interop",
            }),
        }
    }
}

/// Packed strings up to this length are unpacked without a heap buffer.
const SMALL_PACKED: usize = 32;

/// Marks the values of a packed alphabet that are no character.
const INVALID: u8 = 0;

/// `0`–`9`, `-`, `.`; 12–14 are invalid and 15 is padding (valid only as the last nibble).
const NIBBLE_ALPHABET: [u8; 16] = *b"0123456789-.\0\0\0\0";

/// `0`–`9`, `A`–`F`.
const HEX_ALPHABET: [u8; 16] = *b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(hex: &str) -> std::result::Result<Node, DecodeError> {
        decode(&hex::decode(hex.replace(' ', "")).unwrap())
    }

    #[test]
    fn strings_in_every_form() {
        // tag: token, double token, nibble, hex, raw, each as the only list item
        assert_eq!(dec("f801 19").unwrap().tag, "iq");
        assert_eq!(dec("f801 ec00").unwrap().tag, "read-self");
        assert_eq!(dec("f801 ff82 123f").unwrap().tag, "123");
        assert_eq!(dec("f801 ff02 12ba").unwrap().tag, "12.-");
        assert_eq!(dec("f801 fb83 3eb0ff").unwrap().tag, "3EB0F");
        // odd hex padding other than F is dropped, as both reference decoders do
        assert_eq!(dec("f801 fb81 a3").unwrap().tag, "A");
        assert_eq!(dec("f801 fc02 6869").unwrap().tag, "hi");
        assert_eq!(dec("f801 fd000002 6869").unwrap().tag, "hi");
        assert_eq!(dec("f801 fe00000002 6869").unwrap().tag, "hi");
        // BINARY_20 ignores the top nibble of its first length byte
        assert_eq!(dec("f801 fdf00002 6869").unwrap().tag, "hi");
    }

    #[test]
    fn both_empty_string_forms_and_list_empty() {
        for empty in ["fc00", "ff00", "00"] {
            let node = dec(&format!("f803 19 08 {empty}")).unwrap();
            assert_eq!(node.str_attr("id"), Some(""), "{empty}");
        }
    }

    #[test]
    fn content_kinds() {
        assert_eq!(dec("f802 19 00").unwrap().content, Content::Nodes(vec![]));
        assert_eq!(
            dec("f802 19 fc0101").unwrap().content,
            Content::Bytes(vec![1])
        );
        assert_eq!(
            dec("f802 19 03").unwrap().content,
            Content::Bytes(b"s.whatsapp.net".to_vec())
        );
        assert_eq!(
            dec("f802 19 ff82123f").unwrap().content,
            Content::Bytes(b"123".to_vec())
        );
        assert_eq!(
            dec("f802 19 f70002ff82123f").unwrap().content,
            Content::Bytes(b"123:2@s.whatsapp.net".to_vec())
        );
        assert_eq!(dec("f801 19").unwrap().content, Content::None);
    }

    #[test]
    fn jid_forms() {
        let jid = |hex: &str| {
            dec(&format!("f803 19 0c {hex}"))
                .unwrap()
                .jid_attr("jid")
                .cloned()
                .unwrap()
        };
        assert_eq!(jid("fa0003"), Jid::server_jid());
        assert_eq!(jid("fa fc00 03"), Jid::server_jid());
        assert_eq!(jid("faff82123f03"), Jid::pn("123"));
        assert_eq!(jid("f70000ff82123f"), Jid::pn("123"));
        assert_eq!(jid("f70002ff82123f"), Jid::pn("123").with_device(2));
        assert_eq!(jid("f70102ff819f"), Jid::lid("9").with_device(2));
        assert_eq!(jid("f78000ff819f"), Jid::new("9", Server::Hosted));
        assert_eq!(
            jid("f78103ff819f"),
            Jid::new("9", Server::HostedLid).with_device(3)
        );
        assert_eq!(jid("f70700ff819f"), Jid::with_agent("9", 7, 0).unwrap());
        assert_eq!(jid("f6ff819f012ccc"), Jid::messenger("9", 300));
        assert_eq!(
            jid("f5ff819f00010005fc07696e7465726f70"),
            Jid::interop(5, "9", 1)
        );
        assert_eq!(
            jid("fa fc03616263 fc0b6578616d706c652e6f7267").server(),
            &Server::Other("example.org".into())
        );
    }
}
