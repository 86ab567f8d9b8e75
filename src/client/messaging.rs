//! Messaging: receiving (decrypt, de-duplicate, acknowledge after commit,
//! retry receipts), sending 1:1 (device lists, pre-key bundles, per-device
//! encryption, our own devices' copies, retries from a bounded outbox),
//! receipts and read marks, and "is on WhatsApp" queries.
//!
//! Reads and writes the records of [`super::keystore`]; every change leaves as
//! an [`super::Output::Persist`] and whatever depends on it (the message event,
//! the ack, the receipt, the sent stanza) waits behind it. Does not own the
//! Signal protocol itself (`signal`), the message protobuf (`message`) nor the
//! connection (`engine`).
//!
//! # Identities: LID and phone number
//!
//! A contact may appear under its phone-number JID or its LID. Sessions and
//! identities are kept under one name per device: the phone-number form when
//! the mapping is known (from `sender_pn`/`sender_lid`, group participants or
//! usync), the LID otherwise. A contact that switches form therefore keeps its
//! session, which avoids the "Bad MAC" loops of clients that keep two.

use core::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_core::CryptoRng;

use super::addressing::{self, AddressError};
use super::engine::{Client, ClientError};
use super::event::Event;
use super::iq::{IqError, QueryId};
use super::keystore::{SignalView, StoredRecords, signal_changes};
use super::stanza;
use super::state::{AfterCommit, Deferred, Purpose, State};
use crate::binary::{Jid, Node};
use crate::crypto::PublicKey;
use crate::message::{self, Document, Image, Message};
use crate::signal::store::StagedStore;
use crate::signal::{
    CiphertextMessage, IdentityKey, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress,
    RegistrationId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyName, SignalChanges,
    SignalError, SignedPreKeyId, group, session,
};
use crate::store::{Changes, Namespace, keys, save_credentials};

/// A message id (`3EB0…` for the ones we make).
pub type MessageId = String;

/// What an incoming message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// Text (plain or extended).
    Text(String),
    /// A document; download it with [`Client::download_document`].
    Document(Box<Document>),
    /// An image; download it with [`Client::download_image`].
    Image(Box<Image>),
    /// A kind this client does not show; `kind` is the stanza's media type
    /// or message type (`image`, `reaction`, `protocol`, …).
    Unsupported {
        /// The raw type.
        kind: String,
    },
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The message id.
    pub id: MessageId,
    /// The chat: the contact (phone-number JID when known) or the group.
    pub chat: Jid,
    /// The sending device.
    pub sender: Jid,
    /// Whether one of our own devices sent it.
    pub from_me: bool,
    /// The sender's push name, if given.
    pub push_name: Option<String>,
    /// Server time, unix seconds.
    pub timestamp: u64,
    /// The content.
    pub content: MessageContent,
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Delivered to the device.
    Delivered,
    /// Read on the device.
    Read,
    /// Our own other device received what we sent.
    Sender,
    /// The device could not decrypt and asked for the message again.
    Retry,
    /// Any other type, as sent.
    Other(String),
}

/// A receipt for messages we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The messages it is about.
    pub ids: Vec<MessageId>,
    /// The chat.
    pub chat: Jid,
    /// The device that sent it.
    pub from: Jid,
    /// What it says.
    pub kind: ReceiptKind,
    /// Server time, unix seconds (0 when absent).
    pub timestamp: u64,
}

/// Where a sent message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageStatus {
    /// The server accepted it.
    Sent,
    /// A recipient device received it.
    Delivered,
    /// A recipient read it.
    Read,
    /// It could not be sent.
    Failed(SendFailure),
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// The number is not on WhatsApp.
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsApp(Jid),
    /// A request needed for sending failed.
    #[error("request failed: {0}")]
    Request(IqError),
    /// The server refused the message (the ack's error code).
    #[error("the server refused the message ({0})")]
    Refused(String),
    /// Encryption failed for every device.
    #[error("encryption failed: {0}")]
    Encryption(String),
    /// The media upload failed.
    #[error("upload failed: {0}")]
    Upload(String),
    /// Storing what the send needed failed; nothing was sent.
    #[error("not stored, not sent")]
    NotStored,
    /// The server acknowledged none of the attempts.
    #[error("the server did not acknowledge the message after {0} attempts")]
    NoAck(u8),
}

/// How long the server has to acknowledge a sent message before it is sent
/// again on the same connection.
pub const ACK_TIMEOUT_MS: u64 = 20_000;

/// Sends of one message (the first and the repeats) before it fails with
/// [`SendFailure::NoAck`].
pub const MAX_SEND_ATTEMPTS: u8 = 3;

/// Outbox keys of stored stanzas waiting for their ack (message ids never
/// start with it).
const PENDING_ACK_PREFIX: &str = "ack:";

fn pending_ack_key(id: &str) -> String {
    format!("{PENDING_ACK_PREFIX}{id}")
}

/// A sent message waiting for the server's ack.
#[derive(Debug, Clone)]
pub(crate) struct PendingAck {
    /// Its chat (for the status events).
    pub(crate) chat: Jid,
    /// The stanza as sent, to send again unchanged.
    pub(crate) stanza: Node,
    /// When to send it again (unix ms).
    pub(crate) due: u64,
    /// How often it was sent.
    pub(crate) attempts: u8,
}

/// A status change of a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatusUpdate {
    /// The message.
    pub id: MessageId,
    /// Its chat.
    pub chat: Jid,
    /// The new status.
    pub status: MessageStatus,
}

/// One answer of [`Client::is_on_whatsapp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnWhatsApp {
    /// The number as asked (normalised digits).
    pub phone: String,
    /// Its phone-number JID.
    pub jid: Jid,
    /// Whether it has a WhatsApp account.
    pub exists: bool,
    /// Its LID, when the server gave one.
    pub lid: Option<Jid>,
}

/// A group we are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group JID.
    pub jid: Jid,
    /// Its subject.
    pub subject: String,
    /// Its members.
    pub participants: Vec<GroupParticipant>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParticipant {
    /// The member's phone-number JID.
    pub jid: Jid,
    /// Its LID, when given.
    pub lid: Option<Jid>,
    /// `admin` or `superadmin`, when the member is one.
    pub admin: Option<String>,
}

/// A send waiting for device lists or key bundles.
#[derive(Debug, Clone)]
pub(crate) struct PendingSend {
    id: MessageId,
    chat: Jid,
    message: Message,
    kind: &'static str,
    mediatype: Option<&'static str>,
    /// Whether device lists were fetched for it already (fetch at most once).
    listed: bool,
    /// Whether bundles were fetched already.
    keyed: bool,
    /// For a group: its members' user JIDs, once fetched.
    members: Option<Vec<Jid>>,
}

