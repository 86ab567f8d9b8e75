//! The handle on a running simulator: start it, connect to it in memory, drive its
//! phones, inject faults, restart it. The HTTP control API calls the same methods.
//!
//! Owns [`Sim`] and the shared state behind it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{broadcast, watch};
use wa_wasm::binary::Jid;
use wa_wasm::crypto::PublicKey;

use crate::api::{
    AccountInfo, ConnectionInfo, ContactBehaviour, EventRecord, Fault, FaultRequest, GroupInfo,
    NewAccount, NewGroup, PairingInfo, ReceiptInfo, ReceivedMessage, SendRequest, SentInfo,
    SimEvent,
};
use crate::clock::Clock;
use crate::config::{DEFAULT_ME_PHONE, SimConfig};
use crate::link::{LocalLink, pair};
use crate::pairing::{self, PairError};
use crate::persist::Snapshot;
use crate::phone::{self, SendError};
use crate::stanza;
use crate::world::{AccountError, AckFault, ConnCommand, DeviceKey, FrameFault, World};
use crate::{conn, http};

/// Everything a simulator operation can refuse.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding or serving the socket failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The state file could not be read or written.
    #[error("state file: {0}")]
    State(String),
    /// An account could not be created.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Linking failed.
    #[error(transparent)]
    Pairing(#[from] PairError),
    /// A simulated device could not send.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Something named does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A wait ended without the expected event.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// The state every connection task and the control API share.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) state_path: Option<PathBuf>,
}

