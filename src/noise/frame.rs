//! Frame codec: every WhatsApp frame is a 3-byte big-endian length followed by
//! the payload; the client's first WebSocket message starts with an intro header.

use std::collections::VecDeque;

/// The intro header sent once before the first client frame: `"WA"`, the
/// magic value 6, and the token dictionary version 3. It is also the Noise prologue.
pub const INTRO_HEADER: [u8; 4] = [b'W', b'A', 6, 3];

/// Starts the optional routing-info intro: `"ED"`, 0, 1, a 3-byte length,
/// the routing info, then [`INTRO_HEADER`].
pub const ROUTING_INFO_TAG: [u8; 4] = [b'E', b'D', 0, 1];

/// Length of the frame length prefix.
pub const FRAME_HEADER_LEN: usize = 3;

/// Largest payload a 3-byte length can describe (2^24 − 1).
pub const MAX_FRAME_PAYLOAD: usize = (1 << 24) - 1;

/// The decoder's default cap on a frame payload (16 MiB, so every length the
/// 3-byte prefix can express is accepted).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;

/// Errors of the frame codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A received length prefix announces more than the decoder accepts.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The announced payload length.
        len: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// A payload to send does not fit in a 3-byte length (must be below 2^24 bytes).
    #[error("payload of {0} bytes does not fit in a frame (limit 16777215)")]
    PayloadTooLarge(usize),
    /// Routing info to send does not fit in its 3-byte length.
    #[error("routing info of {0} bytes does not fit its 3-byte length")]
    RoutingInfoTooLarge(usize),
    /// The first bytes from the client are not `WA 06 03` (nor a routing-info intro).
    #[error("wrong intro header {}", hex::encode(.0))]
    WrongIntroHeader([u8; 4]),
    /// The stream ended inside a frame (or inside the intro header).
    #[error("stream ended with {received} of {expected} bytes of a frame")]
    Truncated {
        /// Bytes the unfinished item needs.
        expected: usize,
        /// Bytes of it that arrived.
        received: usize,
    },
}

/// Encodes one frame: the 3-byte big-endian length, then `payload`.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN.saturating_add(payload.len()));
    encode_frame_into(payload, &mut out)?;
    Ok(out)
}

/// Appends one frame (length prefix and `payload`) to `out`.
pub fn encode_frame_into(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    out.extend_from_slice(&frame_header(payload.len())?);
    out.extend_from_slice(payload);
    Ok(())
}

/// The 3-byte length prefix for a payload of `len` bytes.
pub(crate) fn frame_header(len: usize) -> Result<[u8; FRAME_HEADER_LEN], FrameError> {
    be24(len).ok_or(FrameError::PayloadTooLarge(len))
}

/// The bytes the client sends before its first frame: [`INTRO_HEADER`], or with
/// `routing_info` the `"ED"` variant that carries it in front of the header.
pub fn intro_bytes(routing_info: Option<&[u8]>) -> Result<Vec<u8>, FrameError> {
    let Some(info) = routing_info else {
        return Ok(INTRO_HEADER.to_vec());
    };
    let len = be24(info.len()).ok_or(FrameError::RoutingInfoTooLarge(info.len()))?;
    let mut out = Vec::with_capacity(info.len().saturating_add(11));
    out.extend_from_slice(&ROUTING_INFO_TAG);
    out.extend_from_slice(&len);
    out.extend_from_slice(info);
    out.extend_from_slice(&INTRO_HEADER);
    Ok(out)
}

fn be24(len: usize) -> Option<[u8; 3]> {
    if len > MAX_FRAME_PAYLOAD {
        return None;
    }
    let [_, a, b, c] = u32::try_from(len).ok()?.to_be_bytes();
    Some([a, b, c])
}

fn read_be24(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(FRAME_HEADER_LEN)
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
}

