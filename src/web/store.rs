//! [`IndexedDbStore`]: a session's auth state in IndexedDB, encrypted at rest.
//!
//! Owns: the session database's schema ([`SESSION_SCHEMA`]), its name
//! ([`session_database_name`]), and the [`Store`] implementation on top of it.
//! Does not own what records mean (the engine's layers do), the at-rest
//! cipher ([`super::crypto_at_rest`]) or the IndexedDB plumbing
//! ([`super::idb`]).
//!
//! # Layout
//!
//! One database per session, `wa-wasm:session:<session name>`, with two
//! object stores:
//! - `records`: every record, out-of-line key `[namespace, key]` (two
//!   strings), value a `Uint8Array` holding the sealed bytes (see
//!   [`super::crypto_at_rest`]). A new namespace needs no migration, a
//!   namespace is one key range (listing, loading and clearing it are single
//!   requests).
//! - `meta`: the database's record key (`"record-key"`), a non-extractable
//!   `CryptoKey`.
//!
//! Every value is sealed, not only the credentials: identities, pre-keys,
//! sender keys and Signal sessions hold private key material too, and the cost
//! is moderate. Measured in headless Chromium (release build, 5,000 values of
//! 1,200 bytes): opening the store and loading them all takes a median of
//! 160–178 ms. XChaCha20-Poly1305 in wasm under a wrapped data key saved about
//! 25 ms of that, for 5.7 KB gzip of module, so values stay with WebCrypto.
//!
//! # Transactions
//!
//! A [`Changes`] batch is sealed first, then written in one `readwrite`
//! transaction whose future resolves only on `complete`; anything else
//! (abort, quota, closed connection) leaves nothing of the batch. Batches that
//! write the credentials ask for `strict` durability (flushed to disk before
//! `complete`). Only the tab holding the session's [`super::SessionLock`]
//! should write.

use litemap::LiteMap;
use std::cell::Cell;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbKeyRange, IdbTransaction, IdbTransactionMode};

use super::crypto_at_rest::{AtRestError, RecordKey};
use super::idb::{self, Connection, IdbError, Migration, PendingRequest};
use crate::store::conformance::AbortableCommit;
use crate::store::{Change, Changes, Namespace, Store, StoreError};

/// The object store holding every record.
pub const RECORDS: &str = "records";
/// The object store holding the database's record key.
pub const META: &str = "meta";
/// The key of the record key in [`META`].
pub const RECORD_KEY: &str = "record-key";

/// The session database's schema, one step per version.
pub const SESSION_SCHEMA: &[Migration] = &[
    Migration {
        version: 1,
        description: "records keyed by [namespace, key]",
        apply: create_records,
    },
    Migration {
        version: 2,
        description: "meta store for the at-rest record key",
        apply: create_meta,
    },
];

fn create_records(db: &IdbDatabase, _: &IdbTransaction) -> Result<(), JsValue> {
    db.create_object_store(RECORDS).map(drop)
}

fn create_meta(db: &IdbDatabase, _: &IdbTransaction) -> Result<(), JsValue> {
    db.create_object_store(META).map(drop)
}

/// The name of a session's database.
pub fn session_database_name(session: &str) -> String {
    format!("wa-wasm:session:{session}")
}

/// Up to this many keys, `load_many` issues one `get` per key; above, it
/// reads the key range spanning them with `getAll`.
const LOAD_MANY_GET_LIMIT: usize = 16;

/// A session's [`Store`] in IndexedDB, with every value encrypted at rest.
#[derive(Debug)]
pub struct IndexedDbStore {
    session: String,
    connection: Connection,
    record_key: RecordKey,
    abort_after: Cell<Option<usize>>,
}

fn record_key(namespace: Namespace, key: &str) -> JsValue {
    Array::of2(
        &JsValue::from_str(namespace.as_str()),
        &JsValue::from_str(key),
    )
    .into()
}

/// Every `[namespace, key]` of `namespace`: arrays sort after strings, so
/// `[namespace, []]` is above any `[namespace, "…"]`.
fn namespace_range(namespace: Namespace) -> Result<JsValue, IdbError> {
    let name = JsValue::from_str(namespace.as_str());
    IdbKeyRange::bound(&Array::of1(&name), &Array::of2(&name, &Array::new()))
        .map(JsValue::from)
        .map_err(|error| IdbError::from_js("key range", &error))
}

