//! The browser driver loop: runs one session's engine in the tab that owns
//! the session.
//!
//! Owns: [`Driver`], a single-threaded task (`spawn_local`) that feeds the
//! sans-IO [`Client`] and acts on its [`Output`]s in order — WebSocket frames
//! in and out over a [`WebSocketTransport`], one [`Timer`] re-armed from
//! [`Client::poll_timeout`], [`Output::Persist`] committed to the
//! [`IndexedDbStore`] before [`Client::handle_persisted`] (so nothing that
//! depends on a failed write is acknowledged), [`Output::Wipe`], events to the
//! page's callbacks and to the other tabs; page lifecycle changes (online,
//! resume) that call for a prompt reconnect; and keeping the session index up
//! to date (link, activity, duplicate links).
//!
//! Does not own the JS API (`super::wa_client`), who owns the session (the
//! Web Lock, held here while the driver runs) or the reconnect policy (the
//! engine's).

use std::rc::Rc;

use rand_core::SeedableRng;

use super::api::{ErrorCode, WaError, event_js, status_js};
use super::channel::RemoteError;
use super::inbox::{Inbox, InboxSender, inbox};
use super::index::SessionIndex;
use super::lifecycle::{PageEvent, PageLifecycle};
use super::lock::SessionLock;
use super::media::MediaKind;
use super::object::{Object, optional_string, strings};
use super::socket::{SocketEvent, SocketState, WebSocketTransport};
use super::store::IndexedDbStore;
use super::timer::{Timer, now_unix_ms};
use super::wa_client::{Command, Shared};
use super::{CommandRequest, DuplicateLink};
use crate::binary::Jid;
use crate::client::policy::{TransportClose, TransportCloseKind};
use crate::client::{
    Client, ClientError, ConnectionState, DocumentUpload, Event, GroupInfo, HttpRequestId,
    HttpResponse, ImageUpload, MessageId, OnWhatsApp, Output, QueryId, load_records,
};
use crate::store::{Store, load_auth};
use litemap::LiteMap;
use wasm_bindgen::JsValue;

/// The engine's randomness: ChaCha20 seeded once from `crypto.getRandomValues`
/// (so drawing can never fail later).
type Rng = chacha20::ChaCha20Rng;

/// Where a command's answer goes.
pub(crate) enum Reply {
    /// A command of this tab.
    Local(InboxSender<Result<JsValue, WaError>>),
    /// A command another tab sent over the channel.
    Remote(CommandRequest),
}

/// What wakes the driver up.
pub(crate) enum Input {
    /// A command from the page or another tab.
    Command {
        /// What to do.
        command: Command,
        /// Where the answer goes.
        reply: Reply,
    },
    /// Something happened on socket number `id`.
    Socket {
        /// Which socket (older sockets' events are ignored).
        id: u64,
        /// What.
        event: SocketEvent,
    },
    /// The timer fired.
    Timer,
    /// The page went online, was resumed, …
    Page(PageEvent),
    /// A tab joined: broadcast the current status.
    Hello,
    /// Another session's link changed: look for duplicate links again.
    IndexChanged,
    /// A media transfer the engine asked for has finished.
    Http {
        /// The engine's request.
        id: HttpRequestId,
        /// The status and body, or why there is none.
        result: Result<HttpResponse, String>,
    },
    /// Stop, hand the session over to another tab (the socket closes, the
    /// session and the state other tabs saw are kept).
    Stop(InboxSender<()>),
}

/// One session's engine and everything it drives.
pub(crate) struct Driver {
    shared: Rc<Shared>,
    client: Client,
    store: IndexedDbStore,
    index: Option<SessionIndex>,
    rng: Rng,
    socket: Option<WebSocketTransport>,
    socket_id: u64,
    socket_opened: bool,
    socket_error: bool,
    timer: Timer,
    inbox: Inbox<Input>,
    sender: InboxSender<Input>,
    waiting_for_wipe: Vec<Reply>,
    queries: LiteMap<QueryId, Reply>,
    /// Downloads waiting for the engine, with who asked.
    downloads: Vec<(HttpRequestId, Reply)>,
    wipe_error: Option<WaError>,
    duplicates: Vec<String>,
    index_changes: Option<IndexChanges>,
    _lifecycle: PageLifecycle,
    _lock: SessionLock,
}

