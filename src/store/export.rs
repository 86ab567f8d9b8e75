//! Export and import of a session's whole auth state as versioned JSON, for
//! applications that keep it in their own database.
//!
//! ```json
//! {
//!   "format": "wa-wasm-auth",
//!   "version": 1,
//!   "namespaces": {
//!     "creds": { "creds": "<base64>" },
//!     "session": { "15551234567.0": "<base64>", … },
//!     …
//!   }
//! }
//! ```
//!
//! Namespace names are [`Namespace::as_str`]; values are standard base64 with
//! padding. Every namespace appears in an export (possibly empty); an import
//! may leave empty ones out.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{Changes, Credentials, CredentialsError, Namespace, Store, StoreError, keys};

/// The `format` field of an export.
pub const AUTH_EXPORT_FORMAT: &str = "wa-wasm-auth";

/// The `version` field this build writes and reads.
pub const AUTH_EXPORT_VERSION: u64 = 1;

/// Why an auth state could not be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds no credentials, so there is nothing worth exporting.
    #[error("the store holds no credentials")]
    NoCredentials,
    /// The stored credentials cannot be decoded (an import would refuse them).
    #[error("the stored credentials are invalid: {0}")]
    InvalidCredentials(CredentialsError),
}

/// Why an export was refused at import. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The `format` field is missing or is not [`AUTH_EXPORT_FORMAT`].
    #[error("not a wa-wasm auth export (format {0:?})")]
    WrongFormat(Option<String>),
    /// The `version` field is missing, not an unsigned integer, or not
    /// [`AUTH_EXPORT_VERSION`].
    #[error("unsupported auth export version {0:?}")]
    UnsupportedVersion(Option<u64>),
    /// The document's structure is wrong (missing or extra fields, wrong types).
    #[error("malformed auth export: {0}")]
    Malformed(String),
    /// A namespace name is not one of [`Namespace::ALL`].
    #[error("unknown namespace {0:?}")]
    UnknownNamespace(String),
    /// A value is not valid base64.
    #[error("value of {namespace}/{key:?} is not valid base64")]
    BadBase64 {
        /// The namespace name.
        namespace: String,
        /// The key.
        key: String,
    },
    /// The export has no credentials record.
    #[error("the export holds no credentials")]
    MissingCredentials,
    /// The credentials record does not decode.
    #[error("the exported credentials are invalid: {0}")]
    InvalidCredentials(CredentialsError),
    /// Writing to the store failed (atomically: nothing was written).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The JSON document, as serde sees it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u64,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

/// Every record of one session's auth state, in memory, validated: it always
/// holds credentials that decode.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthSnapshot {
    records: BTreeMap<Namespace, BTreeMap<String, Vec<u8>>>,
}

// Records hold key material: show only their counts.
impl core::fmt::Debug for AuthSnapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut map = f.debug_map();
        for (namespace, records) in &self.records {
            map.entry(&namespace.as_str(), &records.len());
        }
        map.finish()
    }
}

impl AuthSnapshot {
    /// Reads every namespace of `store`.
    ///
    /// Not a transaction across namespaces: read while the engine is idle.
    pub async fn read_from<S: Store>(store: &S) -> Result<Self, ExportError> {
        let mut records = BTreeMap::new();
        for namespace in Namespace::ALL {
            let names = store.keys(namespace).await?;
            let values = store.load_many(namespace, &names).await?;
            let found: BTreeMap<String, Vec<u8>> = names
                .into_iter()
                .zip(values)
                // A key deleted between listing and loading is simply gone.
                .filter_map(|(name, value)| Some((name, value?)))
                .collect();
            if !found.is_empty() {
                records.insert(namespace, found);
            }
        }
        let snapshot = Self { records };
        match snapshot.credentials() {
            Some(Ok(_)) => Ok(snapshot),
            Some(Err(error)) => Err(ExportError::InvalidCredentials(error)),
            None => Err(ExportError::NoCredentials),
        }
    }

    /// Replaces everything in `store` with this snapshot, in one atomic commit.
    pub async fn write_to<S: Store>(&self, store: &S) -> Result<(), ImportError> {
        store.commit(&self.to_changes()).await?;
        Ok(())
    }

    /// The batch [`AuthSnapshot::write_to`] commits: a clear of every
    /// namespace, then a put of every record.
    pub fn to_changes(&self) -> Changes {
        let mut changes = Changes::new();
        for namespace in Namespace::ALL {
            changes.clear(namespace);
        }
        for (namespace, records) in &self.records {
            for (key, value) in records {
                changes.put(*namespace, key.as_str(), value.as_slice());
            }
        }
        changes
    }

    /// The decoded credentials (`None` only if the record is absent, which a
    /// snapshot built by this module never is).
    pub fn credentials(&self) -> Option<Result<Credentials, CredentialsError>> {
        self.records
            .get(&Namespace::Credentials)
            .and_then(|records| records.get(keys::CREDENTIALS))
            .map(|bytes| Credentials::decode(bytes))
    }