fn corrupt(namespace: Namespace, key: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        namespace,
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

fn stored_bytes(namespace: Namespace, key: &str, value: &JsValue) -> Result<Vec<u8>, StoreError> {
    value
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| corrupt(namespace, key, "the stored value is not a byte array"))
}

impl IndexedDbStore {
    /// Opens (creating or upgrading) the database of `session`, and loads or
    /// creates its record key.
    pub async fn open(session: &str) -> Result<Self, IdbError> {
        let connection =
            idb::open_database(&session_database_name(session), SESSION_SCHEMA).await?;
        let record_key = load_or_create_record_key(&connection).await?;
        Ok(Self {
            session: session.to_owned(),
            connection,
            record_key,
            abort_after: Cell::new(None),
        })
    }

    /// Deletes the whole database of `session` (records and record key).
    /// Close every store of that session first, or this fails with
    /// [`IdbError::Blocked`].
    pub async fn delete(session: &str) -> Result<(), IdbError> {
        idb::delete_database(&session_database_name(session)).await
    }

    /// The session name.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The underlying connection (schema version, closed state).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Closes the database; later operations fail with
    /// [`StoreError::Unavailable`].
    pub fn close(&self) {
        self.connection.close();
    }

    /// Every `(key, value)` of `namespace`, in key order, read in one pass
    /// (one `getAllKeys` and one `getAll` over the namespace's range): the
    /// fastest way to load a whole namespace, e.g. every Signal session at
    /// start-up.
    pub async fn entries(
        &self,
        namespace: Namespace,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let range = namespace_range(namespace)?;
        let transaction = self.read_transaction("load entries")?;
        let records = object_store(transaction.transaction(), RECORDS)?;
        let stored_keys = records
            .get_all_keys_with_key(&range)
            .map_err(|error| IdbError::from_js("load entries", &error))?;
        let stored_keys = PendingRequest::new(stored_keys, "load entries");
        let stored_values = records
            .get_all_with_key(&range)
            .map_err(|error| IdbError::from_js("load entries", &error))?;
        let stored_values = PendingRequest::new(stored_values, "load entries");
        let stored_keys: Array = stored_keys.result().await?.unchecked_into();
        let stored_values: Array = stored_values.result().await?.unchecked_into();
        transaction.done().await?;
        let mut keys = Vec::with_capacity(stored_keys.length() as usize);
        let mut sealed = Vec::with_capacity(keys.capacity());
        for (stored_key, value) in stored_keys.iter().zip(stored_values.iter()) {
            if let Some(key) = key_part(&stored_key) {
                sealed.push(stored_bytes(namespace, &key, &value)?);
                keys.push(key);
            }
        }
        let opening: Vec<_> = keys
            .iter()
            .zip(&sealed)
            .map(|(key, value)| self.record_key.open(namespace, key, value))
            .collect();
        let mut entries = Vec::with_capacity(keys.len());
        for (key, opening) in keys.into_iter().zip(opening) {
            entries.push((key, opening.finish().await?));
        }
        Ok(entries)
    }

    fn read_transaction(
        &self,
        operation: &'static str,
    ) -> Result<idb::PendingTransaction, StoreError> {
        Ok(self.connection.transaction(
            &[RECORDS],
            IdbTransactionMode::Readonly,
            false,
            operation,
        )?)
    }

    async fn open_values(
        &self,
        namespace: Namespace,
        sealed: Vec<(&str, Option<Vec<u8>>)>,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let opening: Vec<_> = sealed
            .iter()
            .map(|(key, value)| {
                value
                    .as_ref()
                    .map(|value| self.record_key.open(namespace, key, value))
            })
            .collect();
        let mut values = Vec::with_capacity(opening.len());
        for opening in opening {
            values.push(match opening {
                Some(opening) => Some(opening.finish().await?),
                None => None,
            });
        }
        Ok(values)
    }