/// What the decoder is reading now; each item has a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// First 4 bytes from a client: `WA 06 03` or `ED 00 01`.
    IntroTag,
    /// The 3-byte routing info length.
    RoutingLength,
    /// Routing info of the given length.
    RoutingInfo(usize),
    /// The `WA 06 03` that follows routing info.
    IntroAfterRouting,
    /// A frame's 3-byte length.
    Length,
    /// A frame body of the given length.
    Body(usize),
}

impl Item {
    const fn size(self) -> usize {
        match self {
            Self::IntroTag | Self::IntroAfterRouting => INTRO_HEADER.len(),
            Self::RoutingLength | Self::Length => FRAME_HEADER_LEN,
            Self::RoutingInfo(len) | Self::Body(len) => len,
        }
    }
}

/// Reassembles frames from arbitrary byte chunks (split or merged frames).
///
/// Push bytes with [`push`](Self::push) and pop complete payloads with
/// [`next_frame`](Self::next_frame). A length prefix above the cap is an
/// error as soon as the prefix is known, before any of the body is buffered.
/// After an error the decoder stays failed (the stream is out of sync); frames
/// completed before the error can still be popped.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame_size: usize,
    item: Item,
    partial: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
    routing_info: Option<Vec<u8>>,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder for frames from the server (no intro header).
    pub fn new() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            item: Item::Length,
            partial: Vec::new(),
            ready: VecDeque::new(),
            routing_info: None,
            failed: None,
        }
    }

    /// A decoder for frames from a client: the stream must start with the intro
    /// header (optionally preceded by routing info), which is checked and removed.
    pub fn expecting_intro() -> Self {
        Self {
            item: Item::IntroTag,
            ..Self::new()
        }
    }

    /// Sets the largest accepted payload length.
    #[must_use]
    pub fn with_max_frame_size(mut self, max: usize) -> Self {
        self.max_frame_size = max;
        self
    }

    /// Feeds received bytes. Returns the error that desynchronised the stream
    /// (again on every later call).
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while !data.is_empty() {
            let wanted = self.item.size().saturating_sub(self.partial.len());
            let (head, rest) = data.split_at(wanted.min(data.len()));
            data = rest;
            let completed = if self.partial.is_empty() && head.len() == wanted {
                // The whole item is in this chunk: no need to stage it.
                head.to_vec()
            } else {
                self.partial.extend_from_slice(head);
                if self.partial.len() < self.item.size() {
                    break;
                }
                std::mem::take(&mut self.partial)
            };
            if let Err(err) = self.complete(completed) {
                self.failed = Some(err.clone());
                return Err(err);
            }
        }
        Ok(())
    }

    /// Handles one complete item and chooses the next.
    fn complete(&mut self, bytes: Vec<u8>) -> Result<(), FrameError> {
        self.item = match self.item {
            Item::IntroTag => match intro_tag(&bytes) {
                tag if tag == INTRO_HEADER => Item::Length,
                tag if tag == ROUTING_INFO_TAG => Item::RoutingLength,
                tag => return Err(FrameError::WrongIntroHeader(tag)),
            },
            Item::RoutingLength => {
                let len = read_be24(&bytes);
                if len > self.max_frame_size {
                    return Err(FrameError::FrameTooLarge {
                        len,
                        max: self.max_frame_size,
                    });
                }
                if len == 0 {
                    self.routing_info = Some(Vec::new());
                    Item::IntroAfterRouting
                } else {
                    Item::RoutingInfo(len)
                }
            }
            Item::RoutingInfo(_) => {
                self.routing_info = Some(bytes);
                Item::IntroAfterRouting
            }
            Item::IntroAfterRouting => match intro_tag(&bytes) {
                tag if tag == INTRO_HEADER => Item::Length,
                tag => return Err(FrameError::WrongIntroHeader(tag)),
            },
            Item::Length => {
                let len = read_be24(&bytes);
                if len > self.max_frame_size {
                    return Err(FrameError::FrameTooLarge {
                        len,
                        max: self.max_frame_size,
                    });
                }
                if len == 0 {
                    self.ready.push_back(Vec::new());
                    Item::Length
                } else {
                    Item::Body(len)
                }
            }
            Item::Body(_) => {
                self.ready.push_back(bytes);
                Item::Length
            }
        };
        Ok(())
    }

    /// Pops the next complete frame payload, oldest first.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Number of complete frames waiting to be popped.
    pub fn frames_ready(&self) -> usize {
        self.ready.len()
    }

    /// Bytes of an unfinished item (frame, length prefix or intro) held back.
    pub fn buffered_len(&self) -> usize {
        self.partial.len()
    }

    /// The routing info that preceded the client's intro header, if any.
    pub fn routing_info(&self) -> Option<&[u8]> {
        self.routing_info.as_deref()
    }

    /// Call when the stream ends: an error if it stopped inside a frame or intro,
    /// or if the decoder had failed.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.partial.is_empty() && matches!(self.item, Item::Length | Item::IntroTag) {
            return Ok(());
        }
        Err(FrameError::Truncated {
            expected: self.item.size(),
            received: self.partial.len(),
        })
    }
}