    /// The records of `namespace`, by key.
    pub fn records(&self, namespace: Namespace) -> impl Iterator<Item = (&str, &[u8])> {
        self.records
            .get(&namespace)
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.as_str(), value.as_slice()))
    }

    /// The number of records in every namespace together.
    pub fn len(&self) -> usize {
        self.records.values().map(BTreeMap::len).sum()
    }

    /// Whether the snapshot holds no record (never true for a validated one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON export (deterministic: keys are sorted).
    pub fn to_json(&self) -> String {
        let namespaces = Namespace::ALL
            .into_iter()
            .map(|namespace| {
                let records = self
                    .records(namespace)
                    .map(|(key, value)| (key.to_owned(), BASE64.encode(value)))
                    .collect();
                (namespace.as_str().to_owned(), records)
            })
            .collect();
        let document = Document {
            format: AUTH_EXPORT_FORMAT.to_owned(),
            version: AUTH_EXPORT_VERSION,
            namespaces,
        };
        // Maps of strings always serialise.
        serde_json::to_string(&document).unwrap_or_default()
    }

    /// Parses and validates a JSON export: format, version, structure,
    /// namespace names, every base64 value and the credentials.
    pub fn from_json(json: &str) -> Result<Self, ImportError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ImportError::NotJson(e.to_string()))?;
        let format = value.get("format");
        if format.and_then(serde_json::Value::as_str) != Some(AUTH_EXPORT_FORMAT) {
            return Err(ImportError::WrongFormat(format.map(
                |format| match format.as_str() {
                    Some(text) => text.to_owned(),
                    None => format.to_string(),
                },
            )));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(AUTH_EXPORT_VERSION) {
            return Err(ImportError::UnsupportedVersion(version));
        }
        let document: Document =
            serde_json::from_value(value).map_err(|e| ImportError::Malformed(e.to_string()))?;

        let mut records = BTreeMap::new();
        for (name, entries) in document.namespaces {
            let namespace: Namespace = name
                .parse()
                .map_err(|_| ImportError::UnknownNamespace(name.clone()))?;
            let mut decoded = BTreeMap::new();
            for (key, text) in entries {
                let Ok(bytes) = BASE64.decode(text.as_bytes()) else {
                    return Err(ImportError::BadBase64 {
                        namespace: name,
                        key,
                    });
                };
                decoded.insert(key, bytes);
            }
            if !decoded.is_empty() {
                records.insert(namespace, decoded);
            }
        }
        let snapshot = Self { records };
        match snapshot.credentials() {
            Some(Ok(_)) => Ok(snapshot),
            Some(Err(error)) => Err(ImportError::InvalidCredentials(error)),
            None => Err(ImportError::MissingCredentials),
        }
    }
}

