//! `WaClient`: what a web page imports.
//!
//! Owns: the JS class [`WaClient`] (its async factory, commands as promises,
//! `on`/unsubscribe, `status()`, `close()`, the static `sessions()`), the
//! callbacks of one client and how they are called (an exception in one is
//! logged and never stops the client), and the tab roles: the tab holding the
//! session's Web Lock runs the [`Driver`]; every other tab of the origin
//! follows it over the session's `BroadcastChannel` (same status, same
//! events) and sends its commands to it. When the owner closes, the browser
//! hands the lock to a waiting tab, which opens the store and reconnects if
//! the owner was connected — without a second socket, so no 440 conflict.
//!
//! Does not own the engine loop ([`super::driver`]) nor the shape of options,
//! events and errors ([`super::api`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use core::future::Future;
use core::pin::Pin;
use js_sys::{Array, Function, Promise, Uint8Array};
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::future_to_promise;

use super::api::{ErrorCode, Options, WaError, error_js, unknown_status_js};
use super::channel::{ChannelError, CommandRequest, Incoming, RemoteError, SessionChannel, Wire};
use super::console::{ConsoleLog, install_panic_hook};
use super::driver::{Driver, Input, Reply};
use super::inbox::{InboxSender, inbox};
use super::index::{SessionIndex, find_duplicates};
use super::lock::{LockError, SessionLock};
use super::media::{MediaRef, read_file};
use super::object::{
    Object, bytes_field, copy, field, number, optional_string, optional_string_field, same_data,
    string_field, strings, strings_field,
};
use super::store::IndexedDbStore;
use crate::client::ClientConfig;

/// How long a following tab waits for the owner to answer a command.
const REMOTE_COMMAND_TIMEOUT_MS: u64 = 15_000;

/// A command of the JS API, run by the owning tab (also sent over the
/// channel by following tabs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `connect()`.
    Connect,
    /// `disconnect()`.
    Disconnect,
    /// `logout()`.
    Logout,
    /// `clearSession()`.
    ClearSession,
    /// `requestPairingCode(phone)`.
    RequestPairingCode {
        /// The phone number.
        phone: String,
    },
    /// `sendText(to, text)`.
    SendText {
        /// A phone number or JID.
        to: String,
        /// The text.
        text: String,
    },
    /// `markRead(chat, ids, sender)`.
    MarkRead {
        /// The chat (JID or number).
        chat: String,
        /// The messages.
        ids: Vec<String>,
        /// The sending device, in groups.
        sender: Option<String>,
    },
    /// `isOnWhatsApp(phones)`.
    IsOnWhatsApp {
        /// Phone numbers.
        phones: Vec<String>,
    },
    /// `sendDocument(to, data, options)`.
    SendDocument {
        /// A phone number or JID.
        to: String,
        /// The file.
        data: Vec<u8>,
        /// Its name.
        file_name: String,
        /// Its MIME type.
        mimetype: String,
        /// A caption.
        caption: Option<String>,
    },
    /// `sendImage(to, data, options)`.
    SendImage {
        /// A phone number or JID.
        to: String,
        /// The image.
        data: Vec<u8>,
        /// Its MIME type.
        mimetype: String,
        /// A caption.
        caption: Option<String>,
    },
    /// `downloadMedia(message)`.
    Download {
        /// The file.
        media: MediaRef,
    },
    /// `groups()`.
    Groups,
}

