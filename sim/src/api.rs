//! The data the control API speaks: what tests (through [`crate::Sim`]) and HTTP
//! clients (as JSON) send to the simulator and read back.
//!
//! Owns the request and report types; every one is `serde` (de)serializable with
//! `snake_case` names, and the same shapes travel over HTTP.

use serde::{Deserialize, Serialize};

/// A simulated account and its devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Phone number (digits).
    pub phone: String,
    /// Phone-number JID, `phone@s.whatsapp.net`.
    pub jid: String,
    /// LID JID, `lid@lid`.
    pub lid: String,
    /// Push name.
    pub name: String,
    /// Devices, by device number.
    pub devices: Vec<DeviceInfo>,
}

/// Who plays a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Played by the simulator (a phone, or a contact's device).
    Simulated,
    /// A real client linked to the account (the client under test).
    Companion,
}

/// One device of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Device number (0 = the phone).
    pub device: u16,
    /// Phone-number device JID.
    pub jid: String,
    /// LID device JID.
    pub lid: String,
    /// Simulated or a linked client.
    pub kind: DeviceKind,
    /// Whether a client is logged in as this device right now.
    pub connected: bool,
    /// For companions: the platform name given at linking, and how many one-time
    /// pre-keys the server holds for it.
    pub platform: Option<String>,
    /// One-time pre-keys the server can still hand out for this device.
    pub pre_keys: usize,
    /// Stanzas queued for this device until it acknowledges them.
    pub queued: usize,
}

/// A live connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// Connection number (increasing).
    pub id: u64,
    /// `ws` or `local`.
    pub transport: String,
    /// `handshake`, `pairing`, `logged_in` or `closing`.
    pub state: String,
    /// The device logged in on it, if any.
    pub device: Option<String>,
}

/// A registration connection waiting to be linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingInfo {
    /// The connection.
    pub connection: u64,
    /// The QR references sent to the client, in order.
    pub refs: Vec<String>,
    /// The reference valid now, if any.
    pub current_ref: Option<String>,
    /// Phone number given by the client for code pairing, if any.
    pub code_phone: Option<String>,
}

/// A request to create an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// Phone number (digits); a free one is picked when absent.
    #[serde(default)]
    pub phone: Option<String>,
    /// Push name (default "Contact <phone>").
    #[serde(default)]
    pub name: Option<String>,
    /// Number of simulated devices (default 1: just the phone).
    #[serde(default)]
    pub devices: Option<u16>,
}

/// A document to send from a simulated device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSpec {
    /// File name.
    pub file_name: String,
    /// MIME type (default `application/pdf`).
    #[serde(default)]
    pub mimetype: Option<String>,
    /// File content, base64 (standard alphabet).
    pub data_base64: String,
    /// Caption.
    #[serde(default)]
    pub caption: Option<String>,
}

/// A message to send from a simulated device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// Sender: phone number, or a device JID (`phone:device@s.whatsapp.net`).
    pub from: String,
    /// Destination: a phone number, a user JID or a group JID.
    pub to: String,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Document.
    #[serde(default)]
    pub document: Option<DocumentSpec>,
}

/// What a message send produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInfo {
    /// Message id.
    pub id: String,
    /// Device JIDs the message was encrypted for (linked clients).
    pub delivered_to: Vec<String>,
}

/// A document as a simulated device received it (downloaded and decrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedDocument {
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub mimetype: String,
    /// Caption.
    pub caption: Option<String>,
    /// The decrypted content, base64; absent if it could not be downloaded or opened.
    pub data_base64: Option<String>,
    /// Why the content could not be opened, if it could not.
    pub error: Option<String>,
}

/// A message a simulated device received and decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// Message id.
    pub id: String,
    /// The receiving device (phone-number device JID).
    pub to: String,
    /// The sending device as the stanza named it.
    pub from: String,
    /// The chat: the sender's user JID, the group, or (for our own devices' copies)
    /// the destination.
    pub chat: String,
    /// Text, if any.
    pub text: Option<String>,
    /// Document, if any.
    pub document: Option<ReceivedDocument>,
    /// Whether this is our own other device's copy of what it sent.
    pub from_own_device: bool,
    /// Server time (unix seconds).
    pub timestamp: u64,
    /// The `count` of a re-sent message (after a retry receipt), 0 otherwise.
    pub retry_count: u32,
}

/// A receipt a client sent for a message of a simulated device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptInfo {
    /// Message id.
    pub id: String,
    /// The client device that sent the receipt.
    pub from: String,
    /// Receipt type (`delivery`, `read`, `retry`, …).
    pub kind: String,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Group JID.
    pub jid: String,
    /// Subject.
    pub subject: String,
    /// Creator phone.
    pub creator: String,
    /// Member phones.
    pub participants: Vec<String>,
}

/// A request to create a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    /// Subject.
    pub subject: String,
    /// Creator phone.
    pub creator: String,
    /// Other member phones.
    pub participants: Vec<String>,
}