/// The origin-wide `BroadcastChannel` on which drivers announce that a
/// session's link changed, so every open session re-checks duplicate links.
struct IndexChanges {
    channel: web_sys::BroadcastChannel,
    _on_message: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>,
}

/// The name of that channel.
const INDEX_CHANNEL: &str = "wa-wasm:index";

impl IndexChanges {
    fn listen(sender: InboxSender<Input>) -> Option<Self> {
        use wasm_bindgen::JsCast;
        let channel = web_sys::BroadcastChannel::new(INDEX_CHANNEL).ok()?;
        let on_message = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |_: web_sys::MessageEvent| {
                sender.push(Input::IndexChanged);
            },
        );
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            _on_message: on_message,
        })
    }

    fn announce(&self) {
        let _ = self.channel.post_message(&JsValue::from_str("link"));
    }
}

impl Drop for IndexChanges {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Seeds the engine's randomness from the browser.
fn seeded_rng() -> Result<Rng, WaError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| WaError::new(ErrorCode::NoRandomness, format!("getRandomValues: {e}")))?;
    Ok(Rng::from_seed(seed))
}

impl Driver {
    /// Opens the session's store and starts the driver in this tab (which
    /// holds `lock`); `auto_connect` connects at once (taking over from a tab
    /// that was connected).
    pub(crate) async fn start(
        shared: Rc<Shared>,
        lock: SessionLock,
        auto_connect: bool,
    ) -> Result<(), WaError> {
        let session = shared.session().to_owned();
        let rng = seeded_rng()?;
        let store = IndexedDbStore::open(&session).await?;
        let auth = load_auth(&store).await?;
        // The engine holds the messaging records (Signal sessions, identities,
        // sender keys…) in memory: load them once, before it runs.
        let records = load_records(&store).await?;
        let index = match SessionIndex::open().await {
            Ok(index) => Some(index),
            Err(error) => {
                tracing::warn!(%error, "the session index is unavailable");
                None
            }
        };
        let (sender, inbox) = inbox();
        let timer = {
            let sender = sender.clone();
            Timer::new(move || {
                sender.push(Input::Timer);
            })
        };
        let lifecycle = {
            let sender = sender.clone();
            PageLifecycle::listen(move |event| {
                sender.push(Input::Page(event));
            })
        };
        let mut client = Client::new(shared.config().clone(), auth);
        client.restore(records);
        let mut driver = Driver {
            shared: Rc::clone(&shared),
            client,
            store,
            index,
            rng,
            socket: None,
            socket_id: 0,
            socket_opened: false,
            socket_error: false,
            timer,
            inbox,
            sender: sender.clone(),
            waiting_for_wipe: Vec::new(),
            queries: LiteMap::new(),
            downloads: Vec::new(),
            wipe_error: None,
            duplicates: Vec::new(),
            index_changes: IndexChanges::listen(sender.clone()),
            _lifecycle: lifecycle,
            _lock: lock,
        };
        driver.touch_index().await;
        driver.check_duplicates().await;
        shared.become_owner(sender);
        tracing::info!(auto_connect, "this tab owns the session");
        if auto_connect {
            let now = now_unix_ms();
            if let Err(error) = driver.client.connect(now, &mut driver.rng) {
                tracing::warn!(%error, "taking over: connect refused");
            }
        }
        let dispatch = shared.log().clone();
        wasm_bindgen_futures::spawn_local(tracing::instrument::WithSubscriber::with_subscriber(
            driver.run(),
            dispatch,
        ));
        Ok(())
    }

