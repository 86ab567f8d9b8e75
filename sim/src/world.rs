//! Everything the simulated server knows, behind one lock: accounts and their devices,
//! groups, media, live connections, pending pairings, faults and the event log.
//!
//! Owns the data model ([`World`], [`Account`], [`Device`], …) and the small operations
//! every handler needs (resolving JIDs to devices, queueing stanzas for a device, ids,
//! events). What the stanzas mean lives in `stanza`, `pairing` and `phone`; the socket
//! side in `conn`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rand::rngs::StdRng;
use rand_core::Rng;
use tokio::sync::{broadcast, mpsc::UnboundedSender};
use wa_wasm::binary::{Jid, Node, Server};
use wa_wasm::crypto::{PublicKey, Signature};
use wa_wasm::signal::ProtocolAddress;

use crate::api::{
    AccountInfo, ConnectionInfo, ContactBehaviour, DeviceInfo, DeviceKind, EventRecord, GroupInfo,
    HandshakeStage, PairingInfo, ReceiptInfo, ReceivedMessage, SimEvent,
};
use crate::clock::Clock;
use crate::config::PairingTimings;
use crate::identity::ServerIdentity;
use crate::pairing::Pairing;
use crate::store::DeviceStore;

/// Most events kept for `GET /control/events`.
const EVENT_LOG_LEN: usize = 10_000;

/// One device of one account, by phone number and device number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct DeviceKey {
    pub(crate) phone: String,
    pub(crate) device: u16,
}

impl DeviceKey {
    pub(crate) fn new(phone: impl Into<String>, device: u16) -> DeviceKey {
        DeviceKey {
            phone: phone.into(),
            device,
        }
    }

    /// The phone-number device JID.
    pub(crate) fn pn_jid(&self) -> Jid {
        Jid::pn(self.phone.as_str()).with_device(self.device)
    }

    /// The Signal address simulated devices keep their sessions under.
    pub(crate) fn address(&self) -> ProtocolAddress {
        ProtocolAddress::new(self.phone.clone(), u32::from(self.device))
    }
}

impl std::fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.pn_jid())
    }
}

/// A signed pre-key as a client uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadedSignedKey {
    pub(crate) id: u32,
    pub(crate) public: PublicKey,
    pub(crate) signature: Signature,
}

/// A stanza waiting for a client's receipt or ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    /// The stanza tag (`message`, `receipt`, `notification`): the ack class.
    pub(crate) class: String,
    pub(crate) id: String,
    pub(crate) node: Node,
}

/// A real client linked to an account.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    pub(crate) noise_key: PublicKey,
    pub(crate) identity: PublicKey,
    pub(crate) registration_id: u32,
    pub(crate) signed_pre_key: UploadedSignedKey,
    pub(crate) pre_keys: BTreeMap<u32, PublicKey>,
    pub(crate) key_index: u32,
    /// The companion's signed device identity (its `pair-device-sign` reply).
    pub(crate) adv: Vec<u8>,
    pub(crate) platform: String,
    pub(crate) queue: VecDeque<Queued>,
}

/// A device played by the simulator.
#[derive(Debug, Clone)]
pub(crate) struct SimDevice {
    pub(crate) store: DeviceStore,
    /// For companions of a simulated account: the signed device identity attached to
    /// its `pkmsg`s (account form, with the account key).
    pub(crate) adv: Option<Vec<u8>>,
    pub(crate) key_index: u32,
    /// (group, device) pairs our sender key was distributed to.
    pub(crate) sender_key_sent: BTreeSet<(String, DeviceKey)>,
}

/// A device: simulated, or a linked client.
#[derive(Debug, Clone)]
pub(crate) enum Device {
    Sim(Box<SimDevice>),
    Companion(Box<Companion>),
}

/// What a simulated device sent, kept to answer retry receipts.
#[derive(Debug, Clone)]
pub(crate) struct SentMessage {
    pub(crate) from_device: u16,
    /// The destination chat (user or group JID).
    pub(crate) chat: Jid,
    /// The encoded `Message` (unpadded).
    pub(crate) message: Vec<u8>,
    /// The stanza `type` (`text` or `media`) and enc `mediatype`.
    pub(crate) kind: String,
    pub(crate) mediatype: Option<String>,
    pub(crate) t: u64,
}