impl Wire for Command {
    fn to_js(&self) -> JsValue {
        let command = |kind: &str| Object::new().set("type", kind);
        match self {
            Command::Connect => command("connect"),
            Command::Disconnect => command("disconnect"),
            Command::Logout => command("logout"),
            Command::ClearSession => command("clearSession"),
            Command::RequestPairingCode { phone } => {
                command("requestPairingCode").set("phone", phone.as_str())
            }
            Command::SendText { to, text } => command("sendText")
                .set("to", to.as_str())
                .set("text", text.as_str()),
            Command::MarkRead { chat, ids, sender } => command("markRead")
                .set("chat", chat.as_str())
                .set("ids", strings(ids))
                .set("sender", optional_string(sender.as_deref())),
            Command::IsOnWhatsApp { phones } => {
                command("isOnWhatsApp").set("phones", strings(phones))
            }
            Command::SendDocument {
                to,
                data,
                file_name,
                mimetype,
                caption,
            } => command("sendDocument")
                .set("to", to.as_str())
                .set("data", Uint8Array::from(data.as_slice()))
                .set("fileName", file_name.as_str())
                .set("mimetype", mimetype.as_str())
                .set("caption", optional_string(caption.as_deref())),
            Command::SendImage {
                to,
                data,
                mimetype,
                caption,
            } => command("sendImage")
                .set("to", to.as_str())
                .set("data", Uint8Array::from(data.as_slice()))
                .set("mimetype", mimetype.as_str())
                .set("caption", optional_string(caption.as_deref())),
            Command::Download { media } => command("download").set("media", media.to_js()),
            Command::Groups => command("groups"),
        }
        .into_js()
    }

    fn from_js(value: &JsValue) -> Result<Self, String> {
        Ok(match string_field(value, "type")?.as_str() {
            "connect" => Command::Connect,
            "disconnect" => Command::Disconnect,
            "logout" => Command::Logout,
            "clearSession" => Command::ClearSession,
            "requestPairingCode" => Command::RequestPairingCode {
                phone: string_field(value, "phone")?,
            },
            "sendText" => Command::SendText {
                to: string_field(value, "to")?,
                text: string_field(value, "text")?,
            },
            "markRead" => Command::MarkRead {
                chat: string_field(value, "chat")?,
                ids: strings_field(value, "ids")?,
                sender: optional_string_field(value, "sender")?,
            },
            "isOnWhatsApp" => Command::IsOnWhatsApp {
                phones: strings_field(value, "phones")?,
            },
            "sendDocument" => Command::SendDocument {
                to: string_field(value, "to")?,
                data: bytes_field(value, "data")?,
                file_name: string_field(value, "fileName")?,
                mimetype: string_field(value, "mimetype")?,
                caption: optional_string_field(value, "caption")?,
            },
            "sendImage" => Command::SendImage {
                to: string_field(value, "to")?,
                data: bytes_field(value, "data")?,
                mimetype: string_field(value, "mimetype")?,
                caption: optional_string_field(value, "caption")?,
            },
            "download" => Command::Download {
                media: MediaRef::from_js(&field(value, "media"))?,
            },
            "groups" => Command::Groups,
            other => return Err(format!("unknown command {other:?}")),
        })
    }
}

/// What the owning tab tells the others.
#[derive(Debug, Clone)]
pub(crate) enum Broadcast {
    /// An event, as the page receives it.
    Event {
        /// The event name.
        name: String,
        /// Its payload.
        data: JsValue,
    },
    /// The current status.
    Status {
        /// `wa.status()`.
        status: JsValue,
    },
}

impl Wire for Broadcast {
    fn to_js(&self) -> JsValue {
        match self {
            Broadcast::Event { name, data } => Object::new()
                .set("type", "event")
                .set("name", name.as_str())
                .set("data", data.clone()),
            Broadcast::Status { status } => Object::new()
                .set("type", "status")
                .set("status", status.clone()),
        }
        .into_js()
    }

    fn from_js(value: &JsValue) -> Result<Self, String> {
        Ok(match string_field(value, "type")?.as_str() {
            "event" => Broadcast::Event {
                name: string_field(value, "name")?,
                data: field(value, "data"),
            },
            "status" => Broadcast::Status {
                status: field(value, "status"),
            },
            other => return Err(format!("unknown broadcast {other:?}")),
        })
    }
}

type Channel = SessionChannel<Broadcast, Command, JsValue>;

struct Listener {
    id: u32,
    event: String,
    callback: Function,
}

/// The state one `WaClient` shares with its driver and its channel.
pub(crate) struct Shared {
    session: String,
    config: ClientConfig,
    log: Dispatch,
    listeners: RefCell<Vec<Listener>>,
    next_listener: Cell<u32>,
    status: RefCell<JsValue>,
    driver: RefCell<Option<InboxSender<Input>>>,
    channel: RefCell<Option<Rc<Channel>>>,
    closed: Cell<bool>,
}