fn intro_tag(bytes: &[u8]) -> [u8; 4] {
    let mut tag = [0u8; 4];
    for (dst, src) in tag.iter_mut().zip(bytes) {
        *dst = *src;
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| decoder.next_frame()).collect()
    }

    #[test]
    fn encodes_big_endian_length() {
        assert_eq!(encode_frame(b"abc").unwrap(), b"\x00\x00\x03abc");
        let big = vec![7u8; 0x01_02_03];
        let framed = encode_frame(&big).unwrap();
        assert_eq!(&framed[..3], &[0x01, 0x02, 0x03]);
        assert_eq!(framed.len(), 3 + 0x01_02_03);
        assert_eq!(encode_frame(&[]).unwrap(), [0, 0, 0]);
    }

    #[test]
    fn encode_rejects_payload_of_2_pow_24() {
        let max = vec![0u8; MAX_FRAME_PAYLOAD];
        assert_eq!(&encode_frame(&max).unwrap()[..3], &[0xff, 0xff, 0xff]);
        let too_big = vec![0u8; 1 << 24];
        assert_eq!(
            encode_frame(&too_big),
            Err(FrameError::PayloadTooLarge(1 << 24))
        );
    }

    #[test]
    fn intro_bytes_plain_and_with_routing_info() {
        assert_eq!(intro_bytes(None).unwrap(), hex::decode("57410603").unwrap());
        assert_eq!(
            intro_bytes(Some(&[0xaa, 0xbb])).unwrap(),
            hex::decode("45440001000002aabb57410603").unwrap()
        );
        let too_big = vec![0u8; 1 << 24];
        assert_eq!(
            intro_bytes(Some(&too_big)),
            Err(FrameError::RoutingInfoTooLarge(1 << 24))
        );
    }

    #[test]
    fn decodes_merged_and_split_frames() {
        let mut stream = encode_frame(b"one").unwrap();
        stream.extend(encode_frame(b"").unwrap());
        stream.extend(encode_frame(b"three").unwrap());
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream[..2]).unwrap();
        assert_eq!(decoder.next_frame(), None);
        decoder.push(&stream[2..5]).unwrap();
        assert_eq!(decoder.buffered_len(), 2);
        decoder.push(&stream[5..]).unwrap();
        assert_eq!(decoder.frames_ready(), 3);
        assert_eq!(
            frames(&mut decoder),
            vec![b"one".to_vec(), vec![], b"three".to_vec()]
        );
        decoder.finish().unwrap();
    }

    #[test]
    fn oversized_length_fails_on_the_header_alone() {
        let mut decoder = FrameDecoder::new().with_max_frame_size(10);
        decoder.push(&encode_frame(&[1; 10]).unwrap()).unwrap();
        assert_eq!(decoder.push(&[0, 0]), Ok(()));
        assert_eq!(
            decoder.push(&[11]),
            Err(FrameError::FrameTooLarge { len: 11, max: 10 })
        );
        assert_eq!(decoder.buffered_len(), 0);
        // Stays failed, but the frame that completed before is still there.
        assert_eq!(
            decoder.push(b"more"),
            Err(FrameError::FrameTooLarge { len: 11, max: 10 })
        );
        assert_eq!(decoder.next_frame(), Some(vec![1; 10]));
        assert!(decoder.finish().is_err());
    }

    #[test]
    fn truncated_stream_is_reported_at_finish() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0, 0, 5, 1, 2]).unwrap();
        assert_eq!(decoder.next_frame(), None);
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated {
                expected: 5,
                received: 2
            })
        );
        let mut header_only = FrameDecoder::new();
        header_only.push(&[0]).unwrap();
        assert_eq!(
            header_only.finish(),
            Err(FrameError::Truncated {
                expected: 3,
                received: 1
            })
        );
        let mut intro_only = FrameDecoder::expecting_intro();
        intro_only.push(b"WA").unwrap();
        assert_eq!(
            intro_only.finish(),
            Err(FrameError::Truncated {
                expected: 4,
                received: 2
            })
        );
    }

    #[test]
    fn server_side_strips_intro_header() {
        let mut stream = intro_bytes(None).unwrap();
        stream.extend(encode_frame(b"hello").unwrap());
        for split in 0..stream.len() {
            let mut decoder = FrameDecoder::expecting_intro();
            decoder.push(&stream[..split]).unwrap();
            decoder.push(&stream[split..]).unwrap();
            assert_eq!(frames(&mut decoder), vec![b"hello".to_vec()]);
            assert_eq!(decoder.routing_info(), None);
        }
    }

    #[test]
    fn server_side_reads_routing_info() {
        let mut stream = intro_bytes(Some(b"route-me")).unwrap();
        stream.extend(encode_frame(b"hello").unwrap());
        for split in 0..stream.len() {
            let mut decoder = FrameDecoder::expecting_intro();
            decoder.push(&stream[..split]).unwrap();
            decoder.push(&stream[split..]).unwrap();
            assert_eq!(frames(&mut decoder), vec![b"hello".to_vec()]);
            assert_eq!(decoder.routing_info(), Some(&b"route-me"[..]));
        }
        let mut empty = intro_bytes(Some(b"")).unwrap();
        empty.extend(encode_frame(b"x").unwrap());
        let mut decoder = FrameDecoder::expecting_intro();
        decoder.push(&empty).unwrap();
        assert_eq!(decoder.routing_info(), Some(&b""[..]));
        assert_eq!(decoder.next_frame(), Some(b"x".to_vec()));
    }

    #[test]
    fn wrong_intro_headers_are_rejected() {
        for bad in [
            *b"WA\x06\x02",
            *b"WA\x05\x03",
            *b"\x00\x00\x05h",
            *b"ED\x00\x02",
        ] {
            let mut decoder = FrameDecoder::expecting_intro();
            assert_eq!(decoder.push(&bad), Err(FrameError::WrongIntroHeader(bad)));
        }
        // Routing info followed by something other than the WA header.
        let mut decoder = FrameDecoder::expecting_intro();
        assert_eq!(
            decoder.push(b"ED\x00\x01\x00\x00\x01zWA\x06\x02"),
            Err(FrameError::WrongIntroHeader(*b"WA\x06\x02"))
        );
        // Routing info longer than the cap.
        let mut decoder = FrameDecoder::expecting_intro().with_max_frame_size(4);
        assert_eq!(
            decoder.push(b"ED\x00\x01\x00\x00\x05"),
            Err(FrameError::FrameTooLarge { len: 5, max: 4 })
        );
    }

    #[test]
    fn client_decoder_does_not_expect_intro() {
        let mut decoder = FrameDecoder::new();
        decoder.push(b"WA\x06\x03").unwrap();
        // 0x574106 is read as a length: the client side never strips a header.
        assert_eq!(decoder.next_frame(), None);
        assert_eq!(decoder.buffered_len(), 1);
    }
}