/// Why a stanza's enc could not be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error(transparent)]
    Message(#[from] message::MessageError),
    #[error("{0}")]
    Other(&'static str),
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    (!bytes.is_empty() && bytes.len() <= 4)
        .then(|| bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

fn child_bytes<'a>(node: &'a Node, tag: &str) -> Option<&'a [u8]> {
    node.child(tag).and_then(Node::content_bytes)
}

fn be24(id: u32) -> Vec<u8> {
    id.to_be_bytes().get(1..).unwrap_or_default().to_vec()
}

/// Reads a pre-key bundle (`<user>` of a key fetch, or `<keys>` of a retry
/// receipt with the registration id given separately).
fn parse_bundle(node: &Node, registration: Option<u32>, device: u32) -> Option<PreKeyBundle> {
    let registration =
        registration.or_else(|| child_bytes(node, "registration").and_then(be_u32))?;
    let identity = PublicKey::from_slice(child_bytes(node, "identity")?).ok()?;
    let skey = node.child("skey")?;
    let pre_key = node.child("key").and_then(|k| {
        Some((
            PreKeyId(be_u32(child_bytes(k, "id")?)?),
            PublicKey::from_slice(child_bytes(k, "value")?).ok()?,
        ))
    });
    Some(PreKeyBundle {
        registration_id: RegistrationId::new(registration),
        device_id: device,
        identity_key: IdentityKey::new(identity),
        signed_pre_key_id: SignedPreKeyId(be_u32(child_bytes(skey, "id")?)?),
        signed_pre_key: PublicKey::from_slice(child_bytes(skey, "value")?).ok()?,
        signed_pre_key_signature: child_bytes(skey, "signature")?.try_into().ok()?,
        pre_key,
    })
}

/// The Signal address of a (canonical) device JID.
pub(crate) fn address_of(jid: &Jid) -> ProtocolAddress {
    ProtocolAddress::from_user(jid.user(), jid.domain_type(), u32::from(jid.device()))
}

fn encode_device_list(devices: &[u16]) -> Vec<u8> {
    devices
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

fn decode_device_list(bytes: &[u8]) -> Vec<u16> {
    core::str::from_utf8(bytes)
        .unwrap_or_default()
        .split(',')
        .filter_map(|d| d.parse().ok())
        .collect()
}

/// A sent message kept for retry receipts: chat, stanza type, time, content.
fn encode_outbox(
    chat: &Jid,
    kind: &str,
    mediatype: Option<&str>,
    at: u64,
    message: &[u8],
) -> Vec<u8> {
    let header = format!(
        "{}\n{}\n{}\n{}\n",
        chat,
        kind,
        mediatype.unwrap_or_default(),
        at
    );
    let mut out = header.into_bytes();
    out.extend_from_slice(message);
    out
}

struct OutboxEntry {
    chat: Jid,
    kind: String,
    mediatype: Option<String>,
    at: u64,
    message: Vec<u8>,
}

fn decode_outbox(bytes: &[u8]) -> Option<OutboxEntry> {
    let mut fields = Vec::with_capacity(4);
    let mut rest = bytes;
    for _ in 0..4 {
        let end = rest.iter().position(|&b| b == b'\n')?;
        fields.push(core::str::from_utf8(rest.get(..end)?).ok()?.to_owned());
        rest = rest.get(end.saturating_add(1)..)?;
    }
    let [chat, kind, mediatype, at]: [String; 4] = fields.try_into().ok()?;
    Some(OutboxEntry {
        chat: chat.parse().ok()?,
        kind,
        mediatype: (!mediatype.is_empty()).then_some(mediatype),
        at: at.parse().ok()?,
        message: rest.to_vec(),
    })
}

/// A processed-message record: the receive time (8 bytes, big-endian), then
/// what was shown, so a run that died before showing it can show it again.
fn encode_processed(at: u64, message: Option<&IncomingMessage>) -> Vec<u8> {
    let mut out = at.to_be_bytes().to_vec();
    let Some(message) = message else {
        return out;
    };
    let (kind, body) = match &message.content {
        MessageContent::Text(text) => ("text".to_owned(), Message::text(text.as_str()).encode()),
        MessageContent::Document(document) => (
            "document".to_owned(),
            Message::document((**document).clone()).encode(),
        ),
        MessageContent::Image(image) => (
            "image".to_owned(),
            Message::image((**image).clone()).encode(),
        ),
        MessageContent::Unsupported { kind } => (format!("unsupported:{kind}"), Vec::new()),
    };
    let header = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        message.chat,
        u8::from(message.from_me),
        message
            .push_name
            .as_deref()
            .unwrap_or_default()
            .replace('\n', " "),
        message.timestamp,
        kind
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&body);
    out
}

fn decode_processed(record: &[u8], id: &str, sender: &Jid) -> Option<IncomingMessage> {
    let mut rest = record.get(8..)?;
    let mut fields = Vec::with_capacity(5);
    for _ in 0..5 {
        let end = rest.iter().position(|&b| b == b'\n')?;
        fields.push(core::str::from_utf8(rest.get(..end)?).ok()?.to_owned());
        rest = rest.get(end.saturating_add(1)..)?;
    }
    let [chat, from_me, push_name, timestamp, kind]: [String; 5] = fields.try_into().ok()?;
    let content = match kind.as_str() {
        "text" => MessageContent::Text(Message::decode(rest).ok()?.text?),
        "document" => MessageContent::Document(Box::new(Message::decode(rest).ok()?.document?)),
        "image" => MessageContent::Image(Box::new(Message::decode(rest).ok()?.image?)),
        other => MessageContent::Unsupported {
            kind: other.strip_prefix("unsupported:")?.to_owned(),
        },
    };
    Some(IncomingMessage {
        id: id.to_owned(),
        chat: chat.parse().ok()?,
        sender: sender.clone(),
        from_me: from_me == "1",
        push_name: (!push_name.is_empty()).then_some(push_name),
        timestamp: timestamp.parse().ok()?,
        content,
    })
}

fn receipt_kind(kind: Option<&str>) -> ReceiptKind {
    match kind {
        None | Some("") | Some("delivery") => ReceiptKind::Delivered,
        Some("read") | Some("read-self") => ReceiptKind::Read,
        Some("sender") => ReceiptKind::Sender,
        Some("retry") => ReceiptKind::Retry,
        Some(other) => ReceiptKind::Other(other.to_owned()),
    }
}

impl Client {
    /// Hands over the messaging records the shell loaded with
    /// [`super::load_records`] (call before [`connect`](Self::connect)).
    pub fn restore(&mut self, records: StoredRecords) {
        self.records.restore(records);
        // Stanzas a previous run sent without seeing their ack: sent again at
        // the next `open`.
        self.restore_pending_acks(0);
    }

    /// How many Signal sessions the engine holds.
    pub fn session_count(&self) -> usize {
        self.records.count(Namespace::Sessions)
    }

    /// Turns what a person typed (a phone number in any usual format, or a
    /// JID) into a recipient JID, with the configured default country code.
    pub fn parse_recipient(&self, input: &str) -> Result<Jid, ClientError> {
        addressing::parse_recipient(input, self.config.default_country_code.as_deref())
            .map_err(ClientError::Address)
    }

    /// Sends a text to a contact (a user JID: phone number or LID). Returns
    /// the message id at once; [`Event::MessageStatus`] follows (`sent` on the
    /// server's ack, then `delivered`/`read`, or `failed` with the reason).
    pub fn send_text(
        &mut self,
        to: &Jid,
        text: &str,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<MessageId, ClientError> {
        addressing::check_text(text).map_err(ClientError::Address)?;
        self.send_message(to, Message::text(text), now, rng)
    }

    /// Sends any [`Message`] to a contact (see [`send_text`](Self::send_text)).
    pub fn send_message(
        &mut self,
        to: &Jid,
        message: Message,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<MessageId, ClientError> {
        self.require_open()?;
        let chat = self.checked_chat(to)?;
        let id = self.new_message_id(rng);
        self.start_send(id.clone(), chat, message, now, rng);
        Ok(id)
    }

    /// The canonical chat for a contact JID, or why it cannot be one.
    pub(crate) fn checked_chat(&self, to: &Jid) -> Result<Jid, ClientError> {
        if to.is_group() && !to.user().is_empty() {
            return Ok(to.to_non_ad());
        }
        if !(to.is_pn() || to.is_lid()) || to.user().is_empty() {
            return Err(ClientError::Address(AddressError::InvalidJid(
                to.to_string(),
            )));
        }
        Ok(self.canonical(&to.to_non_ad()))
    }

    /// A fresh message id: `3EB0` and 18 random hex digits.
    pub(crate) fn new_message_id(&self, rng: &mut impl CryptoRng) -> MessageId {
        let mut bytes = [0u8; 9];
        rng.fill_bytes(&mut bytes);
        format!("3EB0{}", hex::encode_upper(bytes))
    }

    /// Starts sending `message` under `id` to the canonical `chat`.
    pub(crate) fn start_send(
        &mut self,
        id: MessageId,
        chat: Jid,
        message: Message,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let (kind, mediatype) = if message.document.is_some() {
            ("media", Some("document"))
        } else if message.image.is_some() {
            ("media", Some("image"))
        } else {
            ("text", None)
        };
        let pending = PendingSend {
            id,
            chat,
            message,
            kind,
            mediatype,
            listed: false,
            keyed: false,
            members: None,
        };
        self.advance_send(pending, now, rng);
    }

    /// Marks messages of `chat` as read (`sender`: the participant, in
    /// groups). Sends one read receipt for all `ids`.
    pub fn mark_read(
        &mut self,
        chat: &Jid,
        sender: Option<&Jid>,
        ids: &[MessageId],
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<(), ClientError> {
        self.require_open()?;
        let Some((first, rest)) = ids.split_first() else {
            return Ok(());
        };
        let mut receipt = Node::new("receipt")
            .attr("id", first.as_str())
            .attr("to", chat.clone())
            .attr("type", "read")
            .attr("t", now / 1000);
        if let Some(sender) = sender {
            receipt = receipt.attr("participant", sender.clone());
        }
        if !rest.is_empty() {
            receipt = receipt.children([Node::new("list").children(
                rest.iter()
                    .map(|id| Node::new("item").attr("id", id.as_str())),
            )]);
        }
        self.send_node(&receipt, now, rng);
        Ok(())
    }

    /// Asks which of `phones` (any human format) have WhatsApp. The answer
    /// arrives as [`Event::OnWhatsApp`]. Refuses impossible numbers.
    pub fn is_on_whatsapp(
        &mut self,
        phones: &[&str],
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<QueryId, ClientError> {
        self.require_open()?;
        let cc = self.config.default_country_code.clone();
        let digits = phones
            .iter()
            .map(|p| addressing::normalize_phone(p, cc.as_deref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClientError::Address)?;
        let users = digits
            .iter()
            .map(|d| {
                Node::new("user")
                    .children([Node::new("contact").bytes(format!("+{d}").into_bytes())])
            })
            .collect::<Vec<_>>();
        let request = usync_query(
            "interactive",
            vec![Node::new("contact"), Node::new("lid")],
            users,
            rng,
        );
        self.next_query = self.next_query.saturating_add(1);
        let id = QueryId(self.next_query);
        self.send_iq(
            request,
            Purpose::OnWhatsApp { id, phones: digits },
            now,
            rng,
        );
        Ok(id)
    }

    pub(crate) fn require_open(&self) -> Result<(), ClientError> {
        if matches!(self.state, State::Open(_)) && self.me().is_some() {
            Ok(())
        } else {
            Err(ClientError::NotOpen(self.state()))
        }
    }

    /// Our device JID (phone-number form).
    fn me(&self) -> Option<Jid> {
        self.creds
            .as_ref()
            .filter(|c| c.is_registered())
            .and_then(|c| c.me.as_deref())
            .and_then(|me| me.parse().ok())
    }

    fn my_lid(&self) -> Option<Jid> {
        self.creds
            .as_ref()
            .and_then(|c| c.lid.as_deref())
            .and_then(|lid| lid.parse().ok())
    }

    /// The form sessions and identities are kept under (see the module doc).
    pub(crate) fn canonical(&self, jid: &Jid) -> Jid {
        if !jid.is_lid() {
            return jid.clone();
        }
        if let (Some(me), Some(lid)) = (self.me(), self.my_lid())
            && lid.user() == jid.user()
        {
            return Jid::pn(me.user()).with_device(jid.device());
        }
        match self
            .records
            .get(Namespace::LidMappings, &keys::lid_to_pn(jid.user()))
            .and_then(|pn| core::str::from_utf8(pn).ok())
        {
            Some(pn) => Jid::pn(pn).with_device(jid.device()),
            None => jid.clone(),
        }
    }

    fn lid_mapping_changes(&self, lid: &Jid, pn: &Jid, changes: &mut Changes) {
        let known = self
            .records
            .get(Namespace::LidMappings, &keys::lid_to_pn(lid.user()))
            .is_some_and(|v| v == pn.user().as_bytes());
        if !known && lid.is_lid() && pn.is_pn() {
            changes.put(
                Namespace::LidMappings,
                keys::lid_to_pn(lid.user()),
                pn.user().as_bytes().to_vec(),
            );
            changes.put(
                Namespace::LidMappings,
                keys::pn_to_lid(pn.user()),
                lid.user().as_bytes().to_vec(),
            );
        }
    }

    /// Applies `changes` to memory and queues them; `then` waits for the commit.
    pub(crate) fn persist(&mut self, mut changes: Changes, then: AfterCommit) {
        for key in self.settled_acks.drain(..) {
            changes.delete(Namespace::Outbox, key);
        }
        self.records.apply(&changes);
        self.outbox.persist(changes, then);
    }

    fn persist_then(&mut self, changes: Changes, then: Vec<Deferred>) {
        if changes.is_empty() {
            for deferred in then {
                match deferred {
                    Deferred::Send(node) => self.queue_node(&node),
                    Deferred::Event(event) => self.outbox.event(event),
                }
            }
            return;
        }
        self.persist(changes, AfterCommit::Messaging(then));
    }

    /// Encrypts and queues a node on the current link (no-op without one).
    fn queue_node(&mut self, node: &Node) {
        if node.tag == "message" {
            self.stats.messages_out = self.stats.messages_out.saturating_add(1);
        }
        if let Some(link) = self.state.link_mut()
            && let Err(error) = link.send(node, &mut self.outbox)
        {
            tracing::warn!(%error, "cannot send");
        }
    }

    fn send_node(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        self.send(node, now, rng);
    }

    // ------------------------------------------------------------------
    // Receiving
    // ------------------------------------------------------------------

    pub(crate) fn on_message(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        self.stats.messages_in = self.stats.messages_in.saturating_add(1);
        let (Some(me), Some(creds)) = (self.me(), self.creds.clone()) else {
            return;
        };
        let (Some(id), Ok(from)) = (
            node.str_attr("id").map(str::to_owned),
            node.required_jid("from"),
        ) else {
            self.send_ack(node, now, rng);
            return;
        };
        let participant = node.optional_jid("participant").ok().flatten();
        let group = from.is_group().then(|| from.clone());
        let raw_sender = participant.clone().unwrap_or_else(|| from.clone());
        let alternative = [
            "sender_pn",
            "sender_lid",
            "participant_pn",
            "participant_lid",
        ]
        .iter()
        .find_map(|attr| node.optional_jid(attr).ok().flatten());
        let mut changes = Changes::new();
        if let Some(alt) = &alternative {
            let (lid, pn) = if raw_sender.is_lid() {
                (raw_sender.to_non_ad(), alt.to_non_ad())
            } else {
                (alt.to_non_ad(), raw_sender.to_non_ad())
            };
            self.lid_mapping_changes(&lid, &pn, &mut changes);
        }
        let sender = match (&alternative, raw_sender.is_lid()) {
            (Some(pn), true) if pn.is_pn() => Jid::pn(pn.user()).with_device(raw_sender.device()),
            _ => self.canonical(&raw_sender),
        };
        let from_me = sender.user() == me.user();
        let chat = match (&group, from_me) {
            (Some(group), _) => group.clone(),
            (None, true) => node
                .optional_jid("recipient")
                .ok()
                .flatten()
                .map(|r| self.canonical(&r.to_non_ad()))
                .unwrap_or_else(|| sender.to_non_ad()),
            (None, false) => sender.to_non_ad(),
        };
        let processed = keys::processed_message(&sender.to_string(), &id);
        let receipt = {
            let mut receipt = Node::new("receipt")
                .attr("id", id.as_str())
                .attr("to", from.clone());
            if let Some(participant) = &participant {
                receipt = receipt.attr("participant", participant.clone());
            }
            if from_me {
                receipt = receipt.attr("type", "sender");
            }
            receipt
        };
        let ack = stanza::ack(node);
        if let Some(record) = self.records.get(Namespace::ProcessedMessages, &processed) {
            self.stats.duplicates = self.stats.duplicates.saturating_add(1);
            let mut then = Vec::new();
            // Stored by an earlier run that may have died before the event
            // reached the application: show it again (at least once).
            if !self.surfaced.contains_key(&processed)
                && let Some(message) = decode_processed(record, &id, &sender)
            {
                self.surfaced.insert(processed, ());
                then.push(Deferred::Event(Event::Message(Box::new(message))));
            }
            then.push(Deferred::Send(receipt));
            then.extend(ack.map(Deferred::Send));
            self.persist_then(changes, then);
            return;
        }
        // A device we did not know of: the cached list is stale.
        let user_key = sender.to_non_ad().to_string();
        if let Some(list) = self.records.get(Namespace::DeviceLists, &user_key)
            && !decode_device_list(list).contains(&sender.device())
        {
            changes.delete(Namespace::DeviceLists, user_key);
        }

        let opened = {
            let view = SignalView::new(&self.records, &creds);
            open_stanza(&view, node, &sender, group.as_ref(), rng)
        };
        match opened {
            Ok((signal, content)) => {
                let identity_events = self.identity_events(&signal);
                changes.merge(signal_changes(&signal));
                let timestamp = node.optional_u64("t").ok().flatten().unwrap_or(now / 1000);
                let message = content.map(|content| IncomingMessage {
                    id,
                    chat,
                    sender,
                    from_me,
                    push_name: node.str_attr("notify").map(str::to_owned),
                    timestamp,
                    content,
                });
                changes.put(
                    Namespace::ProcessedMessages,
                    processed.as_str(),
                    encode_processed(now / 1000, message.as_ref()),
                );
                self.surfaced.insert(processed, ());
                let mut then = identity_events;
                if let Some(message) = message {
                    then.push(Deferred::Event(Event::Message(Box::new(message))));
                }
                then.push(Deferred::Send(receipt));
                then.extend(ack.map(Deferred::Send));
                self.persist_then(changes, then);
            }
            Err(error) => {
                tracing::info!(%id, from = %sender, %error, "cannot decrypt; asking for a retry");
                self.stats.retries_sent = self.stats.retries_sent.saturating_add(1);
                let count = {
                    let entry = self.retry_counts.entry(id.clone()).or_insert(0);
                    *entry = entry.saturating_add(1);
                    *entry
                };
                let t = node.optional_u64("t").ok().flatten().unwrap_or(now / 1000);
                let (retry, key_changes) =
                    self.retry_receipt(node, &from, participant.as_ref(), &id, t, count, rng);
                changes.merge(key_changes);
                let mut then = vec![Deferred::Send(retry)];
                then.extend(ack.map(Deferred::Send));
                self.persist_then(changes, then);
            }
        }
    }

    /// A retry receipt with a fresh one-time pre-key (stored first).
    #[allow(clippy::too_many_arguments)]
    fn retry_receipt(
        &mut self,
        node: &Node,
        from: &Jid,
        participant: Option<&Jid>,
        id: &str,
        t: u64,
        count: u32,
        rng: &mut impl CryptoRng,
    ) -> (Node, Changes) {
        let mut changes = Changes::new();
        let mut receipt = Node::new("receipt")
            .attr("id", id)
            .attr("to", from.clone())
            .attr("type", "retry");
        if let Some(participant) = participant {
            receipt = receipt.attr("participant", participant.clone());
        }
        if let Some(recipient) = node.optional_jid("recipient").ok().flatten() {
            receipt = receipt.attr("recipient", recipient);
        }
        let Some(creds) = self.creds.as_mut() else {
            return (receipt, changes);
        };
        let mut children = vec![
            Node::new("retry")
                .attr("count", count)
                .attr("id", id)
                .attr("t", t)
                .attr("v", "1"),
            Node::new("registration").bytes(creds.registration_id.to_be_bytes().to_vec()),
        ];
        let mut pre_key_id = creds.next_pre_key_id;
        if pre_key_id == 0 || pre_key_id > 0x00FF_FFFF {
            pre_key_id = 1;
        }
        let pre_key = PreKey::generate(PreKeyId(pre_key_id), rng);
        creds.next_pre_key_id = pre_key_id.saturating_add(1);
        changes.put(
            Namespace::PreKeys,
            keys::pre_key(pre_key_id),
            pre_key.to_bytes(),
        );
        changes.merge(save_credentials(creds));
        let mut key_children = vec![
            Node::new("type").bytes(vec![5]),
            Node::new("identity").bytes(creds.identity_key.public.as_bytes().to_vec()),
            Node::new("key").children([
                Node::new("id").bytes(be24(pre_key_id)),
                Node::new("value").bytes(pre_key.key_pair.public.as_bytes().to_vec()),
            ]),
            Node::new("skey").children([
                Node::new("id").bytes(be24(creds.signed_pre_key.id.0)),
                Node::new("value").bytes(creds.signed_pre_key.key_pair.public.as_bytes().to_vec()),
                Node::new("signature").bytes(creds.signed_pre_key.signature.to_vec()),
            ]),
        ];
        if let Some(account) = &creds.account {
            key_children
                .push(Node::new("device-identity").bytes(account.encode_signed_identity(true)));
        }
        children.push(Node::new("keys").children(key_children));
        (receipt.children(children), changes)
    }

    /// A receipt for something we sent (or a read mark from our own device).
    pub(crate) fn on_receipt(&mut self, node: &Node, now: u64, rng: &mut impl CryptoRng) {
        let (Some(id), Ok(from)) = (
            node.str_attr("id").map(str::to_owned),
            node.required_jid("from"),
        ) else {
            return;
        };
        let participant = node.optional_jid("participant").ok().flatten();
        let device = self.canonical(participant.as_ref().unwrap_or(&from));
        let chat = if from.is_group() {
            from.clone()
        } else {
            self.canonical(&from.to_non_ad())
        };
        let kind = receipt_kind(node.str_attr("type"));
        let mut ids = vec![id];
        if let Some(list) = node.child("list") {
            ids.extend(
                list.children_by_tag("item")
                    .filter_map(|i| i.str_attr("id").map(str::to_owned)),
            );
        }
        if kind == ReceiptKind::Retry
            && let Some(first) = ids.first().cloned()
        {
            self.answer_retry(node, &first, &device, now, rng);
        }
        let status = match kind {
            ReceiptKind::Delivered => Some(MessageStatus::Delivered),
            ReceiptKind::Read => Some(MessageStatus::Read),
            _ => None,
        };
        let timestamp = node.optional_u64("t").ok().flatten().unwrap_or(0);
        self.outbox.event(Event::Receipt(Receipt {
            ids: ids.clone(),
            chat: chat.clone(),
            from: device,
            kind,
            timestamp,
        }));
        if let Some(status) = status {
            for id in ids {
                // A device's receipt proves the server has the message: if its
                // ack is late or lost, count it as sent now and stop waiting.
                if let Some(chat) = self.settle_ack(&id) {
                    self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
                        id: id.clone(),
                        chat,
                        status: MessageStatus::Sent,
                    }));
                }
                self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
                    id,
                    chat: chat.clone(),
                    status: status.clone(),
                }));
            }
        }
    }

    /// The server's ack of a message we sent.
    pub(crate) fn on_message_ack(&mut self, node: &Node) -> bool {
        let Some(id) = node.str_attr("id") else {
            return false;
        };
        let Some(chat) = self.settle_ack(id) else {
            return false;
        };
        let status = match node.str_attr("error") {
            Some(code) => MessageStatus::Failed(SendFailure::Refused(code.to_owned())),
            None => MessageStatus::Sent,
        };
        self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
            id: id.to_owned(),
            chat,
            status,
        }));
        true
    }

    /// Waits for the ack of `stanza`, and stores it (with the send's
    /// `changes`, so before it leaves) until the ack comes: a page closed
    /// before then sends it again on its next `open`.
    fn await_ack(&mut self, send: &PendingSend, stanza: &Node, now: u64, changes: &mut Changes) {
        match crate::binary::encode(stanza) {
            Ok(bytes) => {
                changes.put(Namespace::Outbox, pending_ack_key(&send.id), bytes);
            }
            Err(error) => tracing::warn!(%error, "a sent stanza cannot be stored"),
        }
        self.awaiting_ack.insert(
            send.id.clone(),
            PendingAck {
                chat: send.chat.clone(),
                stanza: stanza.clone(),
                due: now.saturating_add(ACK_TIMEOUT_MS),
                attempts: 1,
            },
        );
    }

    /// Stops waiting for the ack of `id` (it came, or a receipt proved the
    /// server has the message, or the message failed) and forgets its stored
    /// stanza; the chat, if it was waited for.
    fn settle_ack(&mut self, id: &str) -> Option<Jid> {
        let pending = self.awaiting_ack.remove(id)?;
        // Deleted with the next commit rather than in a write of its own: if
        // the page closes first, the next run sends it once more and the
        // server acknowledges the repeat without delivering it.
        self.settled_acks.push(pending_ack_key(id));
        Some(pending.chat)
    }

    /// Waits again for the acks of the stanzas a previous run stored and did
    /// not see acknowledged; they go out again at the next `open`.
    pub(crate) fn restore_pending_acks(&mut self, now: u64) {
        let stored: Vec<(String, Node)> = self
            .records
            .iter(Namespace::Outbox)
            .filter_map(|(key, bytes)| {
                let id = key.strip_prefix(PENDING_ACK_PREFIX)?;
                crate::binary::decode(bytes)
                    .ok()
                    .map(|stanza| (id.to_owned(), stanza))
            })
            .collect();
        for (id, stanza) in stored {
            let Ok(chat) = stanza.required_jid("to") else {
                continue;
            };
            self.awaiting_ack.insert(
                id,
                PendingAck {
                    chat,
                    stanza,
                    due: now.saturating_add(ACK_TIMEOUT_MS),
                    attempts: 1,
                },
            );
        }
    }

    /// Sends again the messages whose ack is overdue (`all`: every message
    /// still waiting, after a reconnect); a message sent
    /// [`MAX_SEND_ATTEMPTS`] times without an ack fails.
    pub(crate) fn resend_unacked(&mut self, now: u64, all: bool, rng: &mut impl CryptoRng) {
        let due: Vec<String> = self
            .awaiting_ack
            .iter()
            .filter(|(_, pending)| all || now >= pending.due)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(pending) = self.awaiting_ack.get_mut(&id) else {
                continue;
            };
            if pending.attempts >= MAX_SEND_ATTEMPTS {
                let attempts = pending.attempts;
                if let Some(chat) = self.settle_ack(&id) {
                    tracing::warn!(%id, attempts, "no ack for a sent message: giving up");
                    self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
                        id,
                        chat,
                        status: MessageStatus::Failed(SendFailure::NoAck(attempts)),
                    }));
                }
                continue;
            }
            pending.attempts = pending.attempts.saturating_add(1);
            pending.due = now.saturating_add(ACK_TIMEOUT_MS);
            let stanza = pending.stanza.clone();
            tracing::info!(%id, attempt = pending.attempts, "sending a message again: no ack yet");
            self.send(&stanza, now, rng);
        }
    }

    /// A device-list notification: forget the cached list.
    pub(crate) fn on_devices_notification(&mut self, node: &Node) {
        let Ok(from) = node.required_jid("from") else {
            return;
        };
        let user = self.canonical(&from.to_non_ad()).to_string();
        if self.records.get(Namespace::DeviceLists, &user).is_some() {
            let mut changes = Changes::new();
            changes.delete(Namespace::DeviceLists, user);
            self.persist_then(changes, Vec::new());
        }
    }

    // ------------------------------------------------------------------
    // Sending
    // ------------------------------------------------------------------

    fn cached_devices(&self, user: &Jid) -> Option<Vec<u16>> {
        self.records
            .get(Namespace::DeviceLists, &user.to_non_ad().to_string())
            .map(decode_device_list)
    }

    fn fail_send(&mut self, send: &PendingSend, failure: SendFailure) {
        self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
            id: send.id.clone(),
            chat: send.chat.clone(),
            status: MessageStatus::Failed(failure),
        }));
    }

    pub(crate) fn advance_send(
        &mut self,
        mut send: PendingSend,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let Some(me) = self.me() else {
            return;
        };
        let my_user = Jid::pn(me.user());
        let group = send.chat.is_group();
        if group && send.members.is_none() {
            let request = stanza::server_iq(
                "get",
                "w:g2",
                vec![Node::new("query").attr("request", "interactive")],
            )
            .attr("to", send.chat.clone());
            self.send_iq(request, Purpose::GroupMembers(Box::new(send)), now, rng);
            return;
        }
        let users = match &send.members {
            Some(members) => {
                let mut users = members.clone();
                if !users.contains(&my_user) {
                    users.push(my_user.clone());
                }
                users
            }
            None => vec![send.chat.clone(), my_user.clone()],
        };
        let unlisted: Vec<Jid> = users
            .iter()
            .filter(|u| self.cached_devices(u).is_none())
            .cloned()
            .collect();
        if !unlisted.is_empty() {
            if send.listed {
                let failure = SendFailure::NotOnWhatsApp(send.chat.clone());
                self.fail_send(&send, failure);
                return;
            }
            send.listed = true;
            let request = usync_query(
                "message",
                vec![Node::new("devices").attr("version", "2"), Node::new("lid")],
                unlisted
                    .iter()
                    .map(|u| Node::new("user").attr("jid", u.clone()))
                    .collect(),
                rng,
            );
            self.send_iq(request, Purpose::DeviceList(Box::new(send)), now, rng);
            return;
        }
        let mut devices = Vec::new();
        for user in &users {
            for device in self.cached_devices(user).unwrap_or_default() {
                let jid = Jid::pn(user.user()).with_device(device);
                let jid = if user.is_lid() {
                    user.clone().with_device(device)
                } else {
                    jid
                };
                if jid.user() == me.user() && device == me.device() {
                    continue;
                }
                if !devices.contains(&jid) {
                    devices.push(jid);
                }
            }
        }
        if !group && !devices.iter().any(|d| d.user() == send.chat.user()) {
            let failure = SendFailure::NotOnWhatsApp(send.chat.clone());
            self.fail_send(&send, failure);
            return;
        }
        let Some(creds) = self.creds.clone() else {
            return;
        };
        let memory = self.sender_key_memory(&send.chat);
        // A member left since our sender key went out: start a new one.
        let rotate = group
            && memory
                .iter()
                .any(|d| !users.iter().any(|u| u.user() == d.user()));
        let pairwise: Vec<Jid> = if group {
            devices
                .iter()
                .filter(|d| rotate || !memory.contains(d))
                .cloned()
                .collect()
        } else {
            devices.clone()
        };
        let missing: Vec<Jid> = {
            let view = SignalView::new(&self.records, &creds);
            pairwise
                .iter()
                .filter(|d| {
                    !crate::signal::store::SessionStore::session(&view, &address_of(d))
                        .ok()
                        .flatten()
                        .is_some_and(|s| s.has_current_session())
                })
                .cloned()
                .collect()
        };
        if !missing.is_empty() && !send.keyed {
            send.keyed = true;
            let request = stanza::server_iq(
                "get",
                "encrypt",
                vec![
                    Node::new("key").children(
                        missing
                            .iter()
                            .map(|d| Node::new("user").attr("jid", d.clone())),
                    ),
                ],
            );
            self.send_iq(request, Purpose::KeyBundles(Box::new(send)), now, rng);
            return;
        }
        if group {
            self.send_to_group(&send, &creds, &me, &devices, &pairwise, rotate, now, rng);
            return;
        }
        // Encrypt for every device with a session (the rest are skipped).
        let view = SignalView::new(&self.records, &creds);
        let mut staged = StagedStore::new(&view);
        let mut participants = Vec::new();
        let mut pkmsg = false;
        let mut last_error = None;
        let body = send.message.encode();
        let own_body = send.message.clone().sent_to(send.chat.to_string()).encode();
        for device in &devices {
            let plain = if device.user() == me.user() {
                &own_body
            } else {
                &body
            };
            let padded = message::pad(plain, rng);
            match session::encrypt(&staged, &address_of(device), &padded) {
                Ok(outcome) => {
                    staged.stage(outcome.changes);
                    pkmsg |= outcome.value.enc_type() == "pkmsg";
                    let mut enc = Node::new("enc")
                        .attr("v", "2")
                        .attr("type", outcome.value.enc_type());
                    if let Some(mediatype) = send.mediatype {
                        enc = enc.attr("mediatype", mediatype);
                    }
                    participants.push(
                        Node::new("to")
                            .attr("jid", device.clone())
                            .children([enc.bytes(outcome.value.serialized().to_vec())]),
                    );
                }
                Err(error) => {
                    tracing::info!(%device, %error, "device skipped");
                    last_error = Some(error.to_string());
                }
            }
        }
        let signal = staged.into_changes();
        if !participants.iter().any(|p| {
            p.optional_jid("jid")
                .ok()
                .flatten()
                .is_some_and(|j| j.user() == send.chat.user())
        }) {
            let failure =
                SendFailure::Encryption(last_error.unwrap_or_else(|| "no session".into()));
            self.fail_send(&send, failure);
            return;
        }
        let mut children = vec![Node::new("participants").children(participants)];
        if pkmsg && let Some(account) = &creds.account {
            children.push(Node::new("device-identity").bytes(account.encode_signed_identity(true)));
        }
        let stanza = Node::new("message")
            .attr("id", send.id.as_str())
            .attr("to", send.chat.clone())
            .attr("type", send.kind)
            .children(children);
        let mut changes = signal_changes(&signal);
        self.outbox_changes(&send, &body, now, &mut changes);
        self.await_ack(&send, &stanza, now, &mut changes);
        self.persist_then(changes, vec![Deferred::Send(stanza)]);
    }

    /// The devices that hold our current sender key for `group`.
    fn sender_key_memory(&self, group: &Jid) -> Vec<Jid> {
        self.records
            .get(Namespace::SenderKeyMemory, &group.to_string())
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(|text| text.split(',').filter_map(|j| j.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Encrypts once with our sender key; devices without it get the key
    /// pairwise in the same stanza.
    #[allow(clippy::too_many_arguments)]
    fn send_to_group(
        &mut self,
        send: &PendingSend,
        creds: &crate::store::Credentials,
        me: &Jid,
        devices: &[Jid],
        pairwise: &[Jid],
        rotate: bool,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let view = SignalView::new(&self.records, creds);
        let mut staged = StagedStore::new(&view);
        let name = SenderKeyName::new(send.chat.to_string(), address_of(me));
        if rotate {
            let mut fresh = SignalChanges::default();
            fresh
                .sender_keys
                .insert(name.clone(), crate::signal::SenderKeyRecord::new());
            staged.stage(fresh);
        }
        let distribution = match group::create_distribution(&staged, &name, rng) {
            Ok(outcome) => {
                staged.stage(outcome.changes);
                outcome.value
            }
            Err(error) => {
                let failure = SendFailure::Encryption(error.to_string());
                self.fail_send(send, failure);
                return;
            }
        };
        let skdm = Message {
            sender_key_distribution: Some(message::SenderKeyDistribution {
                group_id: send.chat.to_string(),
                distribution: distribution.serialized().to_vec(),
            }),
            ..Message::default()
        }
        .encode();
        let mut participants = Vec::new();
        let mut pkmsg = false;
        let mut holders: Vec<Jid> = if rotate {
            Vec::new()
        } else {
            self.sender_key_memory(&send.chat)
        };
        for device in pairwise {
            let padded = message::pad(&skdm, rng);
            match session::encrypt(&staged, &address_of(device), &padded) {
                Ok(outcome) => {
                    staged.stage(outcome.changes);
                    pkmsg |= outcome.value.enc_type() == "pkmsg";
                    participants.push(
                        Node::new("to")
                            .attr("jid", device.clone())
                            .children([Node::new("enc")
                                .attr("v", "2")
                                .attr("type", outcome.value.enc_type())
                                .bytes(outcome.value.serialized().to_vec())]),
                    );
                    holders.push(device.clone());
                }
                Err(error) => tracing::info!(%device, %error, "no sender key for this device"),
            }
        }
        holders.retain(|h| devices.contains(h));
        let body = send.message.encode();
        let padded = message::pad(&body, rng);
        let encrypted = match group::group_encrypt(&staged, &name, &padded, rng) {
            Ok(outcome) => outcome,
            Err(error) => {
                self.fail_send(send, SendFailure::Encryption(error.to_string()));
                return;
            }
        };
        staged.stage(encrypted.changes);
        let mut skmsg = Node::new("enc").attr("v", "2").attr("type", "skmsg");
        if let Some(mediatype) = send.mediatype {
            skmsg = skmsg.attr("mediatype", mediatype);
        }
        let mut children = Vec::new();
        if !participants.is_empty() {
            children.push(Node::new("participants").children(participants));
        }
        children.push(skmsg.bytes(encrypted.value.serialized().to_vec()));
        if pkmsg && let Some(account) = &creds.account {
            children.push(Node::new("device-identity").bytes(account.encode_signed_identity(true)));
        }
        let stanza = Node::new("message")
            .attr("id", send.id.as_str())
            .attr("to", send.chat.clone())
            .attr("type", send.kind)
            .children(children);
        let signal = staged.into_changes();
        let mut changes = signal_changes(&signal);
        changes.put(
            Namespace::SenderKeyMemory,
            send.chat.to_string(),
            holders
                .iter()
                .map(Jid::to_string)
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes(),
        );
        self.outbox_changes(send, &body, now, &mut changes);
        self.await_ack(send, &stanza, now, &mut changes);
        self.persist_then(changes, vec![Deferred::Send(stanza)]);
    }

    /// The group's members arrived: go on with the send.
    pub(crate) fn on_group_members(
        &mut self,
        mut send: PendingSend,
        answer: Result<Node, IqError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let info = answer.and_then(|node| {
            node.child("group")
                .map(|g| self.parse_group(g))
                .ok_or_else(|| {
                    IqError::Malformed(crate::binary::NodeError::MissingChild {
                        tag: "iq".to_owned(),
                        child: "group".to_owned(),
                    })
                })
        });
        match info {
            Ok((info, changes)) => {
                self.persist_then(changes, Vec::new());
                send.members = Some(info.participants.iter().map(|p| p.jid.clone()).collect());
                self.advance_send(send, now, rng);
            }
            Err(error) => self.fail_send(&send, SendFailure::Request(error)),
        }
    }

    /// Reads a `<group>`; also notes the members' LIDs.
    fn parse_group(&self, node: &Node) -> (GroupInfo, Changes) {
        let mut changes = Changes::new();
        let id = node.str_attr("id").unwrap_or_default();
        let jid = if id.contains('@') {
            id.parse().unwrap_or_else(|_| Jid::group(id))
        } else {
            Jid::group(id)
        };
        let participants = node
            .children_by_tag("participant")
            .filter_map(|p| {
                let jid = p.optional_jid("jid").ok().flatten()?;
                let lid = p.optional_jid("lid").ok().flatten();
                if let Some(lid) = &lid {
                    self.lid_mapping_changes(lid, &jid.to_non_ad(), &mut changes);
                }
                Some(GroupParticipant {
                    jid: jid.to_non_ad(),
                    lid,
                    admin: p.str_attr("type").map(str::to_owned),
                })
            })
            .collect();
        (
            GroupInfo {
                jid,
                subject: node.str_attr("subject").unwrap_or_default().to_owned(),
                participants,
            },
            changes,
        )
    }

    /// Lists the groups we are in, with their participants; the answer
    /// arrives as [`Event::Groups`].
    pub fn groups(&mut self, now: u64, rng: &mut impl CryptoRng) -> Result<QueryId, ClientError> {
        self.require_open()?;
        let request = stanza::server_iq(
            "get",
            "w:g2",
            vec![
                Node::new("participating")
                    .children([Node::new("participants"), Node::new("description")]),
            ],
        )
        .attr("to", Jid::group(""));
        self.next_query = self.next_query.saturating_add(1);
        let id = QueryId(self.next_query);
        self.send_iq(request, Purpose::Groups(id), now, rng);
        Ok(id)
    }

    pub(crate) fn on_groups(&mut self, id: QueryId, answer: Result<Node, IqError>) {
        let mut changes = Changes::new();
        let result = answer.map(|node| {
            node.child("groups")
                .map(|g| g.children_by_tag("group").collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|g| {
                    let (info, more) = self.parse_group(g);
                    changes.merge(more);
                    info
                })
                .collect()
        });
        self.persist_then(changes, Vec::new());
        self.outbox.event(Event::Groups { id, result });
    }

    /// Keeps a sent message for retry receipts, evicting the oldest beyond capacity.
    fn outbox_changes(&self, send: &PendingSend, body: &[u8], now: u64, changes: &mut Changes) {
        changes.put(
            Namespace::Outbox,
            send.id.as_str(),
            encode_outbox(&send.chat, send.kind, send.mediatype, now, body),
        );
        let capacity = self.config.outbox_capacity.max(1);
        let held = self
            .records
            .iter(Namespace::Outbox)
            .filter(|(key, _)| !key.starts_with(PENDING_ACK_PREFIX))
            .count();
        if held >= capacity {
            // Oldest first, from a heap: no sort code for this one list.
            let mut entries: BinaryHeap<Reverse<(u64, String)>> = self
                .records
                .iter(Namespace::Outbox)
                .filter_map(|(k, v)| decode_outbox(v).map(|e| Reverse((e.at, k.clone()))))
                .collect();
            let excess = held.saturating_add(1).saturating_sub(capacity);
            for _ in 0..excess {
                let Some(Reverse((_, key))) = entries.pop() else {
                    break;
                };
                changes.delete(Namespace::Outbox, key);
            }
        }
    }

    pub(crate) fn on_device_lists(
        &mut self,
        send: PendingSend,
        answer: Result<Node, IqError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let node = match answer {
            Ok(node) => node,
            Err(error) => {
                self.fail_send(&send, SendFailure::Request(error));
                return;
            }
        };
        let changes = self.usync_changes(&node);
        self.persist_then(changes, Vec::new());
        self.advance_send(send, now, rng);
    }

    /// Caches what a usync answer says: device lists and LID mappings.
    fn usync_changes(&self, node: &Node) -> Changes {
        let mut changes = Changes::new();
        let users = node
            .child_path(&["usync", "list"])
            .map(|l| l.children_by_tag("user").cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for user in users {
            let Ok(jid) = user.required_jid("jid") else {
                continue;
            };
            let pn = self.canonical(&jid.to_non_ad());
            if let Some(lid) = user
                .child("lid")
                .and_then(|l| l.optional_jid("val").ok().flatten())
            {
                self.lid_mapping_changes(&lid, &pn, &mut changes);
            }
            let devices: Vec<u16> = user
                .child_path(&["devices", "device-list"])
                .map(|list| {
                    list.children_by_tag("device")
                        .filter_map(|d| d.optional_u64("id").ok().flatten())
                        .filter_map(|d| u16::try_from(d).ok())
                        .collect()
                })
                .unwrap_or_default();
            if !devices.is_empty() {
                changes.put(
                    Namespace::DeviceLists,
                    pn.to_string(),
                    encode_device_list(&devices),
                );
            }
        }
        changes
    }

    pub(crate) fn on_key_bundles(
        &mut self,
        send: PendingSend,
        answer: Result<Node, IqError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let node = match answer {
            Ok(node) => node,
            Err(error) => {
                self.fail_send(&send, SendFailure::Request(error));
                return;
            }
        };
        let Some(creds) = self.creds.clone() else {
            return;
        };
        let signal = {
            let view = SignalView::new(&self.records, &creds);
            let mut staged = StagedStore::new(&view);
            for user in node
                .child("list")
                .map(|l| l.children_by_tag("user").collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let Ok(jid) = user.required_jid("jid") else {
                    continue;
                };
                let jid = self.canonical(&jid);
                let Some(bundle) = parse_bundle(user, None, u32::from(jid.device())) else {
                    tracing::info!(%jid, "no usable bundle");
                    continue;
                };
                match session::process_bundle(&staged, &address_of(&jid), &bundle, rng) {
                    Ok(outcome) => staged.stage(outcome.changes),
                    Err(error) => tracing::info!(%jid, %error, "bundle refused"),
                }
            }
            staged.into_changes()
        };
        let identity_events = self.identity_events(&signal);
        self.persist_then(signal_changes(&signal), identity_events);
        self.advance_send(send, now, rng);
    }

    fn identity_events(&self, signal: &SignalChanges) -> Vec<Deferred> {
        signal
            .identity_changes
            .keys()
            .filter_map(|address| {
                let (user, server) = match address.name().split_once('_') {
                    Some((user, "1")) => (user, crate::binary::Server::Lid),
                    Some(_) => return None,
                    None => (address.name(), crate::binary::Server::Whatsapp),
                };
                let device = u16::try_from(address.device_id()).ok()?;
                Some(Deferred::Event(Event::IdentityChanged {
                    jid: Jid::new(user, server).with_device(device),
                }))
            })
            .collect()
    }

    pub(crate) fn on_on_whatsapp(
        &mut self,
        id: QueryId,
        phones: Vec<String>,
        answer: Result<Node, IqError>,
    ) {
        let result = answer.map(|node| {
            let users: Vec<Node> = node
                .child_path(&["usync", "list"])
                .map(|l| l.children_by_tag("user").cloned().collect())
                .unwrap_or_default();
            phones
                .into_iter()
                .map(|phone| {
                    let user = users
                        .iter()
                        .find(|u| u.required_jid("jid").is_ok_and(|j| j.user() == phone));
                    let exists = user
                        .and_then(|u| u.child("contact"))
                        .and_then(|c| c.str_attr("type"))
                        == Some("in");
                    let lid = user
                        .and_then(|u| u.child("lid"))
                        .and_then(|l| l.optional_jid("val").ok().flatten());
                    OnWhatsApp {
                        jid: Jid::pn(phone.as_str()),
                        phone,
                        exists,
                        lid,
                    }
                })
                .collect()
        });
        self.outbox.event(Event::OnWhatsApp { id, result });
    }

    /// Another device could not decrypt what we sent: re-encrypt it for that
    /// device (with the fresh keys it sent, if any).
    fn answer_retry(
        &mut self,
        node: &Node,
        id: &str,
        device: &Jid,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let Some(entry) = self
            .records
            .get(Namespace::Outbox, id)
            .and_then(decode_outbox)
        else {
            tracing::info!(%id, "retry receipt for a message no longer kept");
            return;
        };
        let (Some(me), Some(creds)) = (self.me(), self.creds.clone()) else {
            return;
        };
        let Ok(original) = Message::decode(&entry.message) else {
            return;
        };
        let count = node
            .child("retry")
            .and_then(|r| r.str_attr("count"))
            .unwrap_or("1")
            .to_owned();
        let group = entry.chat.is_group();
        let content = if device.user() == me.user() && !group {
            original.sent_to(entry.chat.to_string())
        } else {
            original
        };
        let registration = child_bytes(node, "registration").and_then(be_u32);
        let view = SignalView::new(&self.records, &creds);
        let mut staged = StagedStore::new(&view);
        if let Some(keys) = node.child("keys")
            && let Some(bundle) = parse_bundle(keys, registration, u32::from(device.device()))
        {
            match session::process_bundle(&staged, &address_of(device), &bundle, rng) {
                Ok(outcome) => staged.stage(outcome.changes),
                Err(error) => tracing::info!(%error, "retry keys refused"),
            }
        }
        let padded = message::pad(&content.encode(), rng);
        let outcome = match session::encrypt(&staged, &address_of(device), &padded) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::info!(%id, %error, "cannot re-encrypt for a retry");
                return;
            }
        };
        staged.stage(outcome.changes);
        let signal = staged.into_changes();
        let mut enc = Node::new("enc")
            .attr("v", "2")
            .attr("type", outcome.value.enc_type())
            .attr("count", count.as_str());
        if let Some(mediatype) = &entry.mediatype {
            enc = enc.attr("mediatype", mediatype.as_str());
        }
        let mut children = vec![enc.bytes(outcome.value.serialized().to_vec())];
        if outcome.value.enc_type() == "pkmsg"
            && let Some(account) = &creds.account
        {
            children.push(Node::new("device-identity").bytes(account.encode_signed_identity(true)));
        }
        let mut changes = signal_changes(&signal);
        let stanza = if group {
            // Pairwise inside the group stanza, to that device only. It did not
            // get our sender key either: the next group send gives it again.
            let holders: Vec<String> = self
                .sender_key_memory(&entry.chat)
                .iter()
                .filter(|d| *d != device)
                .map(Jid::to_string)
                .collect();
            changes.put(
                Namespace::SenderKeyMemory,
                entry.chat.to_string(),
                holders.join(",").into_bytes(),
            );
            let (encs, rest): (Vec<Node>, Vec<Node>) =
                children.into_iter().partition(|c| c.tag == "enc");
            let mut grouped = vec![
                Node::new("participants")
                    .children([Node::new("to").attr("jid", device.clone()).children(encs)]),
            ];
            grouped.extend(rest);
            Node::new("message")
                .attr("id", id)
                .attr("to", entry.chat.clone())
                .attr("type", entry.kind.as_str())
                .children(grouped)
        } else {
            let to = if device.device() == 0 && device.user() != me.user() {
                device.to_non_ad()
            } else {
                device.clone()
            };
            Node::new("message")
                .attr("id", id)
                .attr("to", to)
                .attr("type", entry.kind.as_str())
                .children(children)
        };
        self.stats.retries_answered = self.stats.retries_answered.saturating_add(1);
        let _ = (now, entry.at);
        let mut then = self.identity_events(&signal);
        then.push(Deferred::Send(stanza));
        self.persist_then(changes, then);
    }

    /// Persists that failed or were dropped: the messages they would have
    /// sent fail.
    pub(crate) fn unsent(&mut self, dropped: Vec<AfterCommit>) {
        for after in dropped {
            let AfterCommit::Messaging(deferred) = after else {
                continue;
            };
            for item in deferred {
                let Deferred::Send(node) = item else {
                    continue;
                };
                if node.tag != "message" {
                    continue;
                }
                let Some(id) = node.str_attr("id") else {
                    continue;
                };
                if let Some(PendingAck { chat, .. }) = self.awaiting_ack.remove(id) {
                    self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
                        id: id.to_owned(),
                        chat,
                        status: MessageStatus::Failed(SendFailure::NotStored),
                    }));
                }
            }
        }
    }

    /// A request a send waited for failed: the send fails.
    pub(crate) fn fail_pending_send(&mut self, send: PendingSend, error: IqError) {
        self.fail_send(&send, SendFailure::Request(error));
    }
}

