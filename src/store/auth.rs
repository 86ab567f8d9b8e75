//! Loading and saving the auth state at start-up.
//!
//! Half-finished or unreadable credentials are never kept: they would block the
//! next QR code (a new device must start from fresh keys), so loading them
//! wipes the store and says why.

use super::{Changes, Credentials, CredentialsError, Namespace, Store, StoreError, keys};

/// What [`load_auth`] found.
#[derive(Debug, Clone)]
pub enum LoadedAuth {
    /// Paired credentials: log in with them.
    Registered(Box<Credentials>),
    /// Credentials from a pairing that never finished; the store was wiped.
    Unfinished,
    /// Credentials that cannot be decoded; the store was wiped.
    Corrupt(CredentialsError),
    /// No credentials were stored (leftover records, if any, were wiped).
    Empty,
}

/// Loads the credentials from `store`.
///
/// Anything other than registered credentials leaves an empty store behind,
/// so the next connection starts a clean pairing. Fails only if the store
/// itself fails (then nothing was wiped, or the wipe failed and can be retried).
pub async fn load_auth<S: Store>(store: &S) -> Result<LoadedAuth, StoreError> {
    let loaded = match store
        .load(Namespace::Credentials, keys::CREDENTIALS)
        .await?
    {
        None => LoadedAuth::Empty,
        Some(bytes) => match Credentials::decode(&bytes) {
            Ok(creds) if creds.is_registered() => {
                return Ok(LoadedAuth::Registered(Box::new(creds)));
            }
            Ok(_) => LoadedAuth::Unfinished,
            Err(error) => LoadedAuth::Corrupt(error),
        },
    };
    store.wipe().await?;
    Ok(loaded)
}

/// The change that stores `creds` (to merge into the batch that caused it).
pub fn save_credentials(creds: &Credentials) -> Changes {
    let mut changes = Changes::new();
    changes.put(Namespace::Credentials, keys::CREDENTIALS, creds.encode());
    changes
}

// The tests block on futures with a native executor.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::store::credentials::tests::{assert_same, registered};
    use crate::store::{FaultyStore, MemoryStore};
    use rand::SeedableRng;

    fn with_session(mut changes: Changes) -> Changes {
        changes.put(Namespace::Sessions, "15550000000.0", vec![1, 2, 3]);
        changes
    }

    #[test]
    fn registered_credentials_load_and_keep_the_store() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            let creds = registered(1);
            store
                .commit(&with_session(save_credentials(&creds)))
                .await
                .unwrap();
            match load_auth(&store).await.unwrap() {
                LoadedAuth::Registered(loaded) => assert_same(&loaded, &creds),
                other => panic!("expected registered, got {other:?}"),
            }
            assert_eq!(store.len(), 2);
        });
    }

    #[test]
    fn unfinished_pairing_is_wiped() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            let mut rng = rand::rngs::StdRng::seed_from_u64(2);
            let fresh = Credentials::generate(&mut rng, 5);
            store
                .commit(&with_session(save_credentials(&fresh)))
                .await
                .unwrap();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Unfinished
            ));
            assert!(store.is_empty());
            // `me` alone (the account never stored) is unfinished too.
            let mut half = registered(3);
            half.account = None;
            store.commit(&save_credentials(&half)).await.unwrap();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Unfinished
            ));
            assert!(store.is_empty());
        });
    }

    #[test]
    fn corrupt_credentials_are_wiped() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            let mut bytes = registered(4).encode();
            bytes.truncate(bytes.len() / 2);
            let mut changes = Changes::new();
            changes.put(Namespace::Credentials, keys::CREDENTIALS, bytes);
            store.commit(&with_session(changes)).await.unwrap();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Corrupt(CredentialsError::ChecksumMismatch)
            ));
            assert!(store.is_empty());

            let mut changes = Changes::new();
            changes.put(Namespace::Credentials, keys::CREDENTIALS, vec![9, 1, 2]);
            store.commit(&changes).await.unwrap();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Corrupt(CredentialsError::UnsupportedVersion(9))
            ));
            assert!(store.is_empty());
        });
    }

    #[test]
    fn empty_store_and_leftovers() {
        pollster::block_on(async {
            let store = MemoryStore::new();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Empty
            ));
            store.commit(&with_session(Changes::new())).await.unwrap();
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Empty
            ));
            assert!(store.is_empty());
        });
    }

    #[test]
    fn store_failures_are_reported() {
        pollster::block_on(async {
            let store = FaultyStore::new(MemoryStore::new());
            store
                .commit(&save_credentials(&registered(5)))
                .await
                .unwrap();
            store.fail_next_loads(1);
            assert!(load_auth(&store).await.is_err());
            assert_eq!(store.inner().len(), 1);
            assert!(matches!(
                load_auth(&store).await.unwrap(),
                LoadedAuth::Registered(_)
            ));
        });
    }
}
