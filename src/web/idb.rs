//! IndexedDB plumbing shared by the session store and the sessions index.
//!
//! Owns: turning IndexedDB requests and transactions into futures, opening a
//! database with its schema given as a list of [`Migration`]s (applied in
//! `upgradeneeded`), reacting to `blocked` and `versionchange` with a typed
//! error instead of a hang, and mapping `DOMException`s to [`IdbError`].
//!
//! Does not own any schema or record format: the session store
//! ([`super::IndexedDbStore`]) and the index ([`super::SessionIndex`]) bring
//! their own migrations.
//!
//! Request and transaction futures attach their handlers when they are created
//! (not when first polled), so several requests can be issued before any is
//! awaited without missing an event. A continuation that runs right after a
//! request's `success` event (a microtask) still sees its transaction active,
//! so a transaction may read, await and then write.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
    IdbVersionChangeEvent,
};

use super::js::{Deferred, error_name_and_message, global_field};
use crate::store::StoreError;

#[wasm_bindgen]
extern "C" {
    // `transaction(stores, mode, { durability })`: web-sys gates the options
    // dictionary behind its unstable APIs.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type DatabaseWithOptions;

    #[wasm_bindgen(catch, method, js_class = "IDBDatabase", js_name = transaction)]
    fn transaction_with_options(
        this: &DatabaseWithOptions,
        stores: &Array,
        mode: &str,
        options: &Object,
    ) -> Result<IdbTransaction, JsValue>;
}

/// Why an IndexedDB operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdbError {
    /// This context has no `indexedDB` (e.g. storage disabled by the user).
    #[error("IndexedDB is not available here")]
    NotAvailable,
    /// Upgrading or deleting the database needs every other connection
    /// closed, and one (an older version of this code in another tab) did not
    /// close within [`BLOCKED_GRACE_MS`].
    #[error("opening {database} (schema v{version}) is blocked by a connection in another tab")]
    Blocked {
        /// The database name.
        database: String,
        /// The schema version that was asked for.
        version: u32,
    },
    /// The database was written by a newer version of this code.
    #[error("{database} has a newer schema than this code knows (v{known})")]
    NewerSchema {
        /// The database name.
        database: String,
        /// The newest schema version this code knows.
        known: u32,
    },
    /// The connection was closed: by us, because another tab upgrades or
    /// deletes the database (`versionchange`), or by the browser (storage
    /// cleared).
    #[error("{database} is closed: {reason}")]
    Closed {
        /// The database name.
        database: String,
        /// Why.
        reason: String,
    },
    /// The origin's storage quota is exhausted.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// A transaction was aborted; nothing of it was written.
    #[error("transaction aborted: {0}")]
    Aborted(String),
    /// A migration step failed; the database was left at its old version.
    #[error("migration of {database} to v{version} failed: {reason}")]
    Migration {
        /// The database name.
        database: String,
        /// The version whose step failed.
        version: u32,
        /// What failed.
        reason: String,
    },
    /// Any other failure, with the browser's error name and message.
    #[error("{operation} failed: {name}: {message}")]
    Failed {
        /// What we were doing.
        operation: &'static str,
        /// The `DOMException` name (or `Error` for other values).
        name: String,
        /// The browser's message.
        message: String,
    },
}

impl From<IdbError> for StoreError {
    fn from(error: IdbError) -> Self {
        match error {
            IdbError::QuotaExceeded => StoreError::QuotaExceeded,
            IdbError::Aborted(reason) => StoreError::Aborted(reason),
            error @ (IdbError::NotAvailable
            | IdbError::Blocked { .. }
            | IdbError::NewerSchema { .. }
            | IdbError::Closed { .. }) => StoreError::Unavailable(error.to_string()),
            error @ (IdbError::Migration { .. } | IdbError::Failed { .. }) => {
                StoreError::Backend(error.to_string())
            }
        }
    }
}

impl IdbError {
    /// Maps a thrown value or a request's error to a typed error.
    ///
    /// `QuotaExceededError` becomes [`IdbError::QuotaExceeded`] and
    /// `AbortError` becomes [`IdbError::Aborted`] wherever they come from.
    pub fn from_js(operation: &'static str, value: &JsValue) -> IdbError {
        let (name, message) = error_name_and_message(value);
        match name.as_str() {
            "QuotaExceededError" => IdbError::QuotaExceeded,
            "AbortError" => IdbError::Aborted(format!("{operation}: {message}")),
            _ => IdbError::Failed {
                operation,
                name,
                message,
            },
        }
    }
}

