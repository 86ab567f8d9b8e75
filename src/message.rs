//! The end-to-end message content: what is inside a Signal or sender-key ciphertext.
//!
//! Owns a typed view of the protobuf `Message` for the kinds this project sends and
//! reads ([`Message`]: text, document, sender key distribution, the "sent from my other
//! device" wrapper), and WhatsApp's random padding ([`pad`], [`unpad`]) applied before
//! Signal encryption. Does not own the encryption (`signal`), the media blobs (`media`)
//! nor the stanza around the ciphertext.
//!
//! ```
//! use rand::SeedableRng;
//! use wa_wasm::message::{Message, pad, unpad};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let plaintext = pad(&Message::text("hola").encode(), &mut rng);
//! let message = Message::decode(unpad(&plaintext)?)?;
//! assert_eq!(message.text.as_deref(), Some("hola"));
//! # Ok::<(), wa_wasm::message::MessageError>(())
//! ```

use prost::Message as _;
use rand_core::CryptoRng;

use crate::proto::wa as pb;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The padding is absent or inconsistent.
    #[error("invalid message padding")]
    Padding,
    /// The bytes are not a `Message` protobuf.
    #[error("Message is not a valid protobuf: {0}")]
    Malformed(String),
}

/// A document (file) message; the blob itself travels encrypted through the media
/// servers (see `media`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Download URL (may be empty when `direct_path` is set).
    pub url: String,
    /// MIME type, e.g. `application/pdf`.
    pub mimetype: String,
    /// Title shown in the chat.
    pub title: String,
    /// File name.
    pub file_name: String,
    /// Caption, if any.
    pub caption: Option<String>,
    /// SHA-256 of the plaintext file.
    pub file_sha256: Vec<u8>,
    /// SHA-256 of the encrypted blob (ciphertext and MAC).
    pub file_enc_sha256: Vec<u8>,
    /// Plaintext length in bytes.
    pub file_length: u64,
    /// The 32-byte media key.
    pub media_key: Vec<u8>,
    /// Path of the blob on the media host.
    pub direct_path: String,
    /// When the media key was made (unix seconds).
    pub media_key_timestamp: i64,
}

/// An image message; the blob travels encrypted through the media servers like a
/// document's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    /// Download URL (may be empty when `direct_path` is set).
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mimetype: String,
    /// Caption, if any.
    pub caption: Option<String>,
    /// SHA-256 of the plaintext image.
    pub file_sha256: Vec<u8>,
    /// SHA-256 of the encrypted blob (ciphertext and MAC).
    pub file_enc_sha256: Vec<u8>,
    /// Plaintext length in bytes.
    pub file_length: u64,
    /// The 32-byte media key.
    pub media_key: Vec<u8>,
    /// Path of the blob on the media host.
    pub direct_path: String,
    /// When the media key was made (unix seconds).
    pub media_key_timestamp: i64,
    /// Width in pixels, when known.
    pub width: Option<u32>,
    /// Height in pixels, when known.
    pub height: Option<u32>,
}

/// A sender key distribution for a group, sent pairwise before the group ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderKeyDistribution {
    /// The group JID as text.
    pub group_id: String,
    /// The serialized Signal `SenderKeyDistributionMessage` (version byte and protobuf).
    pub distribution: Vec<u8>,
}

/// A message as our own other devices receive it: what we sent, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSent {
    /// The chat the original message went to.
    pub destination_jid: String,
    /// The original message.
    pub message: Box<Message>,
}

/// The content of one end-to-end message. Fields that are `None` are absent; a message
/// may carry several (e.g. a sender key distribution and a text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Plain text (`conversation`, or the text of an `extendedTextMessage`).
    pub text: Option<String>,
    /// A document.
    pub document: Option<Document>,
    /// An image.
    pub image: Option<Image>,
    /// A sender key distribution.
    pub sender_key_distribution: Option<SenderKeyDistribution>,
    /// The wrapper for our own other devices.
    pub device_sent: Option<DeviceSent>,
    /// Whether the message held other content this view does not model (a protocol
    /// message, audio, a reaction, …).
    pub has_other_content: bool,
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message {
            text: Some(text.into()),
            ..Message::default()
        }
    }

    /// An image message.
    pub fn image(image: Image) -> Message {
        Message {
            image: Some(image),
            ..Message::default()
        }
    }

    /// A document message.
    pub fn document(document: Document) -> Message {
        Message {
            document: Some(document),
            ..Message::default()
        }
    }

    /// This message wrapped for our own other devices.
    pub fn sent_to(self, destination_jid: impl Into<String>) -> Message {
        Message {
            device_sent: Some(DeviceSent {
                destination_jid: destination_jid.into(),
                message: Box::new(self),
            }),
            ..Message::default()
        }
    }

    /// The message itself, looking through the "sent from my other device" wrapper.
    pub fn inner(&self) -> &Message {
        match &self.device_sent {
            Some(sent) => sent.message.inner(),
            None => self,
        }
    }

    /// Serializes the message (no padding).
    pub fn encode(&self) -> Vec<u8> {
        to_proto(self).encode_to_vec()
    }

    /// Parses a message (padding already removed).
    pub fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
        let message =
            pb::Message::decode(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        Ok(from_proto(message))
    }
}

