//! Encryption at rest: what lands in IndexedDB is sealed, cannot be opened
//! without the database's own key, and detects tampering.

use js_sys::Uint8Array;
use wa_wasm::store::{Changes, Namespace, Store, StoreError, keys};
use wa_wasm::web::crypto_at_rest::{
    AtRestError, RecordKey, SEALED_FORMAT_VERSION, SEALED_OVERHEAD,
};
use wa_wasm::web::{IndexedDbStore, META, RECORD_KEY, session_database_name};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::idb_store::{raw, unique_session};

const SECRET: &[u8] = b"identity private key 0123456789abcdef, noise key fedcba9876543210";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn store_with_secrets(session: &str) -> IndexedDbStore {
    let store = IndexedDbStore::open(session).await.unwrap();
    let mut changes = Changes::new();
    changes
        .put(Namespace::Credentials, keys::CREDENTIALS, SECRET.to_vec())
        .put(Namespace::Sessions, "15551234567.0", SECRET.to_vec())
        .put(Namespace::AppMeta, "empty", Vec::new());
    store.commit(&changes).await.unwrap();
    store
}

#[wasm_bindgen_test]
async fn stored_values_are_sealed_not_plaintext() {
    let session = unique_session("sealed");
    let store = store_with_secrets(&session).await;
    let db = raw::open(&session_database_name(&session), 2).await;
    let records = raw::records(&db).await;
    assert_eq!(records.len(), 3);
    for (_, value) in &records {
        let sealed = raw::bytes(value);
        assert_eq!(sealed.first(), Some(&SEALED_FORMAT_VERSION));
        assert!(
            !contains(&sealed, &SECRET[..16]),
            "plaintext visible: {sealed:?}"
        );
        assert!(
            sealed.len() == SECRET.len() + SEALED_OVERHEAD || sealed.len() == SEALED_OVERHEAD,
            "{} bytes",
            sealed.len()
        );
    }
    // The same plaintext under two keys seals differently (own IV, own AAD),
    // and so does a rewrite of the same record.
    let first: Vec<Vec<u8>> = records.iter().map(|(_, v)| raw::bytes(v)).collect();
    let mut rewrite = Changes::new();
    rewrite.put(Namespace::Credentials, keys::CREDENTIALS, SECRET.to_vec());
    store.commit(&rewrite).await.unwrap();
    let second: Vec<Vec<u8>> = raw::records(&db)
        .await
        .iter()
        .map(|(_, v)| raw::bytes(v))
        .collect();
    assert_ne!(first, second);
    assert_eq!(
        store
            .load(Namespace::Credentials, keys::CREDENTIALS)
            .await
            .unwrap(),
        Some(SECRET.to_vec())
    );

    // The stored key is a CryptoKey that no script can export.
    let transaction = db.transaction_with_str(META).unwrap();
    let key = raw::request(
        transaction
            .object_store(META)
            .unwrap()
            .get(&RECORD_KEY.into())
            .unwrap(),
    )
    .await;
    let key: web_sys::CryptoKey = key.dyn_into().unwrap();
    assert!(!key.extractable());
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let export = subtle.export_key("raw", &key).unwrap();
    let refused = JsFuture::from(export).await.unwrap_err();
    let name = js_sys::Reflect::get(&refused, &"name".into()).unwrap();
    assert_eq!(name, "InvalidAccessError");
    db.close();
    drop(store);
    IndexedDbStore::delete(&session).await.unwrap();
}