/// The `indexedDB` factory of this context (window or worker).
pub(crate) fn factory() -> Result<IdbFactory, IdbError> {
    global_field("indexedDB")
        .ok_or(IdbError::NotAvailable)?
        .dyn_into()
        .map_err(|_| IdbError::NotAvailable)
}

/// A request whose `success`/`error` handlers are already attached.
#[derive(Debug)]
#[must_use = "a pending request does nothing unless awaited"]
pub(crate) struct PendingRequest {
    request: IdbRequest,
    settled: JsFuture,
    operation: &'static str,
}

impl PendingRequest {
    /// Attaches the handlers to `request` (call right after issuing it).
    pub(crate) fn new(request: IdbRequest, operation: &'static str) -> Self {
        let promise = Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        Self {
            request,
            settled: JsFuture::from(promise),
            operation,
        }
    }

    /// The request's `result`, or its error.
    pub(crate) async fn result(self) -> Result<JsValue, IdbError> {
        let settled = self.settled.await;
        self.request.set_onsuccess(None);
        self.request.set_onerror(None);
        match settled {
            Ok(_) => self
                .request
                .result()
                .map_err(|error| IdbError::from_js(self.operation, &error)),
            Err(_) => Err(request_error(&self.request, self.operation)),
        }
    }
}

fn request_error(request: &IdbRequest, operation: &'static str) -> IdbError {
    match request.error() {
        Ok(Some(exception)) => IdbError::from_js(operation, &exception.into()),
        Ok(None) => IdbError::Aborted(format!("{operation}: request failed without an error")),
        Err(error) => IdbError::from_js(operation, &error),
    }
}

/// A transaction whose `complete`/`abort` handlers are already attached.
#[derive(Debug)]
#[must_use = "a pending transaction does nothing unless awaited"]
pub(crate) struct PendingTransaction {
    transaction: IdbTransaction,
    settled: JsFuture,
    operation: &'static str,
}

impl PendingTransaction {
    /// Attaches the handlers to `transaction` (call right after creating it).
    pub(crate) fn new(transaction: IdbTransaction, operation: &'static str) -> Self {
        let promise = Promise::new(&mut |resolve, reject| {
            transaction.set_oncomplete(Some(&resolve));
            transaction.set_onabort(Some(&reject));
        });
        Self {
            transaction,
            settled: JsFuture::from(promise),
            operation,
        }
    }

    /// The transaction, to issue requests on.
    pub(crate) fn transaction(&self) -> &IdbTransaction {
        &self.transaction
    }

    /// Aborts the transaction (its future then fails with `Aborted`).
    pub(crate) fn abort(&self) {
        // Aborting a transaction that already finished throws; then there is
        // nothing left to abort.
        let _ = self.transaction.abort();
    }

    /// Resolves on `complete` (everything written); fails on `abort` with the
    /// transaction's error (e.g. [`IdbError::QuotaExceeded`]).
    pub(crate) async fn done(self) -> Result<(), IdbError> {
        let settled = self.settled.await;
        self.transaction.set_oncomplete(None);
        self.transaction.set_onabort(None);
        match settled {
            Ok(_) => Ok(()),
            Err(_) => Err(match self.transaction.error() {
                Some(exception) => IdbError::from_js(self.operation, &exception.into()),
                None => IdbError::Aborted(format!("{}: aborted", self.operation)),
            }),
        }
    }
}

/// One step of a database schema: what turns version `version - 1` into
/// `version`. Steps run inside the `versionchange` transaction, in order,
/// for every version above the one on disk.
#[derive(Clone, Copy)]
pub struct Migration {
    /// The version this step produces (the first step is version 1).
    pub version: u32,
    /// What the step does, for error messages.
    pub description: &'static str,
    /// The step: synchronous schema changes on the database, with the
    /// upgrade transaction for any record rewrites.
    pub apply: fn(&IdbDatabase, &IdbTransaction) -> Result<(), JsValue>,
}

impl core::fmt::Debug for Migration {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .field("description", &self.description)
            .finish()
    }
}

/// An open database connection that closes itself on `versionchange` (so
/// another tab can upgrade or delete the database) and remembers why it was
/// closed.
#[derive(Debug)]
pub struct Connection {
    db: IdbDatabase,
    name: String,
    closed: Rc<RefCell<Option<String>>>,
    _on_versionchange: Closure<dyn FnMut(IdbVersionChangeEvent)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
}