/// A usync query for `users` with these protocols.
fn usync_query(
    context: &str,
    protocols: Vec<Node>,
    users: Vec<Node>,
    rng: &mut impl CryptoRng,
) -> Node {
    let sid = format!("{}", rng.next_u64());
    stanza::server_iq(
        "get",
        "usync",
        vec![
            Node::new("usync")
                .attr("sid", sid)
                .attr("mode", "query")
                .attr("last", "true")
                .attr("index", "0")
                .attr("context", context)
                .children([
                    Node::new("query").children(protocols),
                    Node::new("list").children(users),
                ]),
        ],
    )
}

/// Decrypts every `enc` of a stanza (pairwise first, then the group one) and
/// reads the content. Returns the Signal changes and the content to surface
/// (`None` for a bare sender-key distribution).
fn open_stanza(
    view: &SignalView<'_>,
    node: &Node,
    sender: &Jid,
    group: Option<&Jid>,
    rng: &mut impl CryptoRng,
) -> Result<(SignalChanges, Option<MessageContent>), OpenError> {
    let mut staged = StagedStore::new(view);
    let address = address_of(sender);
    let mut merged = Message::default();
    let mut any = false;
    // Pairwise ciphertexts first: one of them may carry the sender key the
    // group ciphertext needs.
    let is_group = |enc: &&Node| enc.str_attr("type") == Some("skmsg");
    let encs = node
        .children_by_tag("enc")
        .filter(|enc| !is_group(enc))
        .chain(node.children_by_tag("enc").filter(is_group));
    let mut mediatype = None;
    for enc in encs {
        let kind = enc.str_attr("type").unwrap_or_default();
        mediatype = mediatype.or(enc.str_attr("mediatype"));
        let bytes = enc
            .content_bytes()
            .ok_or(OpenError::Other("enc without content"))?;
        let plaintext = if kind == "skmsg" {
            let group = group.ok_or(OpenError::Other("skmsg outside a group"))?;
            let message = SenderKeyMessage::from_bytes(bytes)?;
            let name = SenderKeyName::new(group.to_string(), address.clone());
            let outcome = group::group_decrypt(&staged, &name, &message)?;
            staged.stage(outcome.changes);
            outcome.value
        } else {
            let message = CiphertextMessage::parse(kind, bytes)
                .ok_or(OpenError::Other("unknown enc type"))??;
            let outcome = session::decrypt(&staged, &address, &message, rng)?;
            staged.stage(outcome.changes);
            outcome.value
        };
        let message = Message::decode(message::unpad(&plaintext)?)?;
        if let Some(skdm) = &message.sender_key_distribution {
            let distribution = SenderKeyDistributionMessage::from_bytes(&skdm.distribution)?;
            let group_id = group.map_or(skdm.group_id.clone(), Jid::to_string);
            let name = SenderKeyName::new(group_id, address.clone());
            let outcome = group::process_distribution(&staged, &name, &distribution)?;
            staged.stage(outcome.changes);
        }
        any = true;
        let inner = message.inner().clone();
        let empty = inner.sender_key_distribution.is_none()
            && inner.text.is_none()
            && inner.document.is_none()
            && inner.image.is_none();
        merged.has_other_content |= inner.has_other_content || empty;
        if inner.text.is_some() {
            merged.text = inner.text;
        }
        if inner.document.is_some() {
            merged.document = inner.document;
        }
        if inner.image.is_some() {
            merged.image = inner.image;
        }
    }
    if !any {
        return Err(OpenError::Other("no enc"));
    }
    let content = if let Some(document) = merged.document {
        Some(MessageContent::Document(Box::new(document)))
    } else if let Some(image) = merged.image {
        Some(MessageContent::Image(Box::new(image)))
    } else if let Some(text) = merged.text {
        Some(MessageContent::Text(text))
    } else if merged.has_other_content {
        Some(MessageContent::Unsupported {
            kind: mediatype
                .or(node.str_attr("type"))
                .unwrap_or("unknown")
                .to_owned(),
        })
    } else {
        None
    };
    Ok((staged.into_changes(), content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_entries_round_trip() {
        let chat = Jid::pn("15550001002");
        let bytes = encode_outbox(&chat, "media", Some("document"), 42, b"\n\x00body");
        let entry = decode_outbox(&bytes).unwrap();
        assert_eq!(entry.chat, chat);
        assert_eq!(entry.kind, "media");
        assert_eq!(entry.mediatype.as_deref(), Some("document"));
        assert_eq!(entry.at, 42);
        assert_eq!(entry.message, b"\n\x00body");
        assert!(decode_outbox(b"no newlines").is_none());
    }

    #[test]
    fn processed_records_keep_what_was_shown() {
        let message = IncomingMessage {
            id: "ABC".into(),
            chat: Jid::pn("15550001001"),
            sender: Jid::pn("15550001001").with_device(2),
            from_me: false,
            push_name: Some("Alice".into()),
            timestamp: 1_750_000_000,
            content: MessageContent::Text("hola\nqué tal".into()),
        };
        let record = encode_processed(7, Some(&message));
        assert_eq!(record.get(..8), Some(&7u64.to_be_bytes()[..]));
        assert_eq!(
            decode_processed(&record, "ABC", &message.sender),
            Some(message.clone())
        );
        let unsupported = IncomingMessage {
            content: MessageContent::Unsupported {
                kind: "image".into(),
            },
            push_name: None,
            ..message
        };
        let record = encode_processed(7, Some(&unsupported));
        assert_eq!(
            decode_processed(&record, "ABC", &unsupported.sender),
            Some(unsupported)
        );
        assert_eq!(
            decode_processed(&encode_processed(7, None), "ABC", &Jid::pn("1")),
            None
        );
    }

    #[test]
    fn device_lists_round_trip() {
        assert_eq!(
            decode_device_list(&encode_device_list(&[0, 1, 17])),
            [0, 1, 17]
        );
        assert_eq!(decode_device_list(b""), Vec::<u16>::new());
    }
}