// The tests block on futures with a native executor.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::store::credentials::tests::registered;
    use crate::store::{FaultyStore, MemoryStore, save_credentials};

    fn full_state() -> Changes {
        let mut changes = save_credentials(&registered(1));
        for (index, namespace) in Namespace::ALL.into_iter().enumerate().skip(1) {
            changes.put(namespace, format!("key-{index}"), vec![index as u8; 3]);
        }
        let every_byte: Vec<u8> = (0..=u8::MAX).collect();
        changes
            .put(Namespace::Sessions, "", every_byte.clone())
            .put(Namespace::Sessions, "\u{0}\"\\/ ключ 🔑", every_byte)
            .put(Namespace::AppMeta, "empty", Vec::new())
            .put(Namespace::Outbox, "big", vec![0x5A; 100_000]);
        changes
    }

    async fn everything(store: &MemoryStore) -> BTreeMap<(Namespace, String), Vec<u8>> {
        let mut all = BTreeMap::new();
        for namespace in Namespace::ALL {
            for key in store.keys(namespace).await.unwrap() {
                let value = store.load(namespace, &key).await.unwrap().unwrap();
                all.insert((namespace, key), value);
            }
        }
        all
    }

    #[test]
    fn round_trip_replaces_the_target() {
        pollster::block_on(async {
            let source = MemoryStore::new();
            source.commit(&full_state()).await.unwrap();
            let json = AuthSnapshot::read_from(&source).await.unwrap().to_json();

            let target = MemoryStore::new();
            let mut junk = Changes::new();
            junk.put(Namespace::Sessions, "stale.0", vec![1]).put(
                Namespace::Identities,
                "stale.0",
                vec![2],
            );
            target.commit(&junk).await.unwrap();

            let snapshot = AuthSnapshot::from_json(&json).unwrap();
            assert_eq!(snapshot.len(), source.len());
            snapshot.write_to(&target).await.unwrap();
            assert_eq!(everything(&target).await, everything(&source).await);
            // And the export is stable.
            let again = AuthSnapshot::read_from(&target).await.unwrap().to_json();
            assert_eq!(again, json);
        });
    }

    #[test]
    fn json_shape() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            let mut changes = save_credentials(&registered(2));
            changes.put(Namespace::PreKeys, "5", vec![0, 1, 2, 255]);
            store.commit(&changes).await.unwrap();
            let json = AuthSnapshot::read_from(&store).await.unwrap().to_json();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["format"], "wa-wasm-auth");
            assert_eq!(value["version"], 1);
            // Standard base64 with padding, worked out by hand.
            assert_eq!(value["namespaces"]["pre-key"]["5"], "AAEC/w==");
            assert_eq!(value["namespaces"]["session"], serde_json::json!({}));
            let names: Vec<&str> = value["namespaces"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(names.len(), Namespace::ALL.len());
        });
    }

    fn valid_json() -> serde_json::Value {
        let store = MemoryStore::new();
        pollster::block_on(store.commit(&full_state())).unwrap();
        let snapshot = pollster::block_on(AuthSnapshot::read_from(&store)).unwrap();
        serde_json::from_str(&snapshot.to_json()).unwrap()
    }

    fn import_error(value: &serde_json::Value) -> ImportError {
        AuthSnapshot::from_json(&value.to_string()).unwrap_err()
    }

    #[test]
    fn invalid_exports_are_typed_errors() {
        assert!(matches!(
            AuthSnapshot::from_json("{not json"),
            Err(ImportError::NotJson(_))
        ));
        assert_eq!(
            AuthSnapshot::from_json("[]").unwrap_err(),
            ImportError::WrongFormat(None)
        );

        let mut doc = valid_json();
        doc["format"] = "baileys-auth".into();
        assert_eq!(
            import_error(&doc),
            ImportError::WrongFormat(Some("baileys-auth".into()))
        );
        doc["format"] = 7.into();
        assert_eq!(
            import_error(&doc),
            ImportError::WrongFormat(Some("7".into()))
        );

        let mut doc = valid_json();
        doc["version"] = 2.into();
        assert_eq!(import_error(&doc), ImportError::UnsupportedVersion(Some(2)));
        doc["version"] = "1".into();
        assert_eq!(import_error(&doc), ImportError::UnsupportedVersion(None));

        let mut doc = valid_json();
        doc["extra"] = true.into();
        assert!(matches!(import_error(&doc), ImportError::Malformed(_)));
        doc = valid_json();
        doc["namespaces"]["session"]["x"] = 5.into();
        assert!(matches!(import_error(&doc), ImportError::Malformed(_)));

        let mut doc = valid_json();
        doc["namespaces"]["sessions"] = serde_json::json!({});
        assert_eq!(
            import_error(&doc),
            ImportError::UnknownNamespace("sessions".into())
        );

        let mut doc = valid_json();
        doc["namespaces"]["outbox"]["m"] = "not base64!".into();
        assert_eq!(
            import_error(&doc),
            ImportError::BadBase64 {
                namespace: "outbox".into(),
                key: "m".into()
            }
        );
        // Unpadded base64 is refused too.
        doc["namespaces"]["outbox"]["m"] = "AAEC/w".into();
        assert!(matches!(import_error(&doc), ImportError::BadBase64 { .. }));

        let mut doc = valid_json();
        doc["namespaces"]["creds"] = serde_json::json!({});
        assert_eq!(import_error(&doc), ImportError::MissingCredentials);
        doc["namespaces"]["creds"]["creds"] = "CQ==".into();
        assert_eq!(
            import_error(&doc),
            ImportError::InvalidCredentials(CredentialsError::UnsupportedVersion(9))
        );
    }

    #[test]
    fn failed_import_writes_nothing() {
        pollster::block_on(async {
            let json = valid_json().to_string();
            let snapshot = AuthSnapshot::from_json(&json).unwrap();
            let target = FaultyStore::new(MemoryStore::new());
            let mut existing = Changes::new();
            existing.put(Namespace::Sessions, "keep.0", vec![7]);
            target.commit(&existing).await.unwrap();
            target.fail_with(StoreError::QuotaExceeded);
            target.fail_next_commits(1);
            assert_eq!(
                snapshot.write_to(&target).await,
                Err(ImportError::Store(StoreError::QuotaExceeded))
            );
            assert_eq!(target.inner().len(), 1);
            // The batch is one commit: an abort part-way leaves the old state.
            use crate::store::conformance::AbortableCommit;
            target.inner().abort_next_commit_after(20);
            assert!(snapshot.write_to(&target).await.is_err());
            assert_eq!(
                target.load(Namespace::Sessions, "keep.0").await,
                Ok(Some(vec![7]))
            );
        });
    }

    #[test]
    fn export_needs_valid_credentials() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            assert_eq!(
                AuthSnapshot::read_from(&store).await.unwrap_err(),
                ExportError::NoCredentials
            );
            let mut changes = Changes::new();
            changes.put(Namespace::Credentials, keys::CREDENTIALS, vec![]);
            store.commit(&changes).await.unwrap();
            assert_eq!(
                AuthSnapshot::read_from(&store).await.unwrap_err(),
                ExportError::InvalidCredentials(CredentialsError::Empty)
            );
        });
    }

    #[test]
    fn debug_shows_counts_only() {
        let snapshot = AuthSnapshot::from_json(&valid_json().to_string()).unwrap();
        let text = format!("{snapshot:?}");
        assert!(text.contains("\"creds\": 1"), "{text}");
    }
}