impl Connection {
    fn new(db: IdbDatabase) -> Self {
        let closed: Rc<RefCell<Option<String>>> = Rc::default();
        let on_versionchange = {
            let db = db.clone();
            let closed = Rc::clone(&closed);
            Closure::<dyn FnMut(IdbVersionChangeEvent)>::new(move |event: IdbVersionChangeEvent| {
                db.close();
                // Versions are small integers; printing them as such keeps
                // float formatting out of the binary.
                let reason = match event.new_version() {
                    Some(version) => format!(
                        "another connection upgrades it to v{}",
                        version.clamp(0.0, f64::from(u32::MAX)) as u32
                    ),
                    None => "another connection deletes it".to_owned(),
                };
                closed.borrow_mut().get_or_insert(reason);
            })
        };
        let on_close = {
            let closed = Rc::clone(&closed);
            Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
                closed
                    .borrow_mut()
                    .get_or_insert_with(|| "closed by the browser".to_owned());
            })
        };
        db.set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
        db.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Self {
            name: db.name(),
            db,
            closed,
            _on_versionchange: on_versionchange,
            _on_close: on_close,
        }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema version on disk.
    pub fn version(&self) -> u32 {
        let version = self.db.version();
        if (0.0..=f64::from(u32::MAX)).contains(&version) {
            version as u32
        } else {
            0
        }
    }

    /// The names of the database's object stores.
    pub fn object_store_names(&self) -> Vec<String> {
        let names = self.db.object_store_names();
        (0..names.length()).filter_map(|i| names.get(i)).collect()
    }

    /// Why the connection is closed, if it is.
    pub fn closed_reason(&self) -> Option<String> {
        self.closed.borrow().clone()
    }

    /// Closes the connection (pending transactions still finish).
    pub fn close(&self) {
        self.db.close();
        self.closed
            .borrow_mut()
            .get_or_insert_with(|| "closed by this tab".to_owned());
    }

    fn closed_error(&self) -> Option<IdbError> {
        self.closed_reason().map(|reason| IdbError::Closed {
            database: self.name.clone(),
            reason,
        })
    }

    /// Starts a transaction over `stores` and attaches its handlers.
    pub(crate) fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
        strict: bool,
        operation: &'static str,
    ) -> Result<PendingTransaction, IdbError> {
        if let Some(error) = self.closed_error() {
            return Err(error);
        }
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let options = Object::new();
        // Durability hints are ignored where unsupported.
        let _ = Reflect::set(
            &options,
            &JsValue::from_str("durability"),
            &JsValue::from_str(if strict { "strict" } else { "default" }),
        );
        let mode = match mode {
            IdbTransactionMode::Readwrite => "readwrite",
            _ => "readonly",
        };
        let transaction = self
            .db
            .unchecked_ref::<DatabaseWithOptions>()
            .transaction_with_options(&names, mode, &options)
            .map_err(|error| {
                // InvalidStateError: closed under us (versionchange raced us).
                self.closed_error()
                    .unwrap_or_else(|| IdbError::from_js(operation, &error))
            })?;
        Ok(PendingTransaction::new(transaction, operation))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.db.set_onversionchange(None);
        self.db.set_onclose(None);
        self.db.close();
    }
}

