//! WABinary: the compact binary XML that WhatsApp stanzas travel in.
//!
//! Owns: [`Node`] (tag, attributes, content) with its builder and typed accessors,
//! [`Jid`], the token dictionaries (version [`DICT_VERSION`]), the encoder and decoder,
//! and the frame payload flag byte with bounded zlib inflation ([`pack`]/[`unpack`]).
//! Does not own framing or encryption (see `noise`) nor what stanzas mean (the client).
//!
//! ```
//! use wa_binary::{Jid, Node, decode, encode};
//!
//! let ping = Node::new("iq")
//!     .attr("id", "1.2-3")
//!     .attr("to", Jid::server_jid())
//!     .attr("type", "get")
//!     .attr("xmlns", "w:p")
//!     .children([Node::new("ping")]);
//! let bytes = encode(&ping)?;
//! assert_eq!(decode(&bytes)?, ping);
//! assert_eq!(ping.to_string(), r#"<iq id="1.2-3" to="s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod display;
mod encode;
mod frame;
mod jid;
mod node;
mod text;
mod tokens;

pub use decode::{DecodeError, decode};
pub use encode::{EncodeError, encode, encode_into};
pub use frame::{FLAG_COMPRESSED, MAX_INFLATED, pack, pack_into, unpack};
pub use jid::{Jid, JidError, Server};
pub use node::{Attrs, Content, Node, NodeError, Value};
pub use text::Text;
pub use tokens::DICT_VERSION;

/// Deepest nesting of nodes the decoder accepts (and the encoder writes); real stanzas
/// nest fewer than 10 levels.
pub const MAX_DEPTH: usize = 64;

/// The tag bytes of the format.
mod tag {
    pub(crate) const LIST_EMPTY: u8 = 0;
    pub(crate) const DICTIONARY_0: u8 = 236;
    pub(crate) const DICTIONARY_3: u8 = 239;
    pub(crate) const INTEROP_JID: u8 = 245;
    pub(crate) const FB_JID: u8 = 246;
    pub(crate) const AD_JID: u8 = 247;
    pub(crate) const LIST_8: u8 = 248;
    pub(crate) const LIST_16: u8 = 249;
    pub(crate) const JID_PAIR: u8 = 250;
    pub(crate) const HEX_8: u8 = 251;
    pub(crate) const BINARY_8: u8 = 252;
    pub(crate) const BINARY_20: u8 = 253;
    pub(crate) const BINARY_32: u8 = 254;
    pub(crate) const NIBBLE_8: u8 = 255;
    /// Longest string written packed.
    pub(crate) const PACKED_MAX: usize = 127;
    /// The low nibble of an odd-length packed string's last byte.
    pub(crate) const PACKED_PADDING: u8 = 15;
}