    async fn get_each<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let transaction = self.read_transaction("load")?;
        let records = object_store(transaction.transaction(), RECORDS)?;
        let mut pending = Vec::with_capacity(keys.len());
        for key in keys {
            let request = records
                .get(&record_key(namespace, key.as_ref()))
                .map_err(|error| IdbError::from_js("load", &error))?;
            pending.push(PendingRequest::new(request, "load"));
        }
        let mut sealed = Vec::with_capacity(keys.len());
        for (key, request) in keys.iter().zip(pending) {
            let value = request.result().await?;
            let key = key.as_ref();
            sealed.push((
                key,
                if value.is_undefined() {
                    None
                } else {
                    Some(stored_bytes(namespace, key, &value)?)
                },
            ));
        }
        transaction.done().await?;
        self.open_values(namespace, sealed).await
    }

    async fn get_range<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let (Some(lowest), Some(highest)) = (
            keys.iter().map(AsRef::as_ref).min(),
            keys.iter().map(AsRef::as_ref).max(),
        ) else {
            return Ok(Vec::new());
        };
        let range = IdbKeyRange::bound(
            &record_key(namespace, lowest),
            &record_key(namespace, highest),
        )
        .map_err(|error| IdbError::from_js("key range", &error))?;
        let transaction = self.read_transaction("load")?;
        let records = object_store(transaction.transaction(), RECORDS)?;
        let stored_keys = records
            .get_all_keys_with_key(&range)
            .map_err(|error| IdbError::from_js("load", &error))?;
        let stored_keys = PendingRequest::new(stored_keys, "load");
        let stored_values = records
            .get_all_with_key(&range)
            .map_err(|error| IdbError::from_js("load", &error))?;
        let stored_values = PendingRequest::new(stored_values, "load");
        let stored_keys: Array = stored_keys.result().await?.unchecked_into();
        let stored_values: Array = stored_values.result().await?.unchecked_into();
        transaction.done().await?;
        let mut by_key: LiteMap<String, JsValue> = LiteMap::with_capacity(keys.len());
        for (stored_key, value) in stored_keys.iter().zip(stored_values.iter()) {
            if let Some(key) = key_part(&stored_key) {
                by_key.insert(key, value);
            }
        }
        let mut sealed = Vec::with_capacity(keys.len());
        for key in keys {
            let key = key.as_ref();
            sealed.push((
                key,
                match by_key.get(key) {
                    Some(value) => Some(stored_bytes(namespace, key, value)?),
                    None => None,
                },
            ));
        }
        self.open_values(namespace, sealed).await
    }
}

/// The `key` of a stored `[namespace, key]`.
fn key_part(stored_key: &JsValue) -> Option<String> {
    stored_key
        .dyn_ref::<Array>()
        .and_then(|parts| parts.get(1).as_string())
}

fn object_store(
    transaction: &IdbTransaction,
    name: &str,
) -> Result<web_sys::IdbObjectStore, IdbError> {
    transaction
        .object_store(name)
        .map_err(|error| IdbError::from_js("object store", &error))
}

async fn load_or_create_record_key(connection: &Connection) -> Result<RecordKey, IdbError> {
    let at_rest = |error: AtRestError| IdbError::Failed {
        operation: "record key",
        name: "AtRestError".to_owned(),
        message: error.to_string(),
    };
    let stored = read_record_key(connection).await?;
    if let Some(stored) = stored {
        return RecordKey::from_crypto_key(stored).map_err(at_rest);
    }
    // Generating is asynchronous, so it cannot happen inside the transaction:
    // generate, then store it unless another tab stored one meanwhile.
    let fresh = RecordKey::generate().await.map_err(at_rest)?;
    let transaction =
        connection.transaction(&[META], IdbTransactionMode::Readwrite, true, "record key")?;
    let meta = object_store(transaction.transaction(), META)?;
    let existing = meta
        .get(&JsValue::from_str(RECORD_KEY))
        .map_err(|error| IdbError::from_js("record key", &error))?;
    let existing = PendingRequest::new(existing, "record key").result().await?;
    let chosen = if existing.is_undefined() {
        meta.put_with_key(fresh.crypto_key(), &JsValue::from_str(RECORD_KEY))
            .map_err(|error| IdbError::from_js("record key", &error))?;
        None
    } else {
        Some(existing)
    };
    transaction.done().await?;
    match chosen {
        Some(stored) => RecordKey::from_crypto_key(stored).map_err(at_rest),
        None => Ok(fresh),
    }
}