impl Shared {
    /// The world, for a short critical section (never held across an await).
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running simulator. Cheap to clone; every clone drives the same server.
#[derive(Debug, Clone)]
pub struct Sim {
    shared: Arc<Shared>,
    addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
}

impl Sim {
    /// Starts a simulator listening on `config.host:config.port` (WebSocket, control
    /// API and media on the same port), loading and saving `config.state_path`.
    pub async fn start(config: SimConfig) -> Result<Sim, SimError> {
        let listener = tokio::net::TcpListener::bind((config.host, config.port)).await?;
        let addr = listener.local_addr()?;
        let sim = Sim::build(config, Some(addr))?;
        let router = http::router(sim.clone());
        let mut stop = sim.stop.subscribe();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!(%err, "HTTP server stopped");
            }
        });
        sim.spawn_saver();
        Ok(sim)
    }

    /// A simulator without a listening socket, reachable only through
    /// [`Sim::connect_local`] (for in-process tests, including with paused time).
    pub fn start_local(config: SimConfig) -> Result<Sim, SimError> {
        let sim = Sim::build(config, None)?;
        sim.spawn_saver();
        Ok(sim)
    }

    fn build(config: SimConfig, addr: Option<SocketAddr>) -> Result<Sim, SimError> {
        let mut rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        let clock = match config.base_unix_ms {
            Some(base) => Clock::starting_at(base),
            None => Clock::system(),
        };
        let world_rng = StdRng::from_rng(&mut rng);
        let mut world = World::new(clock, world_rng, None, config.pairing, config.auto_read);
        world.media_host = addr.map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        if let Some(path) = &config.state_path
            && path.exists()
        {
            let text = std::fs::read_to_string(path)
                .map_err(|e| SimError::State(format!("{}: {e}", path.display())))?;
            let snapshot: Snapshot = serde_json::from_str(&text)
                .map_err(|e| SimError::State(format!("{}: {e}", path.display())))?;
            snapshot
                .restore_into(&mut world)
                .map_err(|e| SimError::State(format!("{}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), accounts = world.accounts.len(), "state loaded");
        }
        for spec in &config.accounts {
            if !world.accounts.contains_key(&spec.phone) {
                world.create_account(&spec.phone, &spec.name, spec.devices)?;
            }
        }
        let (stop, _) = watch::channel(false);
        let sim = Sim {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                handshake_timeout: config.handshake_timeout,
                state_path: config.state_path.clone(),
            }),
            addr,
            stop,
        };
        sim.save()?;
        Ok(sim)
    }

    /// Saves the state file every second when something changed.
    fn spawn_saver(&self) {
        if self.shared.state_path.is_none() {
            return;
        }
        let sim = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                let dirty = sim.shared.lock().dirty;
                if dirty && let Err(err) = sim.save() {
                    tracing::error!(%err, "cannot save the state");
                }
            }
            if let Err(err) = sim.save() {
                tracing::error!(%err, "cannot save the state");
            }
        });
    }

    /// Writes the state file now (a no-op without one).
    pub fn save(&self) -> Result<(), SimError> {
        let Some(path) = &self.shared.state_path else {
            return Ok(());
        };
        let snapshot = {
            let mut world = self.shared.lock();
            world.dirty = false;
            Snapshot::of(&world)
        };
        let text =
            serde_json::to_string_pretty(&snapshot).map_err(|e| SimError::State(e.to_string()))?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| SimError::State(format!("{}: {e}", path.display())))
    }

    /// Stops listening and saves the state. Live connections end with the runtime.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        let conns: Vec<u64> = self.shared.lock().conns.keys().copied().collect();
        let world = self.shared.lock();
        for conn in conns {
            world.command(
                conn,
                ConnCommand::Close {
                    stream_error: None,
                    reason: "server shutting down".to_owned(),
                },
            );
        }
        drop(world);
        if let Err(err) = self.save() {
            tracing::error!(%err, "cannot save the state");
        }
    }

    /// The listening address (`None` for [`Sim::start_local`]).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// `ws://host:port/ws/chat`, the URL clients connect to.
    pub fn ws_url(&self) -> Option<String> {
        self.addr.map(|a| format!("ws://{a}/ws/chat"))
    }

    /// `http://host:port/control`, the base of the control API.
    pub fn control_url(&self) -> Option<String> {
        self.addr.map(|a| format!("http://{a}/control"))
    }

    /// The root public key clients must pin to accept this server.
    pub fn root_public_key(&self) -> PublicKey {
        self.shared.lock().identity.root_public()
    }

    /// The root public key as hex.
    pub fn root_public_key_hex(&self) -> String {
        hex::encode(self.root_public_key().as_bytes())
    }

    /// The one machine-readable line `wa-sim` prints at start.
    pub fn banner(&self) -> String {
        format!(
            "wa-sim listening ws={} root={} control={}",
            self.ws_url().unwrap_or_else(|| "-".to_owned()),
            self.root_public_key_hex(),
            self.control_url().unwrap_or_else(|| "-".to_owned()),
        )
    }

    /// Opens an in-memory connection (the same server logic as the WebSocket).
    pub fn connect_local(&self) -> LocalLink {
        let (client, server) = pair();
        tokio::spawn(conn::serve(self.shared.clone(), server, "local"));
        client
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A live feed of events (from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.shared.lock().events.feed.subscribe()
    }

    /// Events after sequence number `seq` still in the log (0 = all kept).
    pub fn events_since(&self, seq: u64) -> Vec<EventRecord> {
        self.shared.lock().events.since(seq)
    }

    /// The sequence number of the latest event (0 if none).
    pub fn last_event_seq(&self) -> u64 {
        self.events_since(0).last().map_or(0, |r| r.seq)
    }

    /// Waits for an event after `seq` that satisfies `pred` (including events already
    /// logged), for at most `timeout` of tokio time.
    pub async fn wait_for_event(
        &self,
        seq: u64,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&SimEvent) -> bool,
    ) -> Result<EventRecord, SimError> {
        let mut feed = self.subscribe();
        if let Some(found) = self.events_since(seq).into_iter().find(|r| pred(&r.event)) {
            return Ok(found);
        }
        let wait = async {
            loop {
                match feed.recv().await {
                    Ok(record) if record.seq > seq && pred(&record.event) => return Some(record),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(found) =
                            self.events_since(seq).into_iter().find(|r| pred(&r.event))
                        {
                            return Some(found);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(record)) => Ok(record),
            _ => Err(SimError::Timeout(what.to_owned())),
        }
    }

    /// Creates an account with simulated devices.
    pub fn create_account(&self, request: NewAccount) -> Result<AccountInfo, SimError> {
        let mut world = self.shared.lock();
        let phone = match request.phone {
            Some(phone) => phone,
            None => world.free_phone(),
        };
        let name = request.name.unwrap_or_else(|| format!("Contact {phone}"));
        Ok(world.create_account(&phone, &name, request.devices.unwrap_or(1))?)
    }

    /// Every account.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        self.shared.lock().accounts_info()
    }

    /// One account.
    pub fn account(&self, phone: &str) -> Option<AccountInfo> {
        self.shared.lock().account_info(phone)
    }

    /// Live connections.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.shared.lock().connections_info()
    }

    /// Registration connections waiting to be linked.
    pub fn pairings(&self) -> Vec<PairingInfo> {
        self.shared.lock().pairings_info()
    }

    /// The phone of `phone` (default: the default "me" account, or the only
    /// account) scans `qr`. Returns the new device's JID; linking completes when the
    /// client answers `pair-success` (watch for [`SimEvent::Paired`]).
    pub fn scan_qr(&self, phone: Option<&str>, qr: &str) -> Result<String, SimError> {
        let mut world = self.shared.lock();
        let phone = match phone {
            Some(phone) => phone.to_owned(),
            None if world.accounts.contains_key(DEFAULT_ME_PHONE) => DEFAULT_ME_PHONE.to_owned(),
            None => world
                .accounts
                .keys()
                .next()
                .cloned()
                .ok_or_else(|| SimError::NotFound("any account".to_owned()))?,
        };
        let device = pairing::scan_qr(&mut world, &phone, qr)?;
        Ok(device.pn_jid().to_string())
    }

    /// The phone of `phone` takes the pairing code a client shows.
    pub fn enter_pairing_code(&self, phone: &str, code: &str) -> Result<(), SimError> {
        let mut world = self.shared.lock();
        Ok(pairing::enter_code(&mut world, phone, code)?)
    }

    fn sender_key(world: &World, from: &str) -> Result<DeviceKey, SimError> {
        if let Ok(jid) = from.parse::<Jid>() {
            return world
                .resolve(&jid)
                .ok_or_else(|| SimError::NotFound(format!("device {from}")));
        }
        if world.accounts.contains_key(from) {
            return Ok(DeviceKey::new(from, 0));
        }
        Err(SimError::NotFound(format!("account {from}")))
    }

    fn chat_jid(to: &str) -> Result<Jid, SimError> {
        if to.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Jid::pn(to));
        }
        to.parse::<Jid>()
            .map_err(|e| SimError::BadRequest(format!("{to}: {e}")))
    }

    /// Sends a text and/or document from a simulated device.
    pub fn send(&self, request: SendRequest) -> Result<SentInfo, SimError> {
        let mut world = self.shared.lock();
        let from = Sim::sender_key(&world, &request.from)?;
        let chat = Sim::chat_jid(&request.to)?;
        Ok(phone::send(
            &mut world,
            &from,
            &chat,
            request.text,
            request.document.as_ref(),
        )?)
    }

    /// Sends a text from `from` (phone number or device JID) to `to`.
    pub fn send_text(&self, from: &str, to: &str, text: &str) -> Result<SentInfo, SimError> {
        self.send(SendRequest {
            from: from.to_owned(),
            to: to.to_owned(),
            text: Some(text.to_owned()),
            document: None,
        })
    }

    /// What the simulated devices of `phone` received and decrypted.
    pub fn received(&self, phone: &str) -> Vec<ReceivedMessage> {
        self.shared
            .lock()
            .accounts
            .get(phone)
            .map(|a| a.received.clone())
            .unwrap_or_default()
    }

    /// Receipts linked clients sent for messages of `phone`'s simulated devices.
    pub fn receipts(&self, phone: &str) -> Vec<ReceiptInfo> {
        self.shared
            .lock()
            .accounts
            .get(phone)
            .map(|a| a.receipts.clone())
            .unwrap_or_default()
    }

    /// Sets how `phone`'s simulated devices treat the next messages.
    pub fn set_behaviour(&self, phone: &str, behaviour: ContactBehaviour) -> Result<(), SimError> {
        let mut world = self.shared.lock();
        let account = world
            .accounts
            .get_mut(phone)
            .ok_or_else(|| SimError::NotFound(format!("account {phone}")))?;
        account.behaviour = behaviour;
        world.dirty = true;
        Ok(())
    }

    /// `phone` re-installs WhatsApp: its phone gets a new identity and no
    /// sessions, and its other simulated devices are gone.
    pub fn reinstall(&self, phone: &str) -> Result<(), SimError> {
        let mut world = self.shared.lock();
        let now = world.now();
        let store = crate::store::DeviceStore::generate(now, &mut world.rng);
        let account = world
            .accounts
            .get_mut(phone)
            .ok_or_else(|| SimError::NotFound(format!("account {phone}")))?;
        account
            .devices
            .retain(|&device, d| device == 0 || !matches!(d, crate::world::Device::Sim(_)));
        account.devices.insert(
            0,
            crate::world::Device::Sim(Box::new(crate::world::SimDevice {
                store,
                adv: None,
                key_index: 0,
                sender_key_sent: std::collections::BTreeSet::new(),
            })),
        );
        world.dirty = true;
        Ok(())
    }

    /// Creates a group.
    pub fn create_group(&self, request: NewGroup) -> Result<GroupInfo, SimError> {
        let mut world = self.shared.lock();
        if !world.accounts.contains_key(&request.creator) {
            return Err(SimError::NotFound(format!("account {}", request.creator)));
        }
        if let Some(missing) = request
            .participants
            .iter()
            .find(|p| !world.accounts.contains_key(*p))
        {
            return Err(SimError::NotFound(format!("account {missing}")));
        }
        let group = stanza::create_group(
            &mut world,
            &request.creator,
            &request.subject,
            request.participants,
        );
        Ok(group.info())
    }

    /// Every group.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.shared
            .lock()
            .groups
            .values()
            .map(|g| g.info())
            .collect()
    }

    /// Unlinks a companion as the phone does: `stream:error 401` with
    /// `device_removed` to its connection, then it is gone.
    pub fn unlink(&self, jid: &str) -> Result<(), SimError> {
        let jid: Jid = jid
            .parse()
            .map_err(|e| SimError::BadRequest(format!("{jid}: {e}")))?;
        let mut world = self.shared.lock();
        let key = world
            .resolve(&jid)
            .ok_or_else(|| SimError::NotFound(format!("device {jid}")))?;
        if stanza::unlink(&mut world, &key, true) {
            Ok(())
        } else {
            Err(SimError::BadRequest(format!(
                "{jid} is not a linked client"
            )))
        }
    }

    /// Injects a fault.
    pub fn inject(&self, request: FaultRequest) -> Result<(), SimError> {
        let mut world = self.shared.lock();
        let target = match &request.target {
            None => None,
            Some(text) => {
                let jid: Jid = text
                    .parse()
                    .map_err(|e| SimError::BadRequest(format!("{text}: {e}")))?;
                Some(
                    world
                        .resolve(&jid)
                        .ok_or_else(|| SimError::NotFound(format!("device {text}")))?,
                )
            }
        };
        tracing::info!(fault = ?request.fault, target = ?target.as_ref().map(ToString::to_string), "fault injected");
        let live: Vec<u64> = world
            .conns
            .iter()
            .filter(|(_, c)| match (&target, &c.state) {
                (None, _) => true,
                (Some(t), crate::world::ConnState::LoggedIn(d)) => t == d,
                _ => false,
            })
            .map(|(&id, _)| id)
            .collect();
        match request.fault {
            Fault::CloseNow => {
                for conn in live {
                    world.command(
                        conn,
                        ConnCommand::Close {
                            stream_error: None,
                            reason: "closed by the control API".to_owned(),
                        },
                    );
                }
            }
            Fault::StreamError { code } => {
                for conn in live {
                    world.command(
                        conn,
                        ConnCommand::Close {
                            stream_error: Some(stanza::stream_error(code)),
                            reason: format!("stream error {code} (control API)"),
                        },
                    );
                }
            }
            Fault::CloseAtHandshake { step } => world.faults.handshake_close.push_back(step),
            Fault::FailureAtNextLogin { reason } => {
                world.faults.login_failures.push((target, reason));
            }
            Fault::DropAcks { count } => world.faults.acks.push((target, AckFault::Drop, count)),
            Fault::DelayAcks { ms, count } => {
                world.faults.acks.push((target, AckFault::Delay(ms), count));
            }
            Fault::CorruptNextFrame => world.faults.frames.push((target, FrameFault::Corrupt)),
            Fault::TruncateNextFrame => world.faults.frames.push((target, FrameFault::Truncate)),
            Fault::BlackHole => world.faults.black_holes.push(target),
            Fault::Clear => world.faults = Default::default(),
        }
        Ok(())
    }

    /// Restarts the server as a process restart would: every connection is dropped,
    /// pending pairings and faults are forgotten, and the lasting state goes through
    /// its saved form (and the state file, if any) before being loaded again.
    pub async fn restart(&self) -> Result<(), SimError> {
        let conns: Vec<u64> = {
            let world = self.shared.lock();
            let conns: Vec<u64> = world.conns.keys().copied().collect();
            for &conn in &conns {
                world.command(
                    conn,
                    ConnCommand::Close {
                        stream_error: None,
                        reason: "server restart".to_owned(),
                    },
                );
            }
            conns
        };
        // Let the connection tasks wind down (bounded: a stuck one is cut off below).
        for _ in 0..200 {
            let open = {
                let world = self.shared.lock();
                conns.iter().any(|c| world.conns.contains_key(c))
            };
            if !open {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.save()?;
        let mut world = self.shared.lock();
        let snapshot = match &self.shared.state_path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SimError::State(format!("{}: {e}", path.display())))?;
                serde_json::from_str::<Snapshot>(&text)
                    .map_err(|e| SimError::State(e.to_string()))?
            }
            None => {
                let text = serde_json::to_string(&Snapshot::of(&world))
                    .map_err(|e| SimError::State(e.to_string()))?;
                serde_json::from_str::<Snapshot>(&text)
                    .map_err(|e| SimError::State(e.to_string()))?
            }
        };
        snapshot.restore_into(&mut world).map_err(SimError::State)?;
        world.conns.clear();
        world.online.clear();
        world.pairings.clear();
        world.faults = Default::default();
        world.client_sent.clear();
        world.emit(SimEvent::Restarted);
        tracing::info!("server restarted");
        Ok(())
    }
}
