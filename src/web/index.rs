//! The index of stored sessions, for `WaClient.sessions()`.
//!
//! Owns: a small database of its own, [`INDEX_DATABASE`], with one record per
//! session name: the linked number and LID, when the session was created and
//! when it was last active ([`SessionInfo`]); listing and removing entries;
//! finding sessions that link the same phone number ([`find_duplicates`]).
//!
//! Does not own the sessions' data (each lives in its own database, see
//! [`super::IndexedDbStore`]) nor when entries change: the `WaClient` shell
//! calls [`SessionIndex::touch`] when a session opens or is active,
//! [`SessionIndex::set_link`] when pairing completes (or the link is lost),
//! and [`SessionIndex::remove`] when a session is deleted. Entries are plain
//! objects (`{ name, me, lid, createdAt, lastActivity }`, times in unix
//! milliseconds), readable in the browser's developer tools; they hold no
//! secret.

use litemap::LiteMap;
use std::str::FromStr;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbTransaction, IdbTransactionMode};

use super::idb::{self, Connection, IdbError, Migration, PendingRequest};
use crate::binary::Jid;

/// The index database's name.
pub const INDEX_DATABASE: &str = "wa-wasm:index";
/// The object store of entries, keyed by their `name`.
pub const SESSIONS: &str = "sessions";

/// The index database's schema, one step per version.
pub const INDEX_SCHEMA: &[Migration] = &[Migration {
    version: 1,
    description: "sessions keyed by name",
    apply: create_sessions,
}];

fn create_sessions(db: &IdbDatabase, _: &IdbTransaction) -> Result<(), JsValue> {
    let parameters = IdbObjectStoreParameters::new();
    parameters.set_key_path(&JsValue::from_str("name"));
    db.create_object_store_with_optional_parameters(SESSIONS, &parameters)
        .map(drop)
}

/// What the index knows about one stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session name the application chose (e.g. an organisation id).
    pub name: String,
    /// The linked device's JID (`"15551234567:12@s.whatsapp.net"`), once
    /// linked.
    pub me: Option<String>,
    /// The linked account's LID JID, if known.
    pub lid: Option<String>,
    /// When the entry was created, unix milliseconds.
    pub created_at_ms: u64,
    /// When the session was last active, unix milliseconds.
    pub last_activity_ms: u64,
}

impl SessionInfo {
    /// A new, unlinked entry.
    pub fn new(name: &str, now_ms: u64) -> Self {
        Self {
            name: name.to_owned(),
            me: None,
            lid: None,
            created_at_ms: now_ms,
            last_activity_ms: now_ms,
        }
    }

    /// The linked phone number (the user part of `me`), if linked.
    pub fn phone_number(&self) -> Option<String> {
        let me = self.me.as_deref()?;
        match Jid::from_str(me) {
            Ok(jid) => Some(jid.user().to_owned()),
            // Tolerate a bare number or an unusual JID: the user part is what
            // precedes the device (`:`) or the server (`@`).
            Err(_) => me
                .split([':', '@'])
                .next()
                .filter(|user| !user.is_empty())
                .map(str::to_owned),
        }
    }

    fn to_js(&self) -> JsValue {
        let object = Object::new();
        let optional =
            |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        for (field, value) in [
            ("name", JsValue::from_str(&self.name)),
            ("me", optional(&self.me)),
            ("lid", optional(&self.lid)),
            ("createdAt", JsValue::from_f64(self.created_at_ms as f64)),
            (
                "lastActivity",
                JsValue::from_f64(self.last_activity_ms as f64),
            ),
        ] {
            // Setting a property on a fresh plain object cannot fail.
            let _ = Reflect::set(&object, &JsValue::from_str(field), &value);
        }
        object.into()
    }

    fn from_js(value: &JsValue) -> Option<Self> {
        let field = |name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
        let time = |name: &str| {
            field(name)
                .and_then(|time| time.as_f64())
                .filter(|time| time.is_finite() && *time >= 0.0)
                .map_or(0, |time| time as u64)
        };
        Some(Self {
            name: field("name")?.as_string()?,
            me: field("me").and_then(|me| me.as_string()),
            lid: field("lid").and_then(|lid| lid.as_string()),
            created_at_ms: time("createdAt"),
            last_activity_ms: time("lastActivity"),
        })
    }
}

/// Several sessions linked to the same phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateLink {
    /// The phone number (user part of the JID).
    pub phone_number: String,
    /// The sessions linking it, sorted by name.
    pub sessions: Vec<String>,
}

/// The phone numbers linked by more than one session, sorted by number.
pub fn find_duplicates(sessions: &[SessionInfo]) -> Vec<DuplicateLink> {
    // Sorted vectors throughout (no sort code in the module for this).
    let mut by_number: LiteMap<String, Vec<String>> = LiteMap::new();
    for session in sessions {
        let Some(number) = session.phone_number() else {
            continue;
        };
        let names = by_number.entry(number).or_default();
        if let Err(at) = names.binary_search(&session.name) {
            names.insert(at, session.name.clone());
        }
    }
    by_number
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(phone_number, sessions)| DuplicateLink {
            phone_number,
            sessions,
        })
        .collect()
}

/// The sessions index database.
#[derive(Debug)]
pub struct SessionIndex {
    connection: Connection,
}