    async fn run(mut self) {
        loop {
            self.flush().await;
            self.after_step();
            let Some(input) = self.inbox.next().await else {
                break;
            };
            let now = now_unix_ms();
            match input {
                Input::Command { command, reply } => self.command(command, reply, now),
                Input::Socket { id, event } => self.socket_event(id, event, now),
                Input::Timer => self.client.handle_timeout(now, &mut self.rng),
                Input::Page(event) => self.page_event(event, now),
                Input::Hello => self.shared.broadcast_status(),
                Input::IndexChanged => self.check_duplicates().await,
                Input::Http { id, result } => {
                    self.client
                        .handle_http_response(id, result, now, &mut self.rng)
                }
                Input::Stop(done) => {
                    self.stop();
                    done.push(());
                    break;
                }
            }
        }
    }

    fn stop(&mut self) {
        self.timer.disarm();
        self.socket_id = self.socket_id.wrapping_add(1);
        self.socket = None;
        let queries = core::mem::take(&mut self.queries)
            .into_iter()
            .map(|(_, reply)| reply);
        let downloads = self.downloads.drain(..).map(|(_, reply)| reply);
        for reply in self
            .waiting_for_wipe
            .drain(..)
            .chain(queries)
            .chain(downloads)
        {
            answer(
                &self.shared,
                reply,
                Err(WaError::new(ErrorCode::Closed, "the client was closed")),
            );
        }
        self.shared.stop_owning();
        tracing::info!("this tab released the session");
    }

    fn command(&mut self, command: Command, reply: Reply, now: u64) {
        let rng = &mut self.rng;
        let result = match command {
            Command::Connect => self.client.connect(now, rng).map_err(WaError::from),
            Command::Disconnect => {
                self.client.disconnect(now, rng);
                Ok(())
            }
            Command::Logout | Command::ClearSession => {
                if matches!(command, Command::Logout) {
                    self.client.logout(now, rng);
                } else {
                    self.client.clear_session(now, rng);
                }
                self.wipe_error = None;
                self.waiting_for_wipe.push(reply);
                return;
            }
            Command::RequestPairingCode { phone } => self
                .client
                .request_pairing_code(&phone, now, rng)
                .map_err(WaError::from),
            Command::SendText { to, text } => {
                let sent = send_to(&mut self.client, &to, |client, to| {
                    client.send_text(to, &text, now, rng)
                });
                answer(&self.shared, reply, sent);
                return;
            }
            Command::SendDocument {
                to,
                data,
                file_name,
                mimetype,
                caption,
            } => {
                let upload = DocumentUpload {
                    data,
                    file_name,
                    mimetype,
                    caption,
                };
                let sent = send_to(&mut self.client, &to, |client, to| {
                    client.send_document(to, upload, now, rng)
                });
                answer(&self.shared, reply, sent);
                return;
            }
            Command::SendImage {
                to,
                data,
                mimetype,
                caption,
            } => {
                let upload = ImageUpload {
                    data,
                    mimetype,
                    caption,
                    size: None,
                };
                let sent = send_to(&mut self.client, &to, |client, to| {
                    client.send_image(to, upload, now, rng)
                });
                answer(&self.shared, reply, sent);
                return;
            }
            Command::Download { media } => {
                let started = match media.kind {
                    MediaKind::Document => self.client.download_document(&media.document()),
                    MediaKind::Image => self.client.download_image(&media.image()),
                };
                match started {
                    // Answered by the `MediaDownloaded` event.
                    Ok(id) => {
                        self.downloads.push((id, reply));
                        return;
                    }
                    Err(error) => Err(WaError::from(error)),
                }
            }
            Command::Groups => match self.client.groups(now, rng) {
                // Answered by the `Groups` event.
                Ok(query) => {
                    self.queries.insert(query, reply);
                    return;
                }
                Err(error) => Err(WaError::from(error)),
            },
            Command::MarkRead { chat, ids, sender } => {
                let marked = self.client.parse_recipient(&chat).and_then(|chat| {
                    let sender = match sender {
                        Some(sender) => Some(self.client.parse_recipient(&sender)?),
                        None => None,
                    };
                    self.client
                        .mark_read(&chat, sender.as_ref(), &ids, now, rng)
                });
                marked.map_err(WaError::from)
            }
            Command::IsOnWhatsApp { phones } => {
                let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
                match self.client.is_on_whatsapp(&phones, now, rng) {
                    // Answered by the `OnWhatsApp` event.
                    Ok(query) => {
                        self.queries.insert(query, reply);
                        return;
                    }
                    Err(error) => Err(WaError::from(error)),
                }
            }
        };
        answer(&self.shared, reply, result.map(|()| JsValue::NULL));
    }