/// An account: its phone (device 0) and other devices.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) phone: String,
    pub(crate) lid: String,
    pub(crate) name: String,
    pub(crate) raw_id: u32,
    pub(crate) devices: BTreeMap<u16, Device>,
    pub(crate) next_key_index: u32,
    pub(crate) behaviour: ContactBehaviour,
    pub(crate) received: Vec<ReceivedMessage>,
    pub(crate) sent: BTreeMap<String, SentMessage>,
    pub(crate) receipts: Vec<ReceiptInfo>,
    /// Retry receipts sent per message id.
    pub(crate) retries: HashMap<String, u32>,
}

impl Account {
    pub(crate) fn pn_jid(&self) -> Jid {
        Jid::pn(self.phone.as_str())
    }

    pub(crate) fn lid_jid(&self) -> Jid {
        Jid::lid(self.lid.as_str())
    }

    /// The device number a new companion gets (the lowest free one above 0).
    pub(crate) fn free_device(&self) -> Option<u16> {
        (1..u16::MAX).find(|d| !self.devices.contains_key(d))
    }

    pub(crate) fn sim(&self, device: u16) -> Option<&SimDevice> {
        match self.devices.get(&device) {
            Some(Device::Sim(sim)) => Some(sim),
            _ => None,
        }
    }

    pub(crate) fn sim_mut(&mut self, device: u16) -> Option<&mut SimDevice> {
        match self.devices.get_mut(&device) {
            Some(Device::Sim(sim)) => Some(sim),
            _ => None,
        }
    }

    pub(crate) fn companion_mut(&mut self, device: u16) -> Option<&mut Companion> {
        match self.devices.get_mut(&device) {
            Some(Device::Companion(c)) => Some(c),
            _ => None,
        }
    }
}

/// A group chat.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) creator: String,
    pub(crate) participants: Vec<String>,
    pub(crate) created: u64,
}

impl Group {
    pub(crate) fn jid(&self) -> Jid {
        Jid::group(self.id.as_str())
    }

    pub(crate) fn info(&self) -> GroupInfo {
        GroupInfo {
            jid: self.jid().to_string(),
            subject: self.subject.clone(),
            creator: self.creator.clone(),
            participants: self.participants.clone(),
        }
    }
}

/// What a connection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnState {
    Handshake,
    Pairing,
    LoggedIn(DeviceKey),
    Closing,
}

/// Orders for a connection task, sent from anywhere under the world lock.
#[derive(Debug)]
pub(crate) enum ConnCommand {
    /// Write a stanza.
    Send(Node),
    /// Write an acknowledgement (subject to ack faults).
    Ack(Node),
    /// Write the stanza (a stream error) if any, then close.
    Close {
        stream_error: Option<Node>,
        reason: String,
    },
}

/// A live connection as the world sees it.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub(crate) tx: UnboundedSender<ConnCommand>,
    pub(crate) transport: &'static str,
    pub(crate) state: ConnState,
}

/// What happens to an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckFault {
    Drop,
    Delay(u64),
}

/// What happens to an outgoing frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameFault {
    Corrupt,
    Truncate,
}

/// Pending faults. A `None` target matches every connection.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    pub(crate) handshake_close: VecDeque<HandshakeStage>,
    pub(crate) login_failures: Vec<(Option<DeviceKey>, u16)>,
    pub(crate) acks: Vec<(Option<DeviceKey>, AckFault, u32)>,
    pub(crate) frames: Vec<(Option<DeviceKey>, FrameFault)>,
    pub(crate) black_holes: Vec<Option<DeviceKey>>,
}

fn matches(target: &Option<DeviceKey>, device: Option<&DeviceKey>) -> bool {
    match target {
        None => true,
        Some(target) => device == Some(target),
    }
}

impl FaultBook {
    pub(crate) fn take_login_failure(&mut self, device: &DeviceKey) -> Option<u16> {
        let at = self
            .login_failures
            .iter()
            .position(|(target, _)| matches(target, Some(device)))?;
        Some(self.login_failures.remove(at).1)
    }

