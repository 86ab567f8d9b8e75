//! Linking a new companion: the server's `pair-device` references, the phone that scans
//! a QR string or takes a pairing code, `pair-success`, and the check of the client's
//! `pair-device-sign`.
//!
//! Owns [`Pairing`] (one registration connection waiting to be linked) and the steps of
//! both linking flows. The cryptography (ADV identity, link-code key exchange) is the
//! core's `pairing` module, phone side.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;
use wa_wasm::binary::{Jid, Node};
use wa_wasm::crypto::{KeyPair, PublicKey};
use wa_wasm::pairing::{
    DeviceIdentityGrant, LinkCode, QrData, issue_device_identity, primary_open_bundle,
    unwrap_ephemeral, verify_device_sign, verify_pair_success, wrap_ephemeral,
};
use wa_wasm::payload::Registration;

use crate::api::SimEvent;
use crate::stanza::{iq_error, iq_result, server_jid};
use crate::store::DeviceStore;
use crate::world::{
    Companion, ConnCommand, ConnState, Device, DeviceKey, UploadedSignedKey, World,
};

/// Tolerated clock difference when checking that a scanned reference is the one shown.
const REF_GRACE_MS: u64 = 2_000;

/// One QR reference and when it stops being shown.
#[derive(Debug, Clone)]
pub(crate) struct PairRef {
    pub(crate) value: String,
    pub(crate) shown_from_ms: u64,
    pub(crate) expires_ms: u64,
}

/// Where a registration connection is in linking.
#[derive(Debug, Clone)]
pub(crate) enum PairStage {
    /// Waiting for the phone to scan or take a code.
    AwaitingPhone,
    /// `pair-success` sent; waiting for the client's `pair-device-sign`.
    AwaitingSign {
        device: DeviceKey,
        iq_id: String,
        account_identity: PublicKey,
        key_index: u32,
    },
}

/// The phone side of code pairing.
#[derive(Debug, Clone)]
pub(crate) struct LinkCodeState {
    pub(crate) phone: String,
    pub(crate) wrapped_companion_ephemeral: Vec<u8>,
    pub(crate) pairing_ref: String,
    pub(crate) primary_ephemeral: Option<KeyPair>,
    pub(crate) code: Option<LinkCode>,
}

/// A registration connection waiting to be linked.
#[derive(Debug, Clone)]
pub(crate) struct Pairing {
    pub(crate) registration: Registration,
    pub(crate) noise_key: PublicKey,
    pub(crate) refs: Vec<PairRef>,
    pub(crate) stage: PairStage,
    pub(crate) link_code: Option<LinkCodeState>,
    pub(crate) platform: String,
}

impl Pairing {
    /// The reference the client shows at `now_ms`, if any.
    pub(crate) fn current_ref(&self, now_ms: u64) -> Option<&str> {
        self.refs
            .iter()
            .find(|r| r.shown_from_ms <= now_ms && now_ms < r.expires_ms)
            .map(|r| r.value.as_str())
    }
}

/// Why the phone could not link a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// The QR string does not parse.
    #[error("invalid QR string: {0}")]
    InvalidQr(String),
    /// No connection is waiting with this QR's keys and reference.
    #[error("no client is showing this QR code (unknown or expired reference)")]
    NoSuchQr,
    /// The account that should link does not exist.
    #[error("no account with phone {0}")]
    NoAccount(String),
    /// The account has no free device number.
    #[error("account {0} has no free device slot")]
    NoFreeDevice(String),
    /// No client asked for a pairing code for this phone.
    #[error("no client is waiting for a pairing code for {0}")]
    NoCodeRequest(String),
    /// The code is not 8 characters of the code alphabet.
    #[error("invalid pairing code: {0}")]
    InvalidCode(String),
    /// This connection is already past the phone's step.
    #[error("this client is already being linked")]
    AlreadyLinking,
}

fn random_ref(rng: &mut impl CryptoRng) -> String {
    let mut bytes = [0u8; 24];
    rng.fill_bytes(&mut bytes);
    format!("2@{}", STANDARD.encode(bytes))
}