    fn socket_event(&mut self, id: u64, event: SocketEvent, now: u64) {
        if id != self.socket_id {
            return;
        }
        match event {
            SocketEvent::Open => {
                self.socket_opened = true;
                self.client.handle_connected(now, &mut self.rng);
            }
            SocketEvent::Message(bytes) => self.client.handle_bytes(&bytes, now, &mut self.rng),
            SocketEvent::Text(_) => tracing::debug!("ignoring a text message"),
            SocketEvent::Error => self.socket_error = true,
            SocketEvent::Closed(info) => {
                tracing::debug!(code = info.code, reason = %info.reason, "socket closed");
                self.socket = None;
                let kind = if !self.socket_opened {
                    TransportCloseKind::ConnectFailed
                } else if self.socket_error || info.is_abnormal() {
                    TransportCloseKind::Error
                } else {
                    TransportCloseKind::ClosedByPeer
                };
                let close = TransportClose {
                    kind,
                    websocket_code: Some(info.code),
                };
                self.client.handle_disconnected(close, now, &mut self.rng);
            }
        }
    }

    fn page_event(&mut self, event: PageEvent, now: u64) {
        tracing::debug!(?event, state = %self.client.state(), "page event");
        match event {
            PageEvent::Online | PageEvent::Resumed
                if self.client.state() == ConnectionState::Reconnecting =>
            {
                // Back online or thawed: retry now rather than after the back-off.
                if let Err(error) = self.client.connect(now, &mut self.rng) {
                    tracing::debug!(%error, "prompt reconnect refused");
                }
            }
            PageEvent::Resumed | PageEvent::Visible => {
                let dead = self
                    .socket
                    .as_ref()
                    .is_some_and(|socket| socket.state() == SocketState::Closed);
                if dead {
                    // A frozen tab may have missed its socket's close event.
                    self.socket_event(
                        self.socket_id,
                        SocketEvent::Closed(super::CloseInfo {
                            code: super::socket::CLOSE_ABNORMAL,
                            reason: "closed while frozen".to_owned(),
                            was_clean: false,
                        }),
                        now,
                    );
                } else if self.client.poll_timeout().is_some_and(|at| now >= at) {
                    // Timers ran late or not at all while hidden or frozen.
                    self.client.handle_timeout(now, &mut self.rng);
                }
            }
            _ => {}
        }
    }