impl Shared {
    pub(crate) fn session(&self) -> &str {
        &self.session
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(crate) fn log(&self) -> &Dispatch {
        &self.log
    }

    fn is_owner(&self) -> bool {
        self.driver.borrow().is_some()
    }

    fn channel(&self) -> Option<Rc<Channel>> {
        self.channel.borrow().clone()
    }

    /// Calls this tab's callbacks for `name`.
    fn emit(&self, name: &str, data: &JsValue) {
        let callbacks: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|listener| listener.event == name)
            .map(|listener| listener.callback.clone())
            .collect();
        for callback in callbacks {
            if let Err(error) = callback.call1(&JsValue::UNDEFINED, data) {
                let (error_name, message) = super::js::error_name_and_message(&error);
                tracing::dispatcher::with_default(&self.log, || {
                    tracing::error!(
                        event = name,
                        "a `{name}` callback threw {error_name}: {message}"
                    );
                });
            }
        }
    }

    /// Tells this tab and the others about an event (owner).
    pub(crate) fn publish(&self, name: &str, data: JsValue) {
        self.emit(name, &data);
        if let Some(channel) = self.channel()
            && let Err(error) = channel.broadcast(Broadcast::Event {
                name: name.to_owned(),
                data,
            })
        {
            tracing::debug!(%error, "cannot broadcast an event");
        }
    }

    /// Records the status and tells the other tabs when it changed (owner).
    pub(crate) fn set_status(&self, status: JsValue) {
        if same_data(&self.status.borrow(), &status) {
            return;
        }
        *self.status.borrow_mut() = status;
        self.broadcast_status();
    }

    /// Sends the status to the other tabs (owner).
    pub(crate) fn broadcast_status(&self) {
        let status = self.status.borrow().clone();
        if let Some(channel) = self.channel()
            && let Err(error) = channel.broadcast(Broadcast::Status { status })
        {
            tracing::debug!(%error, "cannot broadcast the status");
        }
    }

    /// Answers another tab's command (owner).
    pub(crate) fn reply(&self, request: &CommandRequest, result: Result<JsValue, RemoteError>) {
        if let Some(channel) = self.channel()
            && let Err(error) = channel.reply(request, result)
        {
            tracing::debug!(%error, "cannot answer another tab");
        }
    }

    /// The driver now runs in this tab.
    pub(crate) fn become_owner(&self, driver: InboxSender<Input>) {
        *self.driver.borrow_mut() = Some(driver);
        if let Some(channel) = self.channel() {
            channel.fail_pending("this tab now owns the session");
        }
        self.set_role("owner");
    }

    /// The driver stopped.
    pub(crate) fn stop_owning(&self) {
        self.driver.borrow_mut().take();
        self.set_role("follower");
    }

    fn set_role(&self, role: &str) {
        set_field(&self.status.borrow(), "role", role);
        self.emit("tab", &Object::new().set("role", role).into_js());
    }

    /// Something from another tab.
    fn incoming(&self, incoming: Incoming<Broadcast, Command>) {
        let driver = self.driver.borrow().clone();
        match (incoming, driver) {
            (Incoming::Event { event, .. }, None) => match event {
                Broadcast::Event { name, data } => self.emit(&name, &data),
                Broadcast::Status { status } => {
                    set_field(&status, "role", "follower");
                    *self.status.borrow_mut() = status;
                }
            },
            (Incoming::Command { request, command }, Some(driver)) => {
                driver.push(Input::Command {
                    command,
                    reply: Reply::Remote(request),
                });
            }
            (Incoming::Hello { .. }, Some(driver)) => {
                driver.push(Input::Hello);
            }
            (Incoming::Undecodable { error }, _) => {
                tracing::dispatcher::with_default(&self.log, || {
                    tracing::warn!(%error, "undecodable message from another tab");
                });
            }
            _ => {}
        }
    }

    /// Whether the state other tabs last saw means the session was in use.
    fn was_connected(&self) -> bool {
        let state = field(&self.status.borrow(), "state").as_string();
        matches!(
            state.as_deref(),
            Some(
                "connecting"
                    | "handshaking"
                    | "qr"
                    | "pairing"
                    | "logging_in"
                    | "open"
                    | "reconnecting"
            )
        )
    }
}