    pub(crate) fn take_ack_fault(&mut self, device: Option<&DeviceKey>) -> Option<AckFault> {
        let at = self
            .acks
            .iter()
            .position(|(target, _, left)| *left > 0 && matches(target, device))?;
        let entry = self.acks.get_mut(at)?;
        entry.2 = entry.2.saturating_sub(1);
        let fault = entry.1;
        if entry.2 == 0 {
            self.acks.remove(at);
        }
        Some(fault)
    }

    pub(crate) fn take_frame_fault(&mut self, device: Option<&DeviceKey>) -> Option<FrameFault> {
        let at = self
            .frames
            .iter()
            .position(|(target, _)| matches(target, device))?;
        Some(self.frames.remove(at).1)
    }

    pub(crate) fn black_holed(&self, device: Option<&DeviceKey>) -> bool {
        self.black_holes.iter().any(|t| matches(t, device))
    }
}

/// The event log and its live feed.
#[derive(Debug)]
pub(crate) struct EventLog {
    next_seq: u64,
    records: VecDeque<EventRecord>,
    pub(crate) feed: broadcast::Sender<EventRecord>,
}

impl EventLog {
    fn new() -> EventLog {
        EventLog {
            next_seq: 1,
            records: VecDeque::new(),
            feed: broadcast::channel(4096).0,
        }
    }

    pub(crate) fn since(&self, seq: u64) -> Vec<EventRecord> {
        self.records
            .iter()
            .filter(|r| r.seq > seq)
            .cloned()
            .collect()
    }
}

/// The whole simulated server.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) clock: Clock,
    pub(crate) rng: StdRng,
    pub(crate) identity: ServerIdentity,
    pub(crate) accounts: BTreeMap<String, Account>,
    pub(crate) by_lid: HashMap<String, String>,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) media: HashMap<String, Vec<u8>>,
    pub(crate) conns: HashMap<u64, ConnEntry>,
    pub(crate) online: HashMap<DeviceKey, u64>,
    pub(crate) pairings: HashMap<u64, Pairing>,
    pub(crate) faults: FaultBook,
    pub(crate) events: EventLog,
    pub(crate) timings: PairingTimings,
    pub(crate) auto_read: bool,
    /// `host:port` advertised in `media_conn`.
    pub(crate) media_host: String,
    pub(crate) next_conn: u64,
    next_id: u64,
    /// Which device sent each message a client sent (to route receipts back).
    pub(crate) client_sent: HashMap<String, DeviceKey>,
    /// The latest message stanzas clients sent, to recognise an exact repeat
    /// (a client sending again after a lost ack).
    pub(crate) recent_messages: VecDeque<(DeviceKey, Node)>,
    /// Whether something worth saving changed since the last save.
    pub(crate) dirty: bool,
}

/// Why an account could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The phone number is taken.
    #[error("phone {0} already has an account")]
    Exists(String),
    /// The phone number is not 7 to 15 digits without a leading 0.
    #[error("{0:?} is not a phone number (7 to 15 digits, no leading 0)")]
    InvalidPhone(String),
    /// An account needs at least its phone (device 0).
    #[error("an account needs at least one device")]
    NoDevices,
}

/// How many sent stanzas [`World::repeated_message`] remembers.
const RECENT_MESSAGES: usize = 1024;

impl World {
    /// Whether `sender` already sent exactly `node`; remembers it if not.
    pub(crate) fn repeated_message(&mut self, sender: &DeviceKey, node: &Node) -> bool {
        if self
            .recent_messages
            .iter()
            .any(|(from, sent)| from == sender && sent == node)
        {
            return true;
        }
        if self.recent_messages.len() >= RECENT_MESSAGES {
            self.recent_messages.pop_front();
        }
        self.recent_messages
            .push_back((sender.clone(), node.clone()));
        false
    }

    pub(crate) fn new(
        clock: Clock,
        mut rng: StdRng,
        identity: Option<ServerIdentity>,
        timings: PairingTimings,
        auto_read: bool,
    ) -> World {
        let identity = identity.unwrap_or_else(|| ServerIdentity::generate(&mut rng));
        World {
            clock,
            rng,
            identity,
            accounts: BTreeMap::new(),
            by_lid: HashMap::new(),
            groups: BTreeMap::new(),
            media: HashMap::new(),
            conns: HashMap::new(),
            online: HashMap::new(),
            pairings: HashMap::new(),
            faults: FaultBook::default(),
            events: EventLog::new(),
            timings,
            auto_read,
            media_host: String::new(),
            next_conn: 1,
            next_id: 1,
            client_sent: HashMap::new(),
            recent_messages: VecDeque::new(),
            dirty: false,
        }
    }