    /// Acts on every output, in order.
    async fn flush(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Connect { url } => self.open_socket(&url),
                Output::Send(bytes) => {
                    // A failed send shows up as the socket's close.
                    if let Some(Err(error)) = self.socket.as_ref().map(|s| s.send(&bytes)) {
                        tracing::debug!(%error, "send failed");
                    }
                }
                Output::Disconnect => {
                    self.socket_id = self.socket_id.wrapping_add(1);
                    self.socket = None;
                }
                Output::Persist(changes) => {
                    let result = self.store.commit(&changes).await;
                    if let Err(error) = &result {
                        tracing::error!(%error, "storing the session failed");
                    }
                    let now = now_unix_ms();
                    self.client.handle_persisted(result, now, &mut self.rng);
                }
                Output::Wipe => {
                    let result = self.store.wipe().await;
                    match &result {
                        Ok(()) => self.unlink_index().await,
                        Err(error) => {
                            tracing::error!(%error, "wiping the session failed");
                            self.wipe_error = Some(WaError::from(error.clone()));
                        }
                    }
                    let now = now_unix_ms();
                    self.client.handle_persisted(result, now, &mut self.rng);
                }
                Output::Event(event) => self.event(event).await,
                Output::Http(request) => {
                    // Transfers run beside the loop: a slow upload holds nothing up.
                    let sender = self.sender.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let result = super::http::fetch(&request).await;
                        sender.push(Input::Http {
                            id: request.id,
                            result,
                        });
                    });
                }
            }
        }
    }

    fn open_socket(&mut self, url: &str) {
        self.socket_id = self.socket_id.wrapping_add(1);
        self.socket = None;
        self.socket_opened = false;
        self.socket_error = false;
        let id = self.socket_id;
        let sender = self.sender.clone();
        match WebSocketTransport::connect(url, move |event| {
            sender.push(Input::Socket { id, event });
        }) {
            Ok(socket) => self.socket = Some(socket),
            Err(error) => {
                tracing::warn!(%error, "cannot open the socket");
                let close = TransportClose {
                    kind: TransportCloseKind::ConnectFailed,
                    websocket_code: None,
                };
                let now = now_unix_ms();
                self.client.handle_disconnected(close, now, &mut self.rng);
            }
        }
    }

    async fn event(&mut self, event: Event) {
        // Callbacks may read `status()`: make it current first.
        self.publish_status();
        if let Some((name, data)) = event_js(&event) {
            self.shared.publish(name, data);
        }
        match &event {
            Event::OnWhatsApp { id, result } => {
                if let Some(reply) = self.queries.remove(id) {
                    let result = match result {
                        Ok(found) => Ok(on_whatsapp_js(found)),
                        Err(error) => Err(WaError::new(ErrorCode::SendFailed, error.to_string())),
                    };
                    answer(&self.shared, reply, result);
                }
            }
            Event::Groups { id, result } => {
                if let Some(reply) = self.queries.remove(id) {
                    let result = match result {
                        Ok(groups) => Ok(groups_js(groups)),
                        Err(error) => Err(WaError::new(ErrorCode::SendFailed, error.to_string())),
                    };
                    answer(&self.shared, reply, result);
                }
            }
            Event::MediaDownloaded { id, result } => {
                if let Some(at) = self.downloads.iter().position(|(waiting, _)| waiting == id) {
                    let (_, reply) = self.downloads.swap_remove(at);
                    let result = match result {
                        Ok(bytes) => Ok(js_sys::Uint8Array::from(bytes.as_slice()).into()),
                        Err(error) => {
                            Err(WaError::new(ErrorCode::DownloadFailed, error.to_string()))
                        }
                    };
                    answer(&self.shared, reply, result);
                }
            }
            Event::Paired { me, lid, .. } => {
                if let Some(index) = &self.index
                    && let Err(error) = index
                        .set_link(
                            self.shared.session(),
                            Some(me),
                            lid.as_deref(),
                            now_unix_ms(),
                        )
                        .await
                {
                    tracing::warn!(%error, "cannot record the link in the session index");
                }
                self.announce_link_change();
                self.check_duplicates().await;
            }
            Event::Connection(update) if update.state == ConnectionState::Open => {
                self.touch_index().await;
            }
            _ => {}
        }
    }

    async fn touch_index(&self) {
        if let Some(index) = &self.index
            && let Err(error) = index.touch(self.shared.session(), now_unix_ms()).await
        {
            tracing::warn!(%error, "cannot update the session index");
        }
    }

    async fn unlink_index(&mut self) {
        if let Some(index) = &self.index
            && let Err(error) = index
                .set_link(self.shared.session(), None, None, now_unix_ms())
                .await
        {
            tracing::warn!(%error, "cannot update the session index");
        }
        self.duplicates.clear();
        self.announce_link_change();
    }

    fn announce_link_change(&self) {
        if let Some(changes) = &self.index_changes {
            changes.announce();
        }
    }

    /// Looks for other sessions linking the same phone number; reports a new
    /// finding as a `duplicate-link` event.
    async fn check_duplicates(&mut self) {
        let Some(index) = &self.index else {
            return;
        };
        let session = self.shared.session();
        let found: Option<DuplicateLink> = match index.duplicates().await {
            Ok(duplicates) => duplicates
                .into_iter()
                .find(|duplicate| duplicate.sessions.iter().any(|name| name == session)),
            Err(error) => {
                tracing::warn!(%error, "cannot read the session index");
                return;
            }
        };
        let others: Vec<String> = found
            .as_ref()
            .map(|duplicate| {
                duplicate
                    .sessions
                    .iter()
                    .filter(|name| *name != session)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if others != self.duplicates {
            self.duplicates = others;
            self.publish_status();
            if let Some(duplicate) = found {
                tracing::warn!(
                    phone = %duplicate.phone_number,
                    sessions = ?duplicate.sessions,
                    "several sessions link the same phone number"
                );
                self.shared.publish(
                    "duplicate-link",
                    Object::new()
                        .set("phoneNumber", duplicate.phone_number.as_str())
                        .set("sessions", strings(&duplicate.sessions))
                        .into_js(),
                );
            }
        }
    }

    fn publish_status(&self) {
        self.shared.set_status(status_js(
            self.shared.session(),
            &self.client.status(),
            &self.duplicates,
        ));
    }

    fn after_step(&mut self) {
        let state = self.client.state();
        if state == ConnectionState::LoggedOut && !self.waiting_for_wipe.is_empty() {
            let result = match self.wipe_error.take() {
                Some(error) => Err(error),
                None => Ok(JsValue::NULL),
            };
            for reply in std::mem::take(&mut self.waiting_for_wipe) {
                answer(&self.shared, reply, result.clone());
            }
        }
        self.publish_status();
        let now = now_unix_ms();
        match self.client.poll_timeout() {
            Some(deadline) => self.timer.arm_at(deadline, now),
            None => self.timer.disarm(),
        }
    }
}

/// Sends a command's answer where it belongs.
fn answer(shared: &Shared, reply: Reply, result: Result<JsValue, WaError>) {
    match reply {
        Reply::Local(sender) => {
            sender.push(result);
        }
        Reply::Remote(request) => {
            let result = result.map_err(|error| RemoteError {
                code: error.code_text().to_owned(),
                message: error.message_text().to_owned(),
            });
            shared.reply(&request, result);
        }
    }
}

/// Sends to `to` (a number or JID) with `send`; the answer is `{ id }`.
fn send_to(
    client: &mut Client,
    to: &str,
    send: impl FnOnce(&mut Client, &Jid) -> Result<MessageId, ClientError>,
) -> Result<JsValue, WaError> {
    let to = client.parse_recipient(to).map_err(WaError::from)?;
    send(client, &to)
        .map(|id| Object::new().set("id", id).into_js())
        .map_err(WaError::from)
}

/// `groups()`'s answer.
fn groups_js(groups: &[GroupInfo]) -> JsValue {
    groups
        .iter()
        .map(|group| {
            let participants = group
                .participants
                .iter()
                .map(|participant| {
                    Object::new()
                        .set("jid", participant.jid.to_string())
                        .set(
                            "lid",
                            optional_string(
                                participant.lid.as_ref().map(ToString::to_string).as_deref(),
                            ),
                        )
                        .into_js()
                })
                .collect::<js_sys::Array>();
            Object::new()
                .set("jid", group.jid.to_string())
                .set("subject", group.subject.as_str())
                .set("participants", participants)
                .into_js()
        })
        .collect::<js_sys::Array>()
        .into()
}

/// `isOnWhatsApp`'s answer.
fn on_whatsapp_js(found: &[OnWhatsApp]) -> JsValue {
    found
        .iter()
        .map(|entry| {
            Object::new()
                .set("phone", entry.phone.as_str())
                .set("jid", entry.jid.to_string())
                .set("exists", entry.exists)
                .set(
                    "lid",
                    optional_string(entry.lid.as_ref().map(ToString::to_string).as_deref()),
                )
                .into_js()
        })
        .collect::<js_sys::Array>()
        .into()
}