fn to_proto(message: &Message) -> pb::Message {
    pb::Message {
        conversation: message.text.clone(),
        document_message: message.document.as_ref().map(|d| {
            Box::new(pb::DocumentMessage {
                url: Some(d.url.clone()),
                mimetype: Some(d.mimetype.clone()),
                title: Some(d.title.clone()),
                file_sha256: Some(d.file_sha256.clone()),
                file_length: Some(d.file_length),
                media_key: Some(d.media_key.clone()),
                file_name: Some(d.file_name.clone()),
                file_enc_sha256: Some(d.file_enc_sha256.clone()),
                direct_path: Some(d.direct_path.clone()),
                media_key_timestamp: Some(d.media_key_timestamp),
                caption: d.caption.clone(),
                ..pb::DocumentMessage::default()
            })
        }),
        image_message: message.image.as_ref().map(|i| {
            Box::new(pb::ImageMessage {
                url: Some(i.url.clone()),
                mimetype: Some(i.mimetype.clone()),
                caption: i.caption.clone(),
                file_sha256: Some(i.file_sha256.clone()),
                file_length: Some(i.file_length),
                height: i.height,
                width: i.width,
                media_key: Some(i.media_key.clone()),
                file_enc_sha256: Some(i.file_enc_sha256.clone()),
                direct_path: Some(i.direct_path.clone()),
                media_key_timestamp: Some(i.media_key_timestamp),
                ..pb::ImageMessage::default()
            })
        }),
        sender_key_distribution_message: message.sender_key_distribution.as_ref().map(|s| {
            pb::SenderKeyDistributionMessage {
                group_id: Some(s.group_id.clone()),
                axolotl_sender_key_distribution_message: Some(s.distribution.clone()),
            }
        }),
        device_sent_message: message.device_sent.as_ref().map(|sent| {
            Box::new(pb::DeviceSentMessage {
                destination_jid: Some(sent.destination_jid.clone()),
                message: Some(Box::new(to_proto(&sent.message))),
                phash: None,
            })
        }),
        ..pb::Message::default()
    }
}

fn from_proto(message: pb::Message) -> Message {
    let pb::Message {
        conversation,
        sender_key_distribution_message,
        extended_text_message,
        document_message,
        device_sent_message,
        message_context_info: _,
        image_message,
        audio_message,
        video_message,
        protocol_message,
        view_once_message,
        ephemeral_message,
        reaction_message,
        document_with_caption_message,
        view_once_message_v2,
        edited_message,
    } = message;
    // A document with a caption arrives wrapped; unwrap it.
    let document_message = document_message.or_else(|| {
        document_with_caption_message
            .as_ref()
            .and_then(|w| w.message.as_ref())
            .and_then(|m| m.document_message.clone())
    });
    let has_other_content = audio_message.is_some()
        || video_message.is_some()
        || protocol_message.is_some()
        || view_once_message.is_some()
        || ephemeral_message.is_some()
        || reaction_message.is_some()
        || view_once_message_v2.is_some()
        || edited_message.is_some();
    Message {
        text: conversation.or_else(|| extended_text_message.and_then(|e| e.text)),
        document: document_message.map(|d| Document {
            url: d.url.unwrap_or_default(),
            mimetype: d.mimetype.unwrap_or_default(),
            title: d.title.unwrap_or_default(),
            file_name: d.file_name.unwrap_or_default(),
            caption: d.caption,
            file_sha256: d.file_sha256.unwrap_or_default(),
            file_enc_sha256: d.file_enc_sha256.unwrap_or_default(),
            file_length: d.file_length.unwrap_or(0),
            media_key: d.media_key.unwrap_or_default(),
            direct_path: d.direct_path.unwrap_or_default(),
            media_key_timestamp: d.media_key_timestamp.unwrap_or(0),
        }),
        image: image_message.map(|i| Image {
            url: i.url.unwrap_or_default(),
            mimetype: i.mimetype.unwrap_or_default(),
            caption: i.caption,
            file_sha256: i.file_sha256.unwrap_or_default(),
            file_enc_sha256: i.file_enc_sha256.unwrap_or_default(),
            file_length: i.file_length.unwrap_or(0),
            media_key: i.media_key.unwrap_or_default(),
            direct_path: i.direct_path.unwrap_or_default(),
            media_key_timestamp: i.media_key_timestamp.unwrap_or(0),
            width: i.width,
            height: i.height,
        }),
        sender_key_distribution: sender_key_distribution_message.map(|s| SenderKeyDistribution {
            group_id: s.group_id.unwrap_or_default(),
            distribution: s
                .axolotl_sender_key_distribution_message
                .unwrap_or_default(),
        }),
        device_sent: device_sent_message.map(|sent| DeviceSent {
            destination_jid: sent.destination_jid.unwrap_or_default(),
            message: Box::new(sent.message.map(|m| from_proto(*m)).unwrap_or_default()),
        }),
        has_other_content,
    }
}

