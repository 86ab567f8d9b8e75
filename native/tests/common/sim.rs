//! [`SimHarness`]: the harness against wa-sim in-process (local links,
//! virtual time shared through tokio's clock).

use core::time::Duration;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_native::{Clock, ConnectError, Connection, Driver, Events, Handle};
use wa_sim::{DEFAULT_ME_PHONE, DeviceKind, Fault, FaultRequest, Sim, SimConfig, SimEvent};
use wa_wasm::client::{ClientConfig, ClientError, Event, Status};
use wa_wasm::store::{FaultyStore, MemoryStore, load_auth};

use super::START;
use super::harness::Harness;

/// A client driven by the tokio driver, linked to an in-process simulator.
pub struct SimHarness {
    pub sim: Arc<Sim>,
    pub store: Arc<FaultyStore<MemoryStore>>,
    clock: Clock,
    seed: u64,
    handle: Option<Handle>,
    events: Option<Events>,
    /// Applied to every client's configuration.
    pub tweak: fn(&mut ClientConfig),
}

impl SimHarness {
    pub fn new() -> Self {
        let sim = Sim::start_local(SimConfig {
            seed: Some(7),
            base_unix_ms: Some(START),
            ..SimConfig::default()
        })
        .unwrap();
        Self {
            sim: Arc::new(sim),
            store: Arc::new(FaultyStore::new(MemoryStore::new())),
            clock: Clock::starting_at(START),
            seed: 100,
            handle: None,
            events: None,
            tweak: |_| {},
        }
    }

    pub fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("client started")
    }

    /// Injects a fault for every connection.
    pub fn inject(&self, fault: Fault) {
        self.sim
            .inject(FaultRequest {
                fault,
                target: None,
            })
            .unwrap();
    }

    /// Bridges a simulator local link to a driver connection.
    fn connector(&self) -> impl FnMut(&str) -> Result<Connection, ConnectError> + use<> {
        let sim = self.sim.clone();
        move |_url: &str| {
            let (mut to_sim, mut from_sim) = sim.connect_local().split();
            let (ours, theirs) = Connection::pair();
            let Connection {
                outgoing: to_engine,
                incoming: mut from_engine,
            } = theirs;
            tokio::spawn(async move {
                while let Some(bytes) = from_engine.recv().await {
                    if to_sim.send(bytes).is_err() {
                        return;
                    }
                }
                to_sim.close();
            });
            tokio::spawn(async move {
                while let Some(bytes) = from_sim.recv().await {
                    if to_engine.send(bytes).is_err() {
                        return;
                    }
                }
            });
            Ok(ours)
        }
    }

    /// Records the client's store holds in `namespace`.
    pub fn stored_records_in(&self, namespace: wa_wasm::store::Namespace) -> usize {
        use wa_wasm::store::Store as _;
        futures_executor(self.store.keys(namespace)).map_or(0, |keys| keys.len())
    }

    /// The companion devices the account holds.
    pub fn companions(&self) -> usize {
        self.sim
            .account(DEFAULT_ME_PHONE)
            .map(|a| {
                a.devices
                    .iter()
                    .filter(|d| d.kind == DeviceKind::Companion)
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Harness for SimHarness {
    async fn start_client(&mut self) {
        self.handle = None;
        self.events = None;
        let auth = load_auth(&self.store).await.unwrap();
        let mut config = ClientConfig::new("mem://sim/ws/chat", self.sim.root_public_key());
        (self.tweak)(&mut config);
        self.seed += 1;
        let (driver, handle, events) = Driver::new(
            config,
            auth,
            self.store.clone(),
            self.connector(),
            self.clock,
            StdRng::seed_from_u64(self.seed),
        );
        tokio::spawn(driver.run());
        self.handle = Some(handle);
        self.events = Some(events);
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        self.handle().connect().await
    }

    async fn logout(&mut self) {
        self.handle().logout().await.unwrap();
    }

    async fn clear_session(&mut self) {
        self.handle().clear_session().await.unwrap();
    }

    async fn request_pairing_code(&mut self, phone: &str) -> Result<(), ClientError> {
        self.handle().request_pairing_code(phone).await
    }

    async fn status(&mut self) -> Status {
        self.handle().status().await.unwrap()
    }

    async fn wait_event(
        &mut self,
        within: Duration,
        wanted: &mut dyn FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let events = self.events.as_mut().expect("client started");
        events.wait_for(within, |e| wanted(e)).await
    }

    async fn sleep(&mut self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn phone(&self) -> &str {
        DEFAULT_ME_PHONE
    }

    fn scan(&mut self, qr: &str) {
        self.sim.scan_qr(None, qr).unwrap();
    }

    fn stream_error(&mut self, code: u16) {
        self.inject(Fault::StreamError { code });
    }

    fn drop_connection(&mut self) {
        self.inject(Fault::CloseNow);
    }

    async fn restart_server(&mut self) {
        self.sim.restart().await.unwrap();
    }

    fn set_silent(&mut self, silent: bool) {
        self.inject(if silent {
            Fault::BlackHole
        } else {
            Fault::Clear
        });
    }

    fn fail_next_login(&mut self, reason: u16) {
        self.inject(Fault::FailureAtNextLogin { reason });
    }

    fn connections(&self) -> u32 {
        let opened = self
            .sim
            .events_since(0)
            .into_iter()
            .filter(|record| matches!(record.event, SimEvent::ConnectionOpened { .. }))
            .count();
        u32::try_from(opened).unwrap_or(u32::MAX)
    }

    fn server_has_device(&self) -> bool {
        self.companions() > 0
    }

    fn stored_records(&self) -> usize {
        self.store.inner().len()
    }
}

/// Runs a store future that never waits (the memory store is synchronous).
fn futures_executor<F: core::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = core::pin::pin!(future);
    loop {
        if let core::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
