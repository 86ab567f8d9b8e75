//! Auth state and persistence.
//!
//! Owns: the [`Credentials`] a linked device keeps (and their versioned byte
//! format), the key/value model every persisted record fits in ([`Namespace`],
//! string keys, opaque byte values), [`Changes`] batches, the async [`Store`]
//! trait with its typed [`StoreError`], the in-memory store, a fault-injecting
//! wrapper for tests, the [`conformance`] suite every store must pass, loading
//! the auth state at start-up ([`load_auth`]) and its JSON export/import
//! ([`AuthSnapshot`]).
//!
//! Does not own what the records mean: Signal sessions, pre-keys, sender keys,
//! device lists and so on are encoded by the layers that use them, which hand
//! opaque bytes to [`Changes`]. Does not own any real storage either: the
//! IndexedDB store lives in the browser shell and implements [`Store`].
//!
//! # Durability rule
//!
//! The engine never writes; everything it wants persisted comes out as
//! [`Changes`]. The shell commits each batch atomically with
//! [`Store::commit`] **before** it acts on the engine's output that depends on
//! it (acks, receipts, sent messages), so a crash never acknowledges anything
//! that was not stored.
//!
//! # Keys
//!
//! Every namespace's key convention is in [`keys`]; [`Namespace::as_str`] gives
//! the stable storage names.

mod auth;
mod changes;
pub mod conformance;
mod credentials;
mod export;
mod faulty;
pub mod keys;
mod memory;
mod namespace;

use std::rc::Rc;
use std::sync::Arc;

pub use auth::{LoadedAuth, load_auth, save_credentials};
pub use changes::{Change, Changes};
pub use credentials::{
    AccountIdentity, AdvSecret, CREDENTIALS_FORMAT_VERSION, Credentials, CredentialsError,
};
pub use export::{AUTH_EXPORT_FORMAT, AUTH_EXPORT_VERSION, AuthSnapshot, ExportError, ImportError};
pub use faulty::FaultyStore;
pub use memory::MemoryStore;
pub use namespace::{Namespace, UnknownNamespace};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The storage backend reported a failure.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The storage is full (browser quota, disk space).
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// A transaction was aborted; nothing of it was stored.
    #[error("transaction aborted: {0}")]
    Aborted(String),
    /// The store was closed, or another owner (another tab, a newer schema)
    /// holds it.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be read back.
    #[error("corrupt record {namespace}/{key}: {reason}")]
    Corrupt {
        /// Where the record lives.
        namespace: Namespace,
        /// Its key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Persistent key/value storage for one session's auth state.
///
/// Values are opaque bytes under string keys, grouped in [`Namespace`]s.
/// Implementations must pass [`conformance::run_all`]. Futures need not be
/// `Send` (the browser store is not).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The value stored under `key` in `namespace`, or `None`.
    async fn load(&self, namespace: Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The values of several keys, in the order of `keys` (`None` where missing).
    ///
    /// The default loads them one by one; stores override it to read them in
    /// one transaction.
    async fn load_many<K: AsRef<str>>(
        &self,
        namespace: Namespace,
        keys: &[K],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.load(namespace, key.as_ref()).await?);
        }
        Ok(values)
    }

    /// Every key stored in `namespace`, in no particular order.
    async fn keys(&self, namespace: Namespace) -> Result<Vec<String>, StoreError>;

    /// Applies `changes` in order, atomically: afterwards either all of the
    /// batch is stored or none of it is (and an error is returned).
    ///
    /// Takes the batch by reference so the caller can retry it after a failure.
    async fn commit(&self, changes: &Changes) -> Result<(), StoreError>;

    /// Deletes everything in every namespace.
    async fn wipe(&self) -> Result<(), StoreError>;
}

macro_rules! forward_store {
    ($($wrapper:ty),*) => {$(
        impl<S: Store> Store for $wrapper {
            async fn load(
                &self,
                namespace: Namespace,
                key: &str,
            ) -> Result<Option<Vec<u8>>, StoreError> {
                (**self).load(namespace, key).await
            }

            async fn load_many<K: AsRef<str>>(
                &self,
                namespace: Namespace,
                keys: &[K],
            ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
                (**self).load_many(namespace, keys).await
            }

            async fn keys(&self, namespace: Namespace) -> Result<Vec<String>, StoreError> {
                (**self).keys(namespace).await
            }

            async fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
                (**self).commit(changes).await
            }

            async fn wipe(&self) -> Result<(), StoreError> {
                (**self).wipe().await
            }
        }
    )*};
}

forward_store!(&S, Rc<S>, Arc<S>);