/// Runs `command` in the owning tab (this one, or another over the channel).
/// `options.mimetype` (or `options.mimeType`), if given.
fn mimetype_option(options: &JsValue) -> Result<Option<String>, WaError> {
    let invalid = |message: String| WaError::new(ErrorCode::InvalidMedia, message);
    Ok(optional_string_field(options, "mimetype")
        .map_err(invalid)?
        .or(optional_string_field(options, "mimeType").map_err(invalid)?)
        .filter(|mimetype| !mimetype.trim().is_empty()))
}

/// Sets `object[key]` on a status object.
fn set_field(object: &JsValue, key: &str, value: &str) {
    if object.is_object() {
        let _ = js_sys::Reflect::set(object, &JsValue::from_str(key), &JsValue::from_str(value));
    }
}

async fn run_command(shared: Rc<Shared>, command: Command) -> Result<JsValue, WaError> {
    if shared.closed.get() {
        return Err(WaError::new(ErrorCode::Closed, "the client was closed"));
    }
    let driver = shared.driver.borrow().clone();
    if let Some(driver) = driver {
        let (reply, mut answer) = inbox();
        driver.push(Input::Command {
            command,
            reply: Reply::Local(reply),
        });
        return answer
            .next()
            .await
            .unwrap_or_else(|| Err(WaError::new(ErrorCode::Closed, "the client was closed")));
    }
    let channel = shared
        .channel()
        .ok_or_else(|| WaError::new(ErrorCode::Closed, "the client was closed"))?;
    let answer = channel
        .request(command.clone(), REMOTE_COMMAND_TIMEOUT_MS)
        .await;
    if matches!(answer, Err(ChannelError::Abandoned(_))) && shared.is_owner() {
        // This tab took the session over while the command was on its way
        // to the old owner: run it here.
        return Box::pin(run_command(shared, command)).await;
    }
    answer.map_err(|error| match error {
        ChannelError::Remote(remote) => WaError::remote(remote.code, remote.message),
        ChannelError::Timeout { .. } | ChannelError::Abandoned(_) => {
            WaError::new(ErrorCode::NoOwner, error.to_string())
        }
        ChannelError::Closed => WaError::new(ErrorCode::Closed, error.to_string()),
        other => WaError::new(ErrorCode::Channel, other.to_string()),
    })
}

fn lock_error(error: LockError) -> WaError {
    match error {
        LockError::NotAvailable => WaError::new(ErrorCode::LockUnavailable, error.to_string()),
        other => WaError::new(ErrorCode::LockUnavailable, other.to_string()),
    }
}

/// Waits (in the browser's queue) until this tab may own the session, then
/// starts the driver.
async fn follow_then_own(shared: Rc<Shared>) {
    let lock = match SessionLock::acquire(shared.session()).await {
        Ok(lock) => lock,
        Err(error) => {
            tracing::warn!(%error, "cannot wait for the session lock");
            return;
        }
    };
    if shared.closed.get() {
        return;
    }
    let auto_connect = shared.was_connected();
    if let Err(error) = Driver::start(Rc::clone(&shared), lock, auto_connect).await {
        tracing::error!(error = %error.message_text(), "cannot take the session over");
        shared.emit("error", &error_js(&error));
    }
}

/// A WhatsApp Web session in the browser.
///
/// ```js
/// import init, { WaClient } from 'wa-wasm';
/// await init();
/// const wa = await WaClient.open({ session: 'org-2', url, rootKey });
/// wa.on('qr', ({ svg }) => (qrBox.innerHTML = svg));
/// wa.on('connection', ({ state, reason }) => console.log(state, reason));
/// await wa.connect();
/// ```
///
/// One tab of the origin owns the session (a Web Lock) and holds its socket;
/// the client in any other tab follows it: same status and events, commands
/// sent to the owner. Every rejection is a `WaError` with a `code`.
#[wasm_bindgen]
pub struct WaClient {
    shared: Rc<Shared>,
}

impl core::fmt::Debug for WaClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaClient")
            .field("session", &self.shared.session)
            .field("owner", &self.shared.is_owner())
            .finish()
    }
}