/// Opens (creating or upgrading as needed) the database `name` at version
/// `migrations.len()`, running the steps above the version on disk.
///
/// Fails with [`IdbError::Blocked`] instead of waiting forever when an open
/// connection elsewhere does not let the upgrade happen within
/// [`BLOCKED_GRACE_MS`] (if the upgrade completes later, that late connection
/// is closed at once), and with
/// [`IdbError::NewerSchema`] when the database is newer than `migrations`.
pub async fn open_database(name: &str, migrations: &[Migration]) -> Result<Connection, IdbError> {
    let version = u32::try_from(migrations.len())
        .ok()
        .filter(|&version| version > 0)
        .ok_or_else(|| IdbError::Migration {
            database: name.to_owned(),
            version: 0,
            reason: "no schema steps given".to_owned(),
        })?;
    for (index, step) in migrations.iter().enumerate() {
        if usize::try_from(step.version).ok() != index.checked_add(1) {
            return Err(IdbError::Migration {
                database: name.to_owned(),
                version: step.version,
                reason: format!(
                    "step {:?} is listed at position {}",
                    step.description,
                    index + 1
                ),
            });
        }
    }
    let request: IdbOpenDbRequest = factory()?
        .open_with_u32(name, version)
        .map_err(|error| IdbError::from_js("open database", &error))?;

    let migration_failure: Rc<RefCell<Option<IdbError>>> = Rc::default();
    let on_upgrade = {
        let steps = migrations.to_vec();
        let request = request.clone();
        let failure = Rc::clone(&migration_failure);
        let database = name.to_owned();
        Closure::<dyn FnMut(IdbVersionChangeEvent)>::once(move |event: IdbVersionChangeEvent| {
            let old = event.old_version();
            let (Ok(db), Some(transaction)) = (result_database(&request), request.transaction())
            else {
                return;
            };
            for step in steps.iter().filter(|step| f64::from(step.version) > old) {
                if let Err(error) = (step.apply)(&db, &transaction) {
                    let (_, message) = error_name_and_message(&error);
                    *failure.borrow_mut() = Some(IdbError::Migration {
                        database: database.clone(),
                        version: step.version,
                        reason: format!("{}: {message}", step.description),
                    });
                    let _ = transaction.abort();
                    return;
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let outcome = settle_open_request(&request).await;
    if outcome.blocked {
        // The open stays queued in the browser and may still upgrade (the
        // steps must stay callable) and succeed: close what it yields then.
        on_upgrade.forget();
        let late = request.clone();
        let close_late = Closure::once_into_js(move |_: JsValue| {
            if let Ok(db) = result_database(&late) {
                db.close();
            }
        });
        request.set_onsuccess(Some(close_late.unchecked_ref()));
        return Err(IdbError::Blocked {
            database: name.to_owned(),
            version,
        });
    }
    request.set_onupgradeneeded(None);
    drop(on_upgrade);
    if let Some(failure) = migration_failure.borrow_mut().take() {
        return Err(failure);
    }
    if outcome.succeeded {
        let db = result_database(&request)
            .map_err(|error| IdbError::from_js("open database", &error))?;
        return Ok(Connection::new(db));
    }
    Err(match request_error(&request, "open database") {
        IdbError::Failed { name: kind, .. } if kind == "VersionError" => IdbError::NewerSchema {
            database: name.to_owned(),
            known: version,
        },
        other => other,
    })
}

fn result_database(request: &IdbRequest) -> Result<IdbDatabase, JsValue> {
    request.result().and_then(|db| db.dyn_into::<IdbDatabase>())
}

/// How long an open or delete waits, after `blocked`, for the other
/// connections to close before giving up with [`IdbError::Blocked`].
/// Connections of this code close on `versionchange` as soon as their
/// running transactions finish, which takes milliseconds; an older version of
/// the code in another tab may never close.
pub const BLOCKED_GRACE_MS: u32 = 1_500;

/// How an open or delete request ended.
struct OpenOutcome {
    succeeded: bool,
    blocked: bool,
}

/// Waits for `success` or `error` on an open/delete request (or, after
/// `blocked`, at most [`BLOCKED_GRACE_MS`]), and detaches the handlers. If
/// it gave up while blocked, the request goes on in the browser and the
/// caller decides what its late result does.
async fn settle_open_request(request: &IdbOpenDbRequest) -> OpenOutcome {
    let deferred = Deferred::new();
    let on_blocked = {
        let reject = deferred.reject.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            super::timer::set_timeout_function(&reject, BLOCKED_GRACE_MS);
        })
    };
    request.set_onsuccess(Some(&deferred.resolve));
    request.set_onerror(Some(&deferred.reject));
    request.set_onblocked(Some(on_blocked.as_ref().unchecked_ref()));
    let settled = JsFuture::from(deferred.promise.clone()).await;
    request.set_onblocked(None);
    request.set_onsuccess(None);
    request.set_onerror(None);
    OpenOutcome {
        succeeded: settled.is_ok(),
        // Only the grace timeout settles the promise of a pending request.
        blocked: request.ready_state() == web_sys::IdbRequestReadyState::Pending,
    }
}

/// Deletes the database `name` (connections elsewhere get `versionchange`
/// and, if they are ours, close). Fails with [`IdbError::Blocked`] if one of
/// them stays open longer than [`BLOCKED_GRACE_MS`] (the deletion then
/// still happens once it closes).
pub async fn delete_database(name: &str) -> Result<(), IdbError> {
    let request = factory()?
        .delete_database(name)
        .map_err(|error| IdbError::from_js("delete database", &error))?;
    let outcome = settle_open_request(&request).await;
    if outcome.blocked {
        // The deletion stays queued and happens once the others close.
        return Err(IdbError::Blocked {
            database: name.to_owned(),
            version: 0,
        });
    }
    if outcome.succeeded {
        Ok(())
    } else {
        Err(request_error(&request, "delete database"))
    }
}