    /// Current unix time in seconds.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_secs()
    }

    /// Records an event and publishes it.
    pub(crate) fn emit(&mut self, event: SimEvent) {
        let record = EventRecord {
            seq: self.events.next_seq,
            at_ms: self.clock.now_ms(),
            event,
        };
        self.events.next_seq = self.events.next_seq.saturating_add(1);
        tracing::debug!(seq = record.seq, event = ?record.event, "event");
        if self.events.records.len() >= EVENT_LOG_LEN {
            self.events.records.pop_front();
        }
        self.events.records.push_back(record.clone());
        // No subscriber is not an error.
        let _ = self.events.feed.send(record);
    }

    /// A fresh id for a stanza the server originates.
    pub(crate) fn stanza_id(&mut self) -> String {
        self.next_id = self.next_id.wrapping_add(1);
        format!("{}.{}", self.now() % 100_000, self.next_id)
    }

    /// Remembers who sent a client message (bounded: the oldest knowledge is dropped).
    pub(crate) fn remember_sender(&mut self, id: &str, sender: &DeviceKey) {
        if self.client_sent.len() >= 100_000 {
            self.client_sent.clear();
        }
        self.client_sent.insert(id.to_owned(), sender.clone());
    }

    /// A message id in the shape clients use (`3EB0` + 18 upper-case hex digits).
    pub(crate) fn message_id(&mut self) -> String {
        let mut bytes = [0u8; 9];
        self.rng.fill_bytes(&mut bytes);
        format!("3EB0{}", hex::encode_upper(bytes))
    }

    /// Creates an account with `devices` simulated devices.
    pub(crate) fn create_account(
        &mut self,
        phone: &str,
        name: &str,
        devices: u16,
    ) -> Result<AccountInfo, AccountError> {
        let valid = (7..=15).contains(&phone.len())
            && phone.bytes().all(|b| b.is_ascii_digit())
            && !phone.starts_with('0');
        if !valid {
            return Err(AccountError::InvalidPhone(phone.to_owned()));
        }
        if self.accounts.contains_key(phone) {
            return Err(AccountError::Exists(phone.to_owned()));
        }
        if devices == 0 {
            return Err(AccountError::NoDevices);
        }
        let lid = loop {
            let candidate = format!(
                "{}",
                100_000_000_000_000 + self.rng.next_u64() % 900_000_000_000_000
            );
            if !self.by_lid.contains_key(&candidate) {
                break candidate;
            }
        };
        let now = self.now();
        let mut account = Account {
            phone: phone.to_owned(),
            lid: lid.clone(),
            name: name.to_owned(),
            raw_id: self.rng.next_u32() & 0x7fff_ffff,
            devices: BTreeMap::new(),
            next_key_index: 1,
            behaviour: ContactBehaviour {
                auto_read: self.auto_read,
                ..ContactBehaviour::default()
            },
            received: Vec::new(),
            sent: BTreeMap::new(),
            receipts: Vec::new(),
            retries: HashMap::new(),
        };
        let primary = DeviceStore::generate(now, &mut self.rng);
        for device in 1..devices {
            let store = DeviceStore::generate(now, &mut self.rng);
            let key_index = account.next_key_index;
            account.next_key_index = account.next_key_index.saturating_add(1);
            let adv = crate::pairing::simulated_companion_identity(
                &primary,
                &store,
                account.raw_id,
                key_index,
                now,
                &mut self.rng,
            );
            account.devices.insert(
                device,
                Device::Sim(Box::new(SimDevice {
                    store,
                    adv,
                    key_index,
                    sender_key_sent: BTreeSet::new(),
                })),
            );
        }
        account.devices.insert(
            0,
            Device::Sim(Box::new(SimDevice {
                store: primary,
                adv: None,
                key_index: 0,
                sender_key_sent: BTreeSet::new(),
            })),
        );
        self.by_lid.insert(lid, phone.to_owned());
        self.accounts.insert(phone.to_owned(), account);
        self.dirty = true;
        self.account_info(phone)
            .ok_or(AccountError::InvalidPhone(phone.to_owned()))
    }

    /// A phone number no account uses yet.
    pub(crate) fn free_phone(&mut self) -> String {
        loop {
            let phone = format!("1555{:07}", self.rng.next_u32() % 10_000_000);
            if !self.accounts.contains_key(&phone) {
                return phone;
            }
        }
    }

    /// The account a user JID (phone number or LID, any device) belongs to.
    pub(crate) fn account_phone(&self, jid: &Jid) -> Option<String> {
        match jid.server() {
            Server::Whatsapp => self
                .accounts
                .contains_key(jid.user())
                .then(|| jid.user().to_owned()),
            Server::Lid => self.by_lid.get(jid.user()).cloned(),
            _ => None,
        }
    }

    /// The device a device JID names, if it exists.
    pub(crate) fn resolve(&self, jid: &Jid) -> Option<DeviceKey> {
        let phone = self.account_phone(jid)?;
        let account = self.accounts.get(&phone)?;
        account
            .devices
            .contains_key(&jid.device())
            .then(|| DeviceKey::new(phone, jid.device()))
    }

    /// The LID device JID of a device.
    pub(crate) fn lid_jid(&self, key: &DeviceKey) -> Option<Jid> {
        self.accounts
            .get(&key.phone)
            .map(|a| a.lid_jid().with_device(key.device))
    }

    /// Every device of an account.
    pub(crate) fn devices_of(&self, phone: &str) -> Vec<DeviceKey> {
        self.accounts
            .get(phone)
            .map(|a| {
                a.devices
                    .keys()
                    .map(|&d| DeviceKey::new(phone, d))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn is_companion(&self, key: &DeviceKey) -> bool {
        matches!(
            self.accounts
                .get(&key.phone)
                .and_then(|a| a.devices.get(&key.device)),
            Some(Device::Companion(_))
        )
    }

    pub(crate) fn companion(&self, key: &DeviceKey) -> Option<&Companion> {
        match self
            .accounts
            .get(&key.phone)
            .and_then(|a| a.devices.get(&key.device))
        {
            Some(Device::Companion(c)) => Some(c),
            _ => None,
        }
    }

    pub(crate) fn companion_mut(&mut self, key: &DeviceKey) -> Option<&mut Companion> {
        self.accounts
            .get_mut(&key.phone)
            .and_then(|a| a.companion_mut(key.device))
    }

    /// Sends a command to a connection (a closed one is ignored: it is going away).
    pub(crate) fn command(&self, conn: u64, command: ConnCommand) {
        if let Some(entry) = self.conns.get(&conn) {
            let _ = entry.tx.send(command);
        }
    }

    /// Writes a stanza on a connection.
    pub(crate) fn send(&self, conn: u64, node: Node) {
        self.command(conn, ConnCommand::Send(node));
    }

    /// The device logged in on a connection.
    pub(crate) fn conn_device(&self, conn: u64) -> Option<DeviceKey> {
        match self.conns.get(&conn).map(|c| &c.state) {
            Some(ConnState::LoggedIn(key)) => Some(key.clone()),
            _ => None,
        }
    }

    /// Hands a stanza to a linked client: queued until it acknowledges it, written now
    /// if it is online.
    pub(crate) fn deliver(&mut self, key: &DeviceKey, node: Node) {
        let id = node.str_attr("id").unwrap_or_default().to_owned();
        let class = node.tag.to_string();
        let conn = self.online.get(key).copied();
        let Some(companion) = self.companion_mut(key) else {
            tracing::debug!(device = %key, "dropping a stanza for a device that is not linked");
            return;
        };
        companion.queue.push_back(Queued {
            class,
            id,
            node: node.clone(),
        });
        self.dirty = true;
        if let Some(conn) = conn {
            self.send(conn, node);
        }
    }

    /// Removes queued stanzas the client acknowledged: same class (any if empty), same
    /// id and, when the acknowledgement names them, the same peer (`from`) and
    /// participant.
    pub(crate) fn acknowledge(
        &mut self,
        key: &DeviceKey,
        class: &str,
        id: &str,
        peer: Option<&Jid>,
        participant: Option<&Jid>,
    ) {
        // Compare peers by device (phone-number and LID forms name the same one).
        let canonical = |jid: &Jid| {
            self.account_phone(jid)
                .map(|phone| DeviceKey::new(phone, jid.device()).pn_jid().to_string())
                .unwrap_or_else(|| jid.to_string())
        };
        let wanted_peer = peer.map(canonical);
        let wanted_participant = participant.map(canonical);
        let same = |queued: &Node, attr: &str, wanted: &Option<String>| match wanted {
            None => true,
            Some(wanted) => queued.optional_jid(attr).ok().flatten().is_none_or(|jid| {
                self.account_phone(&jid)
                    .map(|phone| DeviceKey::new(phone, jid.device()).pn_jid().to_string())
                    .unwrap_or_else(|| jid.to_string())
                    == *wanted
            }),
        };
        let Some(companion) = self.companion(key) else {
            return;
        };
        let keep: Vec<bool> = companion
            .queue
            .iter()
            .map(|q| {
                !(q.id == id
                    && (class.is_empty() || q.class == class)
                    && same(&q.node, "from", &wanted_peer)
                    && same(&q.node, "participant", &wanted_participant))
            })
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        if let Some(companion) = self.companion_mut(key) {
            let mut keep = keep.into_iter();
            companion.queue.retain(|_| keep.next().unwrap_or(true));
            self.dirty = true;
        }
    }

    pub(crate) fn account_info(&self, phone: &str) -> Option<AccountInfo> {
        let account = self.accounts.get(phone)?;
        let devices = account
            .devices
            .iter()
            .map(|(&device, d)| {
                let key = DeviceKey::new(phone, device);
                let (kind, platform, pre_keys, queued) = match d {
                    Device::Sim(_) => (DeviceKind::Simulated, None, 0, 0),
                    Device::Companion(c) => (
                        DeviceKind::Companion,
                        Some(c.platform.clone()),
                        c.pre_keys.len(),
                        c.queue.len(),
                    ),
                };
                DeviceInfo {
                    device,
                    jid: key.pn_jid().to_string(),
                    lid: account.lid_jid().with_device(device).to_string(),
                    kind,
                    connected: self.online.contains_key(&key),
                    platform,
                    pre_keys,
                    queued,
                }
            })
            .collect();
        Some(AccountInfo {
            phone: account.phone.clone(),
            jid: account.pn_jid().to_string(),
            lid: account.lid_jid().to_string(),
            name: account.name.clone(),
            devices,
        })
    }

    pub(crate) fn accounts_info(&self) -> Vec<AccountInfo> {
        self.accounts
            .keys()
            .filter_map(|phone| self.account_info(phone))
            .collect()
    }

    pub(crate) fn connections_info(&self) -> Vec<ConnectionInfo> {
        let mut list: Vec<ConnectionInfo> = self
            .conns
            .iter()
            .map(|(&id, c)| ConnectionInfo {
                id,
                transport: c.transport.to_owned(),
                state: match &c.state {
                    ConnState::Handshake => "handshake",
                    ConnState::Pairing => "pairing",
                    ConnState::LoggedIn(_) => "logged_in",
                    ConnState::Closing => "closing",
                }
                .to_owned(),
                device: match &c.state {
                    ConnState::LoggedIn(key) => Some(key.pn_jid().to_string()),
                    _ => None,
                },
            })
            .collect();
        list.sort_by_key(|c| c.id);
        list
    }

    pub(crate) fn pairings_info(&self) -> Vec<PairingInfo> {
        let now_ms = self.clock.now_ms();
        let mut list: Vec<PairingInfo> = self
            .pairings
            .iter()
            .map(|(&connection, p)| PairingInfo {
                connection,
                refs: p.refs.iter().map(|r| r.value.clone()).collect(),
                current_ref: p.current_ref(now_ms).map(str::to_owned),
                code_phone: p.link_code.as_ref().map(|l| l.phone.clone()),
            })
            .collect();
        list.sort_by_key(|p| p.connection);
        list
    }
}