impl WaClient {
    fn command(&self, command: Command) -> Promise {
        self.command_after(Box::pin(core::future::ready(Ok(command))))
    }

    /// Runs a command built by an async step (reading a Blob, say). Boxed, so
    /// that every command shares one copy of the code that runs it.
    fn command_after(
        &self,
        prepare: Pin<Box<dyn Future<Output = Result<Command, WaError>>>>,
    ) -> Promise {
        let shared = Rc::clone(&self.shared);
        let log = shared.log.clone();
        future_to_promise(
            async move {
                let command = prepare.await.map_err(WaError::into_js)?;
                run_command(shared, command)
                    .await
                    .map(|value| {
                        if value.is_null() {
                            JsValue::UNDEFINED
                        } else {
                            value
                        }
                    })
                    .map_err(WaError::into_js)
            }
            .with_subscriber(log),
        )
    }

    async fn open_options(options: Options) -> Result<WaClient, WaError> {
        let log = ConsoleLog::dispatch(&options.session, options.log_level);
        let shared = Rc::new(Shared {
            status: RefCell::new(unknown_status_js(&options.session)),
            session: options.session,
            config: options.config,
            log,
            listeners: RefCell::default(),
            next_listener: Cell::new(1),
            driver: RefCell::default(),
            channel: RefCell::default(),
            closed: Cell::new(false),
        });
        let channel = {
            let weak = Rc::downgrade(&shared);
            Channel::open(&shared.session, move |incoming| {
                if let Some(shared) = weak.upgrade() {
                    shared.incoming(incoming);
                }
            })
            .map_err(|error| WaError::new(ErrorCode::Channel, error.to_string()))?
        };
        *shared.channel.borrow_mut() = Some(Rc::new(channel));
        match SessionLock::try_acquire(&shared.session)
            .await
            .map_err(lock_error)?
        {
            Some(lock) => Driver::start(Rc::clone(&shared), lock, false).await?,
            None => {
                tracing::info!("another tab owns the session: following it");
                if let Some(channel) = shared.channel() {
                    let _ = channel.hello();
                }
                wasm_bindgen_futures::spawn_local(
                    follow_then_own(Rc::clone(&shared)).with_subscriber(shared.log.clone()),
                );
            }
        }
        Ok(WaClient { shared })
    }
}

#[wasm_bindgen]
impl WaClient {
    /// Opens the session named in `options` (creating its database if new):
    /// this tab owns it if no other tab does, and follows the owner otherwise.
    /// Does not connect: call `connect()`.
    pub async fn open(
        #[wasm_bindgen(unchecked_param_type = "WaClientOptions")] options: JsValue,
    ) -> Result<WaClient, JsValue> {
        install_panic_hook();
        let options = Options::from_js(&options).map_err(WaError::into_js)?;
        let log = ConsoleLog::dispatch(&options.session, options.log_level);
        Self::open_options(options)
            .with_subscriber(log)
            .await
            .map_err(WaError::into_js)
    }

    /// The stored sessions of this origin (from the session index), to
    /// restore every link at start-up and prune stale ones.
    #[wasm_bindgen(unchecked_return_type = "Promise<StoredSession[]>")]
    pub fn sessions() -> Promise {
        future_to_promise(async {
            let index = SessionIndex::open()
                .await
                .map_err(|error| WaError::from(error).into_js())?;
            let sessions = index
                .list()
                .await
                .map_err(|error| WaError::from(error).into_js())?;
            let duplicates = find_duplicates(&sessions);
            let list = Array::new();
            for session in &sessions {
                let others = duplicates
                    .iter()
                    .filter(|d| d.sessions.contains(&session.name))
                    .flat_map(|d| d.sessions.iter())
                    .filter(|name| **name != session.name);
                list.push(
                    &Object::new()
                        .set("name", session.name.as_str())
                        .set("me", optional_string(session.me.as_deref()))
                        .set("lid", optional_string(session.lid.as_deref()))
                        .set(
                            "phoneNumber",
                            optional_string(session.phone_number().as_deref()),
                        )
                        .set("createdAt", number(session.created_at_ms))
                        .set("lastActivity", number(session.last_activity_ms))
                        .set("duplicates", strings(others))
                        .into_js(),
                );
            }
            Ok(list.into())
        })
    }