/// How a simulated contact treats the next messages it receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactBehaviour {
    /// Silently drop this many next messages (no receipt at all).
    #[serde(default)]
    pub drop_next: u32,
    /// Corrupt this many next ciphertexts before decrypting them (the device then
    /// fails to decrypt and sends a retry receipt).
    #[serde(default)]
    pub corrupt_next: u32,
    /// Corrupt this many next ciphertexts this account sends to linked clients
    /// (the client then fails to decrypt and asks for a retry).
    #[serde(default)]
    pub corrupt_outgoing_next: u32,
    /// Send a read receipt after the delivery receipt.
    #[serde(default)]
    pub auto_read: bool,
    /// Address this account's messages to linked clients by LID (`from=<lid device>`
    /// with `sender_pn`) instead of by phone number (`from=<pn device>` with
    /// `sender_lid`).
    #[serde(default)]
    pub lid_addressing: bool,
}

/// A handshake step at which to close a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeStage {
    /// On receiving the ClientHello, before answering.
    ClientHello,
    /// Right after sending the ServerHello.
    ServerHello,
    /// On receiving the ClientFinish, before answering.
    ClientFinish,
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Close the matching live connections now (no stream error).
    CloseNow,
    /// Close the next new connection at a handshake step.
    CloseAtHandshake {
        /// Where.
        step: HandshakeStage,
    },
    /// Send `stream:error` with this code to the matching live connections, then
    /// close: 401 carries `<conflict type="device_removed"/>`, 440 is sent as
    /// `<conflict type="replaced"/>` without a code (as the real server does), every
    /// other code as `code="N"`.
    StreamError {
        /// The code.
        code: u16,
    },
    /// Answer the next login (of the target, or of anyone) with `failure reason=N`.
    FailureAtNextLogin {
        /// The reason code (401, 403, 405, 500, 503, …).
        reason: u16,
    },
    /// Do not send the next `count` acks.
    DropAcks {
        /// How many.
        count: u32,
    },
    /// Delay the next `count` acks by `ms` milliseconds.
    DelayAcks {
        /// Delay.
        ms: u64,
        /// How many.
        count: u32,
    },
    /// Flip a bit in the next frame sent (the client's decryption then fails).
    CorruptNextFrame,
    /// Send only half of the next frame, then close.
    TruncateNextFrame,
    /// Stop answering: ignore everything the matching connections send and send
    /// nothing (until `clear`).
    BlackHole,
    /// Remove every pending fault and end black holes.
    Clear,
}

/// A fault and what it targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRequest {
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
    /// A device JID (`phone:device@s.whatsapp.net`) to limit it to; all otherwise.
    #[serde(default)]
    pub target: Option<String>,
}

/// Something that happened in the simulator, for tests and the demo to wait on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SimEvent {
    /// A socket was accepted.
    ConnectionOpened {
        /// Connection number.
        connection: u64,
        /// `ws` or `local`.
        transport: String,
    },
    /// A connection ended.
    ConnectionClosed {
        /// Connection number.
        connection: u64,
        /// The device that was logged in, if any.
        device: Option<String>,
        /// Why.
        reason: String,
    },
    /// A registration connection received its QR references.
    PairingStarted {
        /// Connection number.
        connection: u64,
        /// The references.
        refs: Vec<String>,
    },
    /// A client asked for a pairing code for this phone.
    PairingCodeRequested {
        /// Connection number.
        connection: u64,
        /// Phone number.
        phone: String,
    },
    /// A device was linked.
    Paired {
        /// Connection number.
        connection: u64,
        /// The new device's JID.
        jid: String,
        /// Its LID.
        lid: String,
    },
    /// Linking failed.
    PairingFailed {
        /// Connection number.
        connection: u64,
        /// Why.
        reason: String,
    },
    /// A device logged in.
    LoggedIn {
        /// Connection number.
        connection: u64,
        /// Device JID.
        jid: String,
    },
    /// A login was answered with `failure`.
    LoginRefused {
        /// Connection number.
        connection: u64,
        /// The `failure reason`.
        reason: u16,
    },
    /// A linked client uploaded pre-keys.
    PreKeysUploaded {
        /// Device JID.
        jid: String,
        /// How many.
        count: usize,
    },
    /// A linked client sent a message.
    MessageFromClient {
        /// Sending device.
        from: String,
        /// Destination chat.
        to: String,
        /// Message id.
        id: String,
        /// Number of device copies routed.
        copies: usize,
    },
    /// A simulated device received a message.
    MessageReceived(ReceivedMessage),
    /// A simulated device could not decrypt a message (and asked for a retry).
    DecryptFailed {
        /// The simulated device.
        device: String,
        /// The sender.
        from: String,
        /// Message id.
        id: String,
        /// The error.
        error: String,
    },
    /// A linked client sent a receipt for a simulated device's message.
    Receipt(ReceiptInfo),
    /// A device was unlinked.
    Unlinked {
        /// Device JID.
        jid: String,
    },
    /// A stanza from a client was refused (logged and answered with an error).
    StanzaRejected {
        /// Connection number.
        connection: u64,
        /// Why.
        reason: String,
    },
    /// The server was restarted.
    Restarted,
}

/// An event with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Increasing number (for `GET /control/events?since=`).
    pub seq: u64,
    /// Unix time (ms).
    pub at_ms: u64,
    /// The event.
    pub event: SimEvent,
}