/// Appends WhatsApp's random padding: N bytes of value N, N in 1..=16.
pub fn pad(plaintext: &[u8], rng: &mut impl CryptoRng) -> Vec<u8> {
    let n = (rng.next_u32() & 0x0f) as u8 + 1;
    let mut out = Vec::with_capacity(plaintext.len() + usize::from(n));
    out.extend_from_slice(plaintext);
    out.resize(plaintext.len() + usize::from(n), n);
    out
}

/// Removes the padding added by [`pad`] (any N in 1..=255 whose bytes all equal N).
pub fn unpad(padded: &[u8]) -> Result<&[u8], MessageError> {
    let (&n, _) = padded.split_last().ok_or(MessageError::Padding)?;
    let n = usize::from(n);
    if n == 0 || n > padded.len() {
        return Err(MessageError::Padding);
    }
    let (body, padding) = padded.split_at(padded.len() - n);
    if padding.iter().any(|&b| usize::from(b) != n) {
        return Err(MessageError::Padding);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn text_encodes_as_conversation_field_1() {
        // Field 1, length-delimited: 0x0a, length, bytes.
        assert_eq!(Message::text("hi").encode(), [0x0a, 2, b'h', b'i']);
        assert_eq!(
            Message::decode(&[0x0a, 2, b'h', b'i']).unwrap(),
            Message::text("hi")
        );
    }

    #[test]
    fn extended_text_and_wrapped_messages_are_read() {
        let extended = pb::Message {
            extended_text_message: Some(Box::new(pb::ExtendedTextMessage {
                text: Some("long".to_owned()),
                ..pb::ExtendedTextMessage::default()
            })),
            ..pb::Message::default()
        };
        let decoded = Message::decode(&extended.encode_to_vec()).unwrap();
        assert_eq!(decoded.text.as_deref(), Some("long"));

        let sent = Message::text("to Ana").sent_to("51999@s.whatsapp.net");
        let decoded = Message::decode(&sent.encode()).unwrap();
        assert_eq!(decoded.text, None);
        assert_eq!(decoded.inner().text.as_deref(), Some("to Ana"));
        assert_eq!(
            decoded.device_sent.unwrap().destination_jid,
            "51999@s.whatsapp.net"
        );
    }

    #[test]
    fn document_and_distribution_round_trip() {
        let message = Message {
            document: Some(Document {
                mimetype: "application/pdf".to_owned(),
                file_name: "ticket.pdf".to_owned(),
                file_length: 3,
                media_key: vec![1; 32],
                direct_path: "/v/t62/abc".to_owned(),
                caption: Some("your ticket".to_owned()),
                ..Document::default()
            }),
            sender_key_distribution: Some(SenderKeyDistribution {
                group_id: "123@g.us".to_owned(),
                distribution: vec![0x33, 1, 2],
            }),
            ..Message::default()
        };
        assert_eq!(Message::decode(&message.encode()).unwrap(), message);
    }

    #[test]
    fn unknown_content_is_flagged() {
        let reaction = pb::Message {
            reaction_message: Some(pb::ReactionMessage::default()),
            ..pb::Message::default()
        };
        assert!(
            Message::decode(&reaction.encode_to_vec())
                .unwrap()
                .has_other_content
        );
        assert!(matches!(
            Message::decode(&[0x0a, 9]),
            Err(MessageError::Malformed(_))
        ));
    }

    #[test]
    fn padding_round_trip_and_rejections() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut seen = [false; 17];
        for _ in 0..400 {
            let padded = pad(b"abc", &mut rng);
            let n = padded.len() - 3;
            assert!((1..=16).contains(&n));
            seen[n] = true;
            assert_eq!(unpad(&padded).unwrap(), b"abc");
        }
        assert!(seen[1..].iter().all(|&s| s), "every padding length occurs");
        assert_eq!(unpad(&[]), Err(MessageError::Padding));
        assert_eq!(unpad(&[1, 2, 0]), Err(MessageError::Padding));
        assert_eq!(unpad(&[1, 3, 3]), Err(MessageError::Padding));
        assert_eq!(unpad(&[9, 9]), Err(MessageError::Padding));
        assert_eq!(unpad(&[7, 2, 2]).unwrap(), [7]);
    }
}