    /// Deletes a stored session that no tab has open: its database (records
    /// and at-rest key) and its index entry. Does not unlink the device on
    /// the server (use `logout()` for that). Rejects with `in_use` if a
    /// client of this origin has the session open.
    #[wasm_bindgen(js_name = removeSession, unchecked_return_type = "Promise<void>")]
    pub fn remove_session(name: String) -> Promise {
        future_to_promise(async move {
            let removed: Result<(), WaError> = async {
                let Some(lock) = SessionLock::try_acquire(&name).await.map_err(lock_error)? else {
                    return Err(WaError::new(
                        ErrorCode::InUse,
                        format!("session {name:?} is open in a tab"),
                    ));
                };
                IndexedDbStore::delete(&name).await?;
                SessionIndex::open().await?.remove(&name).await?;
                drop(lock);
                Ok(())
            }
            .await;
            removed
                .map(|()| JsValue::UNDEFINED)
                .map_err(WaError::into_js)
        })
    }

    /// The session's name.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> String {
        self.shared.session.clone()
    }

    /// Calls `callback(data)` for every `event` (see `WaEvents`); returns a
    /// function that unsubscribes.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: String, callback: Function) -> Function {
        let id = self.shared.next_listener.get();
        self.shared.next_listener.set(id.wrapping_add(1));
        self.shared.listeners.borrow_mut().push(Listener {
            id,
            event,
            callback,
        });
        let weak = Rc::downgrade(&self.shared);
        let unsubscribe = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.listeners.borrow_mut().retain(|l| l.id != id);
            }
        });
        wasm_bindgen::JsCast::unchecked_into(unsubscribe.into_js_value())
    }

    /// Connects: logs in with the stored credentials, or starts linking (QR
    /// codes arrive as `qr` events). Resolves once the connection is under
    /// way; follow the `connection` events.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn connect(&self) -> Promise {
        self.command(Command::Connect)
    }

    /// Asks for a pairing code for `phone` (international number, any
    /// formatting) while QR codes are shown; the code arrives as a
    /// `pairing-code` event.
    #[wasm_bindgen(js_name = requestPairingCode, unchecked_return_type = "Promise<void>")]
    pub fn request_pairing_code(&self, phone: String) -> Promise {
        self.command(Command::RequestPairingCode { phone })
    }

    /// Closes the connection and keeps the session (state `closed`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn disconnect(&self) -> Promise {
        self.command(Command::Disconnect)
    }

    /// Unlinks this device on the server if connected (waiting briefly), then
    /// always wipes the local session. Resolves once wiped (`logged_out`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        self.command(Command::Logout)
    }

    /// Wipes the local session without talking to the server (e.g. a
    /// corrupted session). Resolves once wiped (`logged_out`).
    #[wasm_bindgen(js_name = clearSession, unchecked_return_type = "Promise<void>")]
    pub fn clear_session(&self) -> Promise {
        self.command(Command::ClearSession)
    }

    /// Sends a text to `to` (a phone number in international format, any
    /// formatting, or a JID). Resolves with `{ id }` once it is queued;
    /// `message-status` events follow (`sent`, `delivered`, `read` or
    /// `failed`). Needs the connection open.
    #[wasm_bindgen(js_name = sendText, unchecked_return_type = "Promise<{ id: string }>")]
    pub fn send_text(&self, to: String, text: String) -> Promise {
        self.command(Command::SendText { to, text })
    }

    /// Tells the sender that the messages `ids` of `chat` were read (blue
    /// ticks). In groups, `sender` is the participant who sent them.
    #[wasm_bindgen(js_name = markRead, unchecked_return_type = "Promise<void>")]
    pub fn mark_read(&self, chat: String, ids: Vec<String>, sender: Option<String>) -> Promise {
        self.command(Command::MarkRead { chat, ids, sender })
    }

    /// Which of `phones` have WhatsApp: resolves with one
    /// `{ phone, jid, exists, lid }` per number.
    #[wasm_bindgen(js_name = isOnWhatsApp, unchecked_return_type = "Promise<OnWhatsAppResult[]>")]
    pub fn is_on_whatsapp(&self, phones: Vec<String>) -> Promise {
        self.command(Command::IsOnWhatsApp { phones })
    }

    /// Sends a document (a PDF, say) to `to`: `data` is a `Uint8Array`, an
    /// `ArrayBuffer`, a `Blob`/`File` or a base64 `data:` URL; `options` gives
    /// `fileName` and optionally `mimetype` and `caption`. The file is
    /// encrypted, uploaded, then sent; resolves with `{ id }` once queued, and
    /// `message-status` events follow.
    #[wasm_bindgen(js_name = sendDocument, unchecked_return_type = "Promise<{ id: string }>")]
    pub fn send_document(
        &self,
        to: String,
        #[wasm_bindgen(unchecked_param_type = "MediaData")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "DocumentOptions")] options: JsValue,
    ) -> Promise {
        self.command_after(Box::pin(async move {
            let invalid = |message: String| WaError::new(ErrorCode::InvalidMedia, message);
            let file = read_file(&data).await?;
            let file_name = string_field(&options, "fileName").map_err(invalid)?;
            if file_name.trim().is_empty() {
                return Err(invalid("`fileName` must not be empty".to_owned()));
            }
            Ok(Command::SendDocument {
                to,
                data: file.bytes,
                file_name,
                mimetype: mimetype_option(&options)?
                    .or(file.mimetype)
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                caption: optional_string_field(&options, "caption").map_err(invalid)?,
            })
        }))
    }

    /// Sends an image to `to` (`data` as for `sendDocument`; `options`:
    /// optional `mimetype`, default the Blob's type or `image/jpeg`, and
    /// `caption`). Resolves with `{ id }`.
    #[wasm_bindgen(js_name = sendImage, unchecked_return_type = "Promise<{ id: string }>")]
    pub fn send_image(
        &self,
        to: String,
        #[wasm_bindgen(unchecked_param_type = "MediaData")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ImageOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.command_after(Box::pin(async move {
            let file = read_file(&data).await?;
            Ok(Command::SendImage {
                to,
                data: file.bytes,
                mimetype: mimetype_option(&options)?
                    .or(file.mimetype)
                    .unwrap_or_else(|| "image/jpeg".to_owned()),
                caption: optional_string_field(&options, "caption")
                    .map_err(|message| WaError::new(ErrorCode::InvalidMedia, message))?,
            })
        }))
    }

    /// Downloads and opens the document or image of a `message` event (pass
    /// the event as received); resolves with its bytes, checked against the
    /// sender's hashes.
    #[wasm_bindgen(js_name = downloadMedia, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn download_media(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MessageEvent")] message: JsValue,
    ) -> Promise {
        self.command_after(Box::pin(async move {
            Ok(Command::Download {
                media: MediaRef::from_message(&message)?,
            })
        }))
    }

    /// The groups this account is in, with their participants.
    #[wasm_bindgen(unchecked_return_type = "Promise<GroupInfo[]>")]
    pub fn groups(&self) -> Promise {
        self.command(Command::Groups)
    }

    /// A snapshot: state, linked account, tab role, reconnect and counters.
    #[wasm_bindgen(unchecked_return_type = "WaStatus")]
    pub fn status(&self) -> JsValue {
        copy(&self.shared.status.borrow())
    }

    /// Whether this tab owns the session's socket.
    #[wasm_bindgen(getter, js_name = isOwner)]
    pub fn is_owner(&self) -> bool {
        self.shared.is_owner()
    }

    /// Stops this client. If this tab owned the session, its socket closes
    /// and another tab's client (if any) takes over, reconnecting if this one
    /// was connected. The stored session is kept. Callbacks are removed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        let shared = Rc::clone(&self.shared);
        future_to_promise(async move {
            if shared.closed.replace(true) {
                return Ok(JsValue::UNDEFINED);
            }
            let driver = shared.driver.borrow().clone();
            if let Some(driver) = driver {
                let (done, mut stopped) = inbox();
                if driver.push(Input::Stop(done)) {
                    stopped.next().await;
                }
            }
            if let Some(channel) = shared.channel.borrow_mut().take() {
                channel.close();
            }
            shared.listeners.borrow_mut().clear();
            Ok(JsValue::UNDEFINED)
        })
    }
}
