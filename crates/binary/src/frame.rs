//! Frame payloads: the flag byte in front of every node in a decrypted transport frame.
//!
//! Owns the flag byte (`0x02` = zlib-compressed body) and bounded inflation. Does not own
//! the 3-byte frame length or encryption (see `noise`).

use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_zlib_with_limit};

use super::decode::{DecodeError, decode};
use super::encode::{EncodeError, encode_into};
use super::node::Node;

/// Flag bit: the body is zlib (RFC 1950) compressed.
pub const FLAG_COMPRESSED: u8 = 0x02;

/// The most a compressed body may inflate to (16 MiB, the frame size limit).
pub const MAX_INFLATED: usize = 16 << 20;

/// Decodes a frame payload: flag byte, then the node (inflated first when flagged).
pub fn unpack(payload: &[u8]) -> Result<Node, DecodeError> {
    let (&flags, body) = payload.split_first().ok_or(DecodeError::EmptyFrame)?;
    if flags & !FLAG_COMPRESSED != 0 {
        return Err(DecodeError::UnknownFrameFlags { flags });
    }
    if flags & FLAG_COMPRESSED == 0 {
        return decode(body);
    }
    let inflated =
        decompress_to_vec_zlib_with_limit(body, MAX_INFLATED).map_err(|e| match e.status {
            TINFLStatus::HasMoreOutput => DecodeError::InflatedTooLarge {
                limit: MAX_INFLATED,
            },
            TINFLStatus::Adler32Mismatch => DecodeError::Inflate {
                reason: "checksum mismatch",
            },
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                DecodeError::Inflate {
                    reason: "truncated stream",
                }
            }
            _ => DecodeError::Inflate {
                reason: "corrupt stream",
            },
        })?;
    decode(&inflated)
}

/// Encodes a node as a frame payload: flag byte 0 (clients never compress), then the node.
pub fn pack(node: &Node) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    pack_into(node, &mut out)?;
    Ok(out)
}

/// Appends a frame payload for `node` to `out`. On error `out` is left as it was.
pub fn pack_into(node: &Node, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.push(0);
    encode_into(node, out).inspect_err(|_| {
        out.pop();
    })
}