/// The description a companion shows in the phone's device list.
fn platform_name(registration: &Registration) -> String {
    let os = &registration.device_props.os;
    if os.is_empty() {
        "web".to_owned()
    } else {
        os.clone()
    }
}

/// A registration connection: send the references and start waiting for the phone.
pub(crate) fn start(
    world: &mut World,
    conn: u64,
    registration: Registration,
    noise_key: PublicKey,
) {
    let start_ms = world.clock.now_ms();
    let timings = world.timings;
    let refs: Vec<PairRef> = (0..timings.ref_count.max(1))
        .map(|i| {
            let from = if i == 0 {
                0
            } else {
                timings.expiry_of(i - 1).as_millis()
            };
            PairRef {
                value: random_ref(&mut world.rng),
                shown_from_ms: start_ms.saturating_add(u64::try_from(from).unwrap_or(u64::MAX)),
                expires_ms: start_ms.saturating_add(
                    u64::try_from(timings.expiry_of(i).as_millis()).unwrap_or(u64::MAX),
                ),
            }
        })
        .collect();
    let values: Vec<String> = refs.iter().map(|r| r.value.clone()).collect();
    let id = world.stanza_id();
    let iq = Node::new("iq")
        .attr("from", server_jid())
        .attr("type", "set")
        .attr("id", id)
        .attr("xmlns", "md")
        .children([Node::new("pair-device").children(
            values
                .iter()
                .map(|value| Node::new("ref").bytes(value.as_bytes().to_vec())),
        )]);
    let platform = platform_name(&registration);
    world.pairings.insert(
        conn,
        Pairing {
            registration,
            noise_key,
            refs,
            stage: PairStage::AwaitingPhone,
            link_code: None,
            platform,
        },
    );
    if let Some(entry) = world.conns.get_mut(&conn) {
        entry.state = ConnState::Pairing;
    }
    world.send(conn, iq);
    world.emit(SimEvent::PairingStarted {
        connection: conn,
        refs: values,
    });
}

/// The phone of account `phone` scans `qr`.
pub(crate) fn scan_qr(world: &mut World, phone: &str, qr: &str) -> Result<DeviceKey, PairError> {
    let data = QrData::parse(qr).map_err(|e| PairError::InvalidQr(e.to_string()))?;
    let now_ms = world.clock.now_ms();
    let conn = world
        .pairings
        .iter()
        .find(|(_, p)| {
            p.noise_key == data.noise_key
                && p.registration.identity_key == data.identity_key
                && p.refs.iter().any(|r| {
                    r.value == data.pairing_ref
                        && r.shown_from_ms.saturating_sub(REF_GRACE_MS) <= now_ms
                        && now_ms <= r.expires_ms.saturating_add(REF_GRACE_MS)
                })
        })
        .map(|(&conn, _)| conn)
        .ok_or(PairError::NoSuchQr)?;
    send_pair_success(world, conn, phone, &data.adv_secret)
}