/// A copy of the records without their key (here: restored into another
/// session's database, which has its own key) cannot be decrypted.
#[wasm_bindgen_test]
async fn copied_records_without_their_key_do_not_open() {
    let source = unique_session("copy-source");
    let target = unique_session("copy-target");
    let store = store_with_secrets(&source).await;
    drop(store);
    let source_db = raw::open(&session_database_name(&source), 2).await;
    let copied = raw::records(&source_db).await;
    source_db.close();

    let other = IndexedDbStore::open(&target).await.unwrap();
    let target_db = raw::open(&session_database_name(&target), 2).await;
    raw::put(&target_db, &copied).await;
    target_db.close();
    assert_eq!(
        other.keys(Namespace::Credentials).await.unwrap(),
        [keys::CREDENTIALS]
    );
    let error = other
        .load(Namespace::Credentials, keys::CREDENTIALS)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::Corrupt {
                namespace: Namespace::Credentials,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(matches!(
        other
            .load_many(Namespace::Sessions, &["15551234567.0"])
            .await,
        Err(StoreError::Corrupt { .. })
    ));
    drop(other);
    IndexedDbStore::delete(&source).await.unwrap();
    IndexedDbStore::delete(&target).await.unwrap();
}

#[wasm_bindgen_test]
async fn tampered_truncated_or_moved_values_are_corrupt() {
    let session = unique_session("tamper");
    let store = store_with_secrets(&session).await;
    let db = raw::open(&session_database_name(&session), 2).await;
    let creds_key = raw::key(Namespace::Credentials, keys::CREDENTIALS);
    let session_key = raw::key(Namespace::Sessions, "15551234567.0");
    let records = raw::records(&db).await;
    let sealed_creds = records
        .iter()
        .find(|(key, _)| {
            js_sys::JSON::stringify(key).unwrap() == js_sys::JSON::stringify(&creds_key).unwrap()
        })
        .map(|(_, value)| raw::bytes(value))
        .unwrap();

    let cases: Vec<(&str, JsValue, Vec<u8>)> = vec![
        ("flipped tag byte", creds_key.clone(), {
            let mut bytes = sealed_creds.clone();
            *bytes.last_mut().unwrap() ^= 1;
            bytes
        }),
        ("flipped ciphertext byte", creds_key.clone(), {
            let mut bytes = sealed_creds.clone();
            bytes[20] ^= 0x80;
            bytes
        }),
        ("flipped IV byte", creds_key.clone(), {
            let mut bytes = sealed_creds.clone();
            bytes[1] ^= 1;
            bytes
        }),
        ("truncated", creds_key.clone(), sealed_creds[..20].to_vec()),
        ("empty", creds_key.clone(), Vec::new()),
        ("unknown format", creds_key.clone(), {
            let mut bytes = sealed_creds.clone();
            bytes[0] = 2;
            bytes
        }),
        // Valid ciphertext, wrong place: the AAD binds it to its record.
        (
            "moved to another key",
            session_key.clone(),
            sealed_creds.clone(),
        ),
    ];
    for (label, key, bytes) in cases {
        raw::put(
            &db,
            &[(key.clone(), Uint8Array::from(bytes.as_slice()).into())],
        )
        .await;
        let (namespace, name) = if key == creds_key {
            (Namespace::Credentials, keys::CREDENTIALS)
        } else {
            (Namespace::Sessions, "15551234567.0")
        };
        let error = store.load(namespace, name).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt { namespace: ns, key, .. } if *ns == namespace && key == name),
            "{label}: {error:?}"
        );
        // Restore the genuine credentials for the next case.
        raw::put(
            &db,
            &[(
                creds_key.clone(),
                Uint8Array::from(sealed_creds.as_slice()).into(),
            )],
        )
        .await;
    }
    assert_eq!(
        store
            .load(Namespace::Credentials, keys::CREDENTIALS)
            .await
            .unwrap(),
        Some(SECRET.to_vec())
    );
    // A value that is not bytes at all.
    raw::put(&db, &[(creds_key.clone(), JsValue::from_str("text"))]).await;
    assert!(matches!(
        store.load(Namespace::Credentials, keys::CREDENTIALS).await,
        Err(StoreError::Corrupt { .. })
    ));
    db.close();
    drop(store);
    IndexedDbStore::delete(&session).await.unwrap();
}

#[wasm_bindgen_test]
async fn record_key_seals_and_opens_directly() {
    let key = RecordKey::generate().await.unwrap();
    assert!(!key.crypto_key().extractable());
    let sealed = key
        .seal(Namespace::PreKeys, "7", b"pre-key")
        .finish()
        .await
        .unwrap();
    assert_eq!(sealed.len(), 7 + SEALED_OVERHEAD);
    assert_eq!(
        key.open(Namespace::PreKeys, "7", &sealed).finish().await,
        Ok(b"pre-key".to_vec())
    );
    // Another namespace with the same key name is another record.
    assert!(matches!(
        key.open(Namespace::SignedPreKeys, "7", &sealed)
            .finish()
            .await,
        Err(AtRestError::Corrupt { .. })
    ));
    let other = RecordKey::generate().await.unwrap();
    assert!(matches!(
        other.open(Namespace::PreKeys, "7", &sealed).finish().await,
        Err(AtRestError::Corrupt { .. })
    ));
    // An extractable key is refused as a record key.
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let usages = js_sys::Array::of2(&"encrypt".into(), &"decrypt".into());
    let extractable = JsFuture::from(
        subtle
            .generate_key_with_object(
                &web_sys::AesKeyGenParams::new("AES-GCM", 256),
                true,
                &usages,
            )
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        RecordKey::from_crypto_key(extractable),
        Err(AtRestError::BadKey(_))
    ));
    assert!(matches!(
        RecordKey::from_crypto_key(JsValue::from_str("not a key")),
        Err(AtRestError::BadKey(_))
    ));
}
