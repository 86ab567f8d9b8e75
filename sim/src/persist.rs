//! Saving and loading the simulator's lasting state as JSON.
//!
//! Owns [`Snapshot`]: the server identity, accounts with every device (simulated
//! devices' Signal stores; linked clients' keys, pre-keys and queued stanzas), groups
//! and media. Live state (connections, pending pairings, faults) is not saved: a
//! restarted server has none.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use wa_wasm::binary::{Jid, decode, encode};
use wa_wasm::crypto::PublicKey;

use crate::api::{ContactBehaviour, ReceiptInfo, ReceivedMessage};
use crate::identity::{SavedIdentity, ServerIdentity};
use crate::store::{DeviceStore, SavedDeviceStore};
use crate::world::{
    Account, Companion, Device, DeviceKey, Group, Queued, SentMessage, SimDevice,
    UploadedSignedKey, World,
};

const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    version: u32,
    identity: SavedIdentity,
    accounts: Vec<SavedAccount>,
    groups: Vec<SavedGroup>,
    media: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedAccount {
    phone: String,
    lid: String,
    name: String,
    raw_id: u32,
    next_key_index: u32,
    behaviour: ContactBehaviour,
    devices: Vec<SavedDevice>,
    received: Vec<ReceivedMessage>,
    receipts: Vec<ReceiptInfo>,
    sent: Vec<SavedSent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedSent {
    id: String,
    from_device: u16,
    chat: String,
    message: String,
    kind: String,
    mediatype: Option<String>,
    t: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedDevice {
    device: u16,
    #[serde(flatten)]
    kind: SavedDeviceKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SavedDeviceKind {
    Simulated {
        store: SavedDeviceStore,
        adv: Option<String>,
        key_index: u32,
        sender_key_sent: Vec<(String, String, u16)>,
    },
    Companion {
        noise_key: String,
        identity: String,
        registration_id: u32,
        signed_pre_key: (u32, String, String),
        pre_keys: Vec<(u32, String)>,
        key_index: u32,
        adv: String,
        platform: String,
        /// (class, id, encoded stanza as hex).
        queue: Vec<(String, String, String)>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedGroup {
    id: String,
    subject: String,
    creator: String,
    participants: Vec<String>,
    created: u64,
}

impl Snapshot {
    pub(crate) fn of(world: &World) -> Snapshot {
        Snapshot {
            version: VERSION,
            identity: world.identity.save(),
            accounts: world.accounts.values().map(save_account).collect(),
            groups: world
                .groups
                .values()
                .map(|g| SavedGroup {
                    id: g.id.clone(),
                    subject: g.subject.clone(),
                    creator: g.creator.clone(),
                    participants: g.participants.clone(),
                    created: g.created,
                })
                .collect(),
            media: world
                .media
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.encode(v)))
                .collect(),
        }
    }

    /// Replaces the lasting state of `world` with this snapshot's.
    pub(crate) fn restore_into(&self, world: &mut World) -> Result<(), String> {
        if self.version != VERSION {
            return Err(format!("unsupported state version {}", self.version));
        }
        world.identity = ServerIdentity::load(&self.identity, &mut world.rng)?;
        let mut accounts = BTreeMap::new();
        let mut by_lid = HashMap::new();
        for saved in &self.accounts {
            let account = load_account(saved)?;
            by_lid.insert(account.lid.clone(), account.phone.clone());
            accounts.insert(account.phone.clone(), account);
        }
        world.accounts = accounts;
        world.by_lid = by_lid;
        world.groups = self
            .groups
            .iter()
            .map(|g| {
                (
                    g.id.clone(),
                    Group {
                        id: g.id.clone(),
                        subject: g.subject.clone(),
                        creator: g.creator.clone(),
                        participants: g.participants.clone(),
                        created: g.created,
                    },
                )
            })
            .collect();
        world.media = self
            .media
            .iter()
            .map(|(k, v)| {
                STANDARD
                    .decode(v)
                    .map(|bytes| (k.clone(), bytes))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

fn save_account(account: &Account) -> SavedAccount {
    SavedAccount {
        phone: account.phone.clone(),
        lid: account.lid.clone(),
        name: account.name.clone(),
        raw_id: account.raw_id,
        next_key_index: account.next_key_index,
        behaviour: account.behaviour,
        devices: account
            .devices
            .iter()
            .map(|(&device, d)| SavedDevice {
                device,
                kind: match d {
                    Device::Sim(sim) => SavedDeviceKind::Simulated {
                        store: SavedDeviceStore::from(&sim.store),
                        adv: sim.adv.as_ref().map(hex::encode),
                        key_index: sim.key_index,
                        sender_key_sent: sim
                            .sender_key_sent
                            .iter()
                            .map(|(g, k)| (g.clone(), k.phone.clone(), k.device))
                            .collect(),
                    },
                    Device::Companion(c) => SavedDeviceKind::Companion {
                        noise_key: hex::encode(c.noise_key.as_bytes()),
                        identity: hex::encode(c.identity.as_bytes()),
                        registration_id: c.registration_id,
                        signed_pre_key: (
                            c.signed_pre_key.id,
                            hex::encode(c.signed_pre_key.public.as_bytes()),
                            hex::encode(c.signed_pre_key.signature),
                        ),
                        pre_keys: c
                            .pre_keys
                            .iter()
                            .map(|(&id, k)| (id, hex::encode(k.as_bytes())))
                            .collect(),
                        key_index: c.key_index,
                        adv: hex::encode(&c.adv),
                        platform: c.platform.clone(),
                        queue: c
                            .queue
                            .iter()
                            .filter_map(|q| {
                                encode(&q.node)
                                    .ok()
                                    .map(|b| (q.class.clone(), q.id.clone(), hex::encode(b)))
                            })
                            .collect(),
                    },
                },
            })
            .collect(),
        received: account.received.clone(),
        receipts: account.receipts.clone(),
        sent: account
            .sent
            .iter()
            .map(|(id, s)| SavedSent {
                id: id.clone(),
                from_device: s.from_device,
                chat: s.chat.to_string(),
                message: hex::encode(&s.message),
                kind: s.kind.clone(),
                mediatype: s.mediatype.clone(),
                t: s.t,
            })
            .collect(),
    }
}

fn key(text: &str) -> Result<PublicKey, String> {
    let bytes = hex::decode(text).map_err(|e| e.to_string())?;
    PublicKey::from_slice(&bytes).map_err(|e| e.to_string())
}

fn load_account(saved: &SavedAccount) -> Result<Account, String> {
    let mut devices = BTreeMap::new();
    for device in &saved.devices {
        let loaded = match &device.kind {
            SavedDeviceKind::Simulated {
                store,
                adv,
                key_index,
                sender_key_sent,
            } => Device::Sim(Box::new(SimDevice {
                store: DeviceStore::try_from(store).map_err(|e| e.to_string())?,
                adv: adv
                    .as_ref()
                    .map(|a| hex::decode(a).map_err(|e| e.to_string()))
                    .transpose()?,
                key_index: *key_index,
                sender_key_sent: sender_key_sent
                    .iter()
                    .map(|(g, p, d)| (g.clone(), DeviceKey::new(p.clone(), *d)))
                    .collect::<BTreeSet<_>>(),
            })),
            SavedDeviceKind::Companion {
                noise_key,
                identity,
                registration_id,
                signed_pre_key,
                pre_keys,
                key_index,
                adv,
                platform,
                queue,
            } => {
                let signature = hex::decode(&signed_pre_key.2)
                    .map_err(|e| e.to_string())?
                    .try_into()
                    .map_err(|_| "signed pre-key signature is not 64 bytes".to_owned())?;
                let mut loaded_queue = std::collections::VecDeque::new();
                for (class, id, node) in queue {
                    let bytes = hex::decode(node).map_err(|e| e.to_string())?;
                    loaded_queue.push_back(Queued {
                        class: class.clone(),
                        id: id.clone(),
                        node: decode(&bytes).map_err(|e| e.to_string())?,
                    });
                }
                Device::Companion(Box::new(Companion {
                    noise_key: key(noise_key)?,
                    identity: key(identity)?,
                    registration_id: *registration_id,
                    signed_pre_key: UploadedSignedKey {
                        id: signed_pre_key.0,
                        public: key(&signed_pre_key.1)?,
                        signature,
                    },
                    pre_keys: pre_keys
                        .iter()
                        .map(|(id, k)| key(k).map(|k| (*id, k)))
                        .collect::<Result<_, _>>()?,
                    key_index: *key_index,
                    adv: hex::decode(adv).map_err(|e| e.to_string())?,
                    platform: platform.clone(),
                    queue: loaded_queue,
                }))
            }
        };
        devices.insert(device.device, loaded);
    }
    let mut sent = BTreeMap::new();
    for s in &saved.sent {
        sent.insert(
            s.id.clone(),
            SentMessage {
                from_device: s.from_device,
                chat: s.chat.parse::<Jid>().map_err(|e| e.to_string())?,
                message: hex::decode(&s.message).map_err(|e| e.to_string())?,
                kind: s.kind.clone(),
                mediatype: s.mediatype.clone(),
                t: s.t,
            },
        );
    }
    Ok(Account {
        phone: saved.phone.clone(),
        lid: saved.lid.clone(),
        name: saved.name.clone(),
        raw_id: saved.raw_id,
        devices,
        next_key_index: saved.next_key_index,
        behaviour: saved.behaviour,
        received: saved.received.clone(),
        sent,
        receipts: saved.receipts.clone(),
        retries: HashMap::new(),
    })
}