fn object_store(transaction: &IdbTransaction) -> Result<web_sys::IdbObjectStore, IdbError> {
    transaction
        .object_store(SESSIONS)
        .map_err(|error| IdbError::from_js("sessions index", &error))
}

impl SessionIndex {
    /// Opens (creating if needed) the index, [`INDEX_DATABASE`].
    pub async fn open() -> Result<Self, IdbError> {
        Self::open_named(INDEX_DATABASE).await
    }

    /// Opens an index kept in another database (tests, several apps on one
    /// origin).
    pub async fn open_named(database: &str) -> Result<Self, IdbError> {
        Ok(Self {
            connection: idb::open_database(database, INDEX_SCHEMA).await?,
        })
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Every entry, sorted by name. Unreadable entries are skipped.
    pub async fn list(&self) -> Result<Vec<SessionInfo>, IdbError> {
        let transaction = self.connection.transaction(
            &[SESSIONS],
            IdbTransactionMode::Readonly,
            false,
            "list sessions",
        )?;
        let request = object_store(transaction.transaction())?
            .get_all()
            .map_err(|error| IdbError::from_js("list sessions", &error))?;
        let entries = PendingRequest::new(request, "list sessions")
            .result()
            .await?;
        transaction.done().await?;
        let entries: Array = entries.into();
        // `getAll` returns entries in key order, that is by name.
        Ok(entries
            .iter()
            .filter_map(|entry| SessionInfo::from_js(&entry))
            .collect())
    }

    /// The entry of `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<SessionInfo>, IdbError> {
        let transaction = self.connection.transaction(
            &[SESSIONS],
            IdbTransactionMode::Readonly,
            false,
            "get session",
        )?;
        let request = object_store(transaction.transaction())?
            .get(&JsValue::from_str(name))
            .map_err(|error| IdbError::from_js("get session", &error))?;
        let entry = PendingRequest::new(request, "get session").result().await?;
        transaction.done().await?;
        Ok(SessionInfo::from_js(&entry))
    }

    /// Reads, changes and writes back the entry of `name` (created if
    /// missing) in one transaction, so concurrent updates do not lose each
    /// other's fields.
    async fn update(
        &self,
        name: &str,
        now_ms: u64,
        change: impl FnOnce(&mut SessionInfo),
    ) -> Result<SessionInfo, IdbError> {
        let transaction = self.connection.transaction(
            &[SESSIONS],
            IdbTransactionMode::Readwrite,
            false,
            "update session",
        )?;
        let sessions = object_store(transaction.transaction())?;
        let request = sessions
            .get(&JsValue::from_str(name))
            .map_err(|error| IdbError::from_js("update session", &error))?;
        let stored = PendingRequest::new(request, "update session")
            .result()
            .await?;
        let mut entry =
            SessionInfo::from_js(&stored).unwrap_or_else(|| SessionInfo::new(name, now_ms));
        change(&mut entry);
        entry.last_activity_ms = entry.last_activity_ms.max(now_ms);
        if let Err(error) = sessions.put(&entry.to_js()) {
            transaction.abort();
            return Err(IdbError::from_js("update session", &error));
        }
        transaction.done().await?;
        Ok(entry)
    }

    /// Records activity of `name` at `now_ms`, creating its entry if needed.
    pub async fn touch(&self, name: &str, now_ms: u64) -> Result<SessionInfo, IdbError> {
        self.update(name, now_ms, |_| {}).await
    }

    /// Records which account `name` is linked to (after pairing), or that it
    /// is no longer linked (`None`, after a logout).
    pub async fn set_link(
        &self,
        name: &str,
        me: Option<&str>,
        lid: Option<&str>,
        now_ms: u64,
    ) -> Result<SessionInfo, IdbError> {
        self.update(name, now_ms, |entry| {
            entry.me = me.map(str::to_owned);
            entry.lid = lid.map(str::to_owned);
        })
        .await
    }

    /// Removes the entry of `name` (no error if absent). Delete the session's
    /// own database with [`super::IndexedDbStore::delete`].
    pub async fn remove(&self, name: &str) -> Result<(), IdbError> {
        let transaction = self.connection.transaction(
            &[SESSIONS],
            IdbTransactionMode::Readwrite,
            false,
            "remove session",
        )?;
        if let Err(error) =
            object_store(transaction.transaction())?.delete(&JsValue::from_str(name))
        {
            transaction.abort();
            return Err(IdbError::from_js("remove session", &error));
        }
        transaction.done().await
    }

    /// Every phone number linked by more than one session.
    pub async fn duplicates(&self) -> Result<Vec<DuplicateLink>, IdbError> {
        Ok(find_duplicates(&self.list().await?))
    }

    /// The other sessions linked to the same phone number as `name` (empty
    /// if none, or if `name` is not linked).
    pub async fn duplicates_of(&self, name: &str) -> Result<Vec<String>, IdbError> {
        Ok(self
            .duplicates()
            .await?
            .into_iter()
            .find(|duplicate| duplicate.sessions.iter().any(|session| session == name))
            .map(|duplicate| {
                duplicate
                    .sessions
                    .into_iter()
                    .filter(|session| session != name)
                    .collect()
            })
            .unwrap_or_default())
    }
}