async fn read_record_key(connection: &Connection) -> Result<Option<JsValue>, IdbError> {
    let transaction =
        connection.transaction(&[META], IdbTransactionMode::Readonly, false, "record key")?;
    let request = object_store(transaction.transaction(), META)?
        .get(&JsValue::from_str(RECORD_KEY))
        .map_err(|error| IdbError::from_js("record key", &error))?;
    let value = PendingRequest::new(request, "record key").result().await?;
    transaction.done().await?;
    Ok((!value.is_undefined()).then_some(value))
}

impl Store for IndexedDbStore {
    async fn load(&self, namespace: Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut values = self.get_each(namespace, &[key]).await?;
        Ok(values.pop().flatten())
    }

    async fn load_many<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.len() <= LOAD_MANY_GET_LIMIT {
            self.get_each(namespace, keys).await
        } else {
            self.get_range(namespace, keys).await
        }
    }

    async fn keys(&self, namespace: Namespace) -> Result<Vec<String>, StoreError> {
        let transaction = self.read_transaction("list keys")?;
        let request = object_store(transaction.transaction(), RECORDS)?
            .get_all_keys_with_key(&namespace_range(namespace)?)
            .map_err(|error| IdbError::from_js("list keys", &error))?;
        let stored: Array = PendingRequest::new(request, "list keys")
            .result()
            .await?
            .unchecked_into();
        transaction.done().await?;
        Ok(stored.iter().filter_map(|key| key_part(&key)).collect())
    }

    async fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
        let abort_after = self.abort_after.take();
        if changes.is_empty() && abort_after.is_none() {
            return Ok(());
        }
        // Seal every put first: nothing asynchronous may run inside the
        // transaction, or it would commit early.
        let sealing: Vec<_> = changes
            .iter()
            .map(|change| match change {
                Change::Put {
                    namespace,
                    key,
                    value,
                } => Some(self.record_key.seal(*namespace, key, value)),
                Change::Delete { .. } | Change::Clear { .. } => None,
            })
            .collect();
        let mut sealed = Vec::with_capacity(sealing.len());
        for sealing in sealing {
            sealed.push(match sealing {
                Some(sealing) => Some(sealing.finish().await?),
                None => None,
            });
        }

        let strict = changes.touches(Namespace::Credentials);
        let transaction = self.connection.transaction(
            &[RECORDS],
            IdbTransactionMode::Readwrite,
            strict,
            "commit",
        )?;
        let records = object_store(transaction.transaction(), RECORDS)?;
        for (index, (change, sealed)) in changes.iter().zip(sealed).enumerate() {
            if abort_after == Some(index) {
                break;
            }
            let issued = match (change, sealed) {
                (Change::Put { namespace, key, .. }, Some(sealed)) => records.put_with_key(
                    &Uint8Array::from(sealed.as_slice()),
                    &record_key(*namespace, key),
                ),
                (Change::Delete { namespace, key }, _) => {
                    records.delete(&record_key(*namespace, key))
                }
                (Change::Clear { namespace }, _) => records.delete(&namespace_range(*namespace)?),
                (Change::Put { namespace, key, .. }, None) => {
                    transaction.abort();
                    return Err(corrupt(*namespace, key, "a put lost its sealed value"));
                }
            };
            if let Err(error) = issued {
                transaction.abort();
                return Err(IdbError::from_js("commit", &error).into());
            }
        }
        if abort_after.is_some() {
            transaction.abort();
        }
        transaction.done().await?;
        Ok(())
    }

    async fn wipe(&self) -> Result<(), StoreError> {
        let transaction =
            self.connection
                .transaction(&[RECORDS], IdbTransactionMode::Readwrite, true, "wipe")?;
        let request = object_store(transaction.transaction(), RECORDS)?.clear();
        if let Err(error) = request {
            transaction.abort();
            return Err(IdbError::from_js("wipe", &error).into());
        }
        transaction.done().await?;
        Ok(())
    }
}

/// Aborts the transaction after issuing the given number of requests (one
/// per change).
impl AbortableCommit for IndexedDbStore {
    fn abort_next_commit_after(&self, applied: usize) {
        self.abort_after.set(Some(applied));
    }
}