/// Builds the phone's `pair-success` for a waiting connection.
fn send_pair_success(
    world: &mut World,
    conn: u64,
    phone: &str,
    adv_secret: &[u8; 32],
) -> Result<DeviceKey, PairError> {
    let pairing = world.pairings.get(&conn).ok_or(PairError::NoSuchQr)?;
    if !matches!(pairing.stage, PairStage::AwaitingPhone) {
        return Err(PairError::AlreadyLinking);
    }
    let companion_identity = pairing.registration.identity_key;
    let platform = pairing.platform.clone();
    let now = world.now();
    let account = world
        .accounts
        .get_mut(phone)
        .ok_or_else(|| PairError::NoAccount(phone.to_owned()))?;
    let device = account
        .free_device()
        .ok_or_else(|| PairError::NoFreeDevice(phone.to_owned()))?;
    let Some(primary) = account.sim(0) else {
        return Err(PairError::NoAccount(phone.to_owned()));
    };
    let account_identity = KeyPair {
        private: primary.store.identity().private_key().clone(),
        public: *primary.store.identity().identity_key().public_key(),
    };
    let key_index = account.next_key_index;
    account.next_key_index = account.next_key_index.saturating_add(1);
    let grant = DeviceIdentityGrant {
        raw_id: account.raw_id,
        key_index,
        timestamp: now,
    };
    let lid = account.lid_jid().with_device(device);
    let key = DeviceKey::new(phone, device);
    let container = issue_device_identity(
        &account_identity,
        &companion_identity,
        adv_secret,
        grant,
        &mut world.rng,
    );
    let iq_id = world.stanza_id();
    let iq = Node::new("iq")
        .attr("from", server_jid())
        .attr("type", "set")
        .attr("id", iq_id.clone())
        .attr("t", now)
        .children([Node::new("pair-success").children([
            Node::new("device-identity").bytes(container),
            Node::new("device")
                .attr("jid", key.pn_jid())
                .attr("lid", lid),
            Node::new("platform").attr("name", platform),
        ])]);
    if let Some(pairing) = world.pairings.get_mut(&conn) {
        pairing.stage = PairStage::AwaitingSign {
            device: key.clone(),
            iq_id,
            account_identity: account_identity.public,
            key_index,
        };
    }
    world.send(conn, iq);
    Ok(key)
}

/// A `result` or `error` iq on a registration connection: the reply to `pair-success`
/// (or to `pair-device`, which needs nothing).
pub(crate) fn handle_reply(world: &mut World, conn: u64, node: &Node) {
    let Some(pairing) = world.pairings.get(&conn) else {
        return;
    };
    let PairStage::AwaitingSign {
        device,
        iq_id,
        account_identity,
        key_index,
    } = pairing.stage.clone()
    else {
        return;
    };
    if node.str_attr("id") != Some(iq_id.as_str()) {
        return;
    }
    if node.str_attr("type") == Some("error") {
        let reason = node
            .child("error")
            .map(|e| {
                format!(
                    "client refused pair-success: {} {}",
                    e.attr_text("code").unwrap_or_default(),
                    e.attr_text("text").unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "client refused pair-success".to_owned());
        fail(world, conn, reason);
        return;
    }
    let Some(reply) = node
        .child_path(&["pair-device-sign", "device-identity"])
        .and_then(Node::content_bytes)
    else {
        fail(
            world,
            conn,
            "pair-device-sign reply without a device-identity".to_owned(),
        );
        return;
    };
    let registration = pairing.registration.clone();
    let noise_key = pairing.noise_key;
    let platform = pairing.platform.clone();
    if let Err(err) = verify_device_sign(reply, &account_identity, &registration.identity_key) {
        fail(world, conn, format!("pair-device-sign rejected: {err}"));
        return;
    }
    let companion = Companion {
        noise_key,
        identity: registration.identity_key,
        registration_id: registration.registration_id,
        signed_pre_key: UploadedSignedKey {
            id: registration.signed_pre_key_id,
            public: registration.signed_pre_key,
            signature: registration.signed_pre_key_signature,
        },
        pre_keys: Default::default(),
        key_index,
        adv: reply.to_vec(),
        platform,
        queue: Default::default(),
    };
    let lid = world
        .lid_jid(&device)
        .map(|j| j.to_string())
        .unwrap_or_default();
    if let Some(account) = world.accounts.get_mut(&device.phone) {
        account
            .devices
            .insert(device.device, Device::Companion(Box::new(companion)));
    }
    world.pairings.remove(&conn);
    world.dirty = true;
    tracing::info!(device = %device, "device linked; restarting the stream (515)");
    world.emit(SimEvent::Paired {
        connection: conn,
        jid: device.pn_jid().to_string(),
        lid,
    });
    world.command(
        conn,
        ConnCommand::Close {
            stream_error: Some(Node::new("stream:error").attr("code", "515")),
            reason: "paired: restart required (515)".to_owned(),
        },
    );
}

fn fail(world: &mut World, conn: u64, reason: String) {
    tracing::warn!(conn, %reason, "pairing failed");
    if let Some(pairing) = world.pairings.get_mut(&conn) {
        pairing.stage = PairStage::AwaitingPhone;
    }
    world.emit(SimEvent::PairingFailed {
        connection: conn,
        reason,
    });
}

/// `<iq xmlns="md"><link_code_companion_reg stage=…>` on a registration connection.
pub(crate) fn handle_link_code_iq(world: &mut World, conn: u64, iq: &Node, reg: &Node) {
    let id = iq.str_attr("id").unwrap_or_default().to_owned();
    match reg.str_attr("stage") {
        Some("companion_hello") => companion_hello(world, conn, &id, reg),
        Some("companion_finish") => companion_finish(world, conn, &id, reg),
        other => {
            tracing::warn!(conn, stage = ?other, "unknown link_code_companion_reg stage");
            world.send(conn, iq_error(&id, 400, "bad-request"));
        }
    }
}

fn companion_hello(world: &mut World, conn: u64, id: &str, reg: &Node) {
    let phone = reg
        .jid_attr("jid")
        .map(|j| j.user().to_owned())
        .or_else(|| {
            reg.str_attr("jid")
                .and_then(|j| j.parse::<Jid>().ok())
                .map(|j| j.user().to_owned())
        })
        .unwrap_or_default();
    let wrapped = reg
        .child("link_code_pairing_wrapped_companion_ephemeral_pub")
        .and_then(Node::content_bytes)
        .map(<[u8]>::to_vec);
    let (Some(wrapped), true) = (wrapped, world.accounts.contains_key(&phone)) else {
        tracing::warn!(conn, %phone, "pairing code requested for an unknown phone or without a key");
        world.send(conn, iq_error(id, 400, "bad-request"));
        return;
    };
    if !world.pairings.contains_key(&conn) {
        world.send(conn, iq_error(id, 400, "bad-request"));
        return;
    }
    let pairing_ref = random_ref(&mut world.rng);
    if let Some(pairing) = world.pairings.get_mut(&conn) {
        pairing.link_code = Some(LinkCodeState {
            phone: phone.clone(),
            wrapped_companion_ephemeral: wrapped,
            pairing_ref: pairing_ref.clone(),
            primary_ephemeral: None,
            code: None,
        });
    }
    let reply = iq_result(id).children([Node::new("link_code_companion_reg")
        .children([Node::new("link_code_pairing_ref").bytes(pairing_ref.into_bytes())])]);
    world.send(conn, reply);
    world.emit(SimEvent::PairingCodeRequested {
        connection: conn,
        phone,
    });
}

/// The phone of `phone` takes the code a client shows.
pub(crate) fn enter_code(world: &mut World, phone: &str, code: &str) -> Result<(), PairError> {
    let code = LinkCode::parse(code).map_err(|e| PairError::InvalidCode(e.to_string()))?;
    let conn = world
        .pairings
        .iter()
        .filter(|(_, p)| {
            p.link_code
                .as_ref()
                .is_some_and(|l| l.phone == phone && l.code.is_none())
        })
        .map(|(&conn, _)| conn)
        .max()
        .ok_or_else(|| PairError::NoCodeRequest(phone.to_owned()))?;
    let primary_identity = world
        .accounts
        .get(phone)
        .and_then(|a| a.sim(0))
        .map(|p| *p.store.identity().identity_key().public_key())
        .ok_or_else(|| PairError::NoAccount(phone.to_owned()))?;
    let ephemeral = KeyPair::generate(&mut world.rng);
    let wrapped = wrap_ephemeral(&code, &ephemeral.public, &mut world.rng);
    let id = world.stanza_id();
    let now = world.now();
    let Some(state) = world
        .pairings
        .get_mut(&conn)
        .and_then(|p| p.link_code.as_mut())
    else {
        return Err(PairError::NoCodeRequest(phone.to_owned()));
    };
    state.primary_ephemeral = Some(ephemeral);
    state.code = Some(code);
    let notification = Node::new("notification")
        .attr("from", server_jid())
        .attr("type", "link_code_companion_reg")
        .attr("id", id)
        .attr("t", now)
        .children([Node::new("link_code_companion_reg")
            .attr("stage", "primary_hello")
            .children([
                Node::new("link_code_pairing_ref").bytes(state.pairing_ref.clone().into_bytes()),
                Node::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                    .bytes(wrapped.to_vec()),
                Node::new("primary_identity_pub").bytes(primary_identity.as_bytes().to_vec()),
            ])]);
    world.send(conn, notification);
    Ok(())
}

fn companion_finish(world: &mut World, conn: u64, id: &str, reg: &Node) {
    let Some(pairing) = world.pairings.get(&conn) else {
        world.send(conn, iq_error(id, 400, "bad-request"));
        return;
    };
    let Some(state) = pairing.link_code.clone() else {
        world.send(conn, iq_error(id, 400, "bad-request"));
        return;
    };
    let (Some(ephemeral), Some(code)) = (state.primary_ephemeral.clone(), state.code.clone())
    else {
        world.send(conn, iq_error(id, 400, "bad-request"));
        return;
    };
    let expected_identity = pairing.registration.identity_key;
    let bundle = reg
        .child("link_code_pairing_wrapped_key_bundle")
        .and_then(Node::content_bytes)
        .unwrap_or_default()
        .to_vec();
    let sent_ref = reg
        .child("link_code_pairing_ref")
        .and_then(Node::content_bytes)
        .unwrap_or_default();
    if sent_ref != state.pairing_ref.as_bytes() {
        world.send(conn, iq_error(id, 400, "bad-request"));
        fail(
            world,
            conn,
            "companion_finish names another pairing ref".to_owned(),
        );
        return;
    }
    let Some(primary) = world.accounts.get(&state.phone).and_then(|a| a.sim(0)) else {
        world.send(conn, iq_error(id, 404, "item-not-found"));
        return;
    };
    let primary_identity = KeyPair {
        private: primary.store.identity().private_key().clone(),
        public: *primary.store.identity().identity_key().public_key(),
    };
    let opened = unwrap_ephemeral(&code, &state.wrapped_companion_ephemeral).and_then(
        |companion_ephemeral| {
            primary_open_bundle(
                &ephemeral.private,
                &companion_ephemeral,
                &primary_identity,
                &bundle,
            )
        },
    );
    match opened {
        Ok((companion_identity, adv_secret)) if companion_identity == expected_identity => {
            world.send(conn, iq_result(id));
            if let Err(err) = send_pair_success(world, conn, &state.phone, &adv_secret) {
                fail(world, conn, err.to_string());
            }
        }
        Ok(_) => {
            world.send(conn, iq_error(id, 401, "not-authorized"));
            fail(
                world,
                conn,
                "key bundle names another companion identity".to_owned(),
            );
        }
        Err(err) => {
            world.send(conn, iq_error(id, 401, "not-authorized"));
            fail(
                world,
                conn,
                format!("key bundle does not open (wrong code?): {err}"),
            );
        }
    }
}

/// The signed device identity of a simulated account's companion device, in the form
/// that device attaches to its `pkmsg`s.
pub(crate) fn simulated_companion_identity(
    primary: &DeviceStore,
    companion: &DeviceStore,
    raw_id: u32,
    key_index: u32,
    now: u64,
    rng: &mut impl CryptoRng,
) -> Option<Vec<u8>> {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let account = KeyPair {
        private: primary.identity().private_key().clone(),
        public: *primary.identity().identity_key().public_key(),
    };
    let companion_pair = KeyPair {
        private: companion.identity().private_key().clone(),
        public: *companion.identity().identity_key().public_key(),
    };
    let container = issue_device_identity(
        &account,
        &companion_pair.public,
        &secret,
        DeviceIdentityGrant {
            raw_id,
            key_index,
            timestamp: now,
        },
        rng,
    );
    verify_pair_success(&container, &secret, &companion_pair, rng)
        .ok()
        .map(|s| s.account)
}
