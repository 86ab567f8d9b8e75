//! The IndexedDB session store: conformance, schema upgrades, blocked and
//! versionchange handling, error mapping, and the 5,000-session measurement.

use js_sys::{Array, Uint8Array};
use wa_wasm::store::{Changes, Namespace, Store, StoreError, conformance, keys};
use wa_wasm::web::{
    IdbError, IndexedDbStore, META, Migration, RECORD_KEY, RECORDS, SESSION_SCHEMA, idb,
    now_unix_ms, session_database_name,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};
use web_sys::{IdbDatabase, IdbTransaction, IdbTransactionMode};

/// A fresh session name: databases outlive a test run's page.
pub fn unique_session(label: &str) -> String {
    format!(
        "{label}-{}-{}",
        now_unix_ms(),
        js_sys::Math::random().to_bits()
    )
}

#[wasm_bindgen_test]
async fn indexeddb_store_passes_conformance() {
    let session = unique_session("conformance");
    let result = conformance::run_all(async || {
        IndexedDbStore::open(&session)
            .await
            .map_err(StoreError::from)
    })
    .await;
    assert_eq!(result, Ok(()));
    IndexedDbStore::delete(&session).await.unwrap();
}

#[wasm_bindgen_test]
async fn records_survive_reopening_and_delete_removes_them() {
    let session = unique_session("reopen");
    let store = IndexedDbStore::open(&session).await.unwrap();
    assert_eq!(store.connection().version(), SESSION_SCHEMA.len() as u32);
    let mut changes = Changes::new();
    changes
        .put(Namespace::Credentials, keys::CREDENTIALS, vec![7; 100])
        .put(Namespace::AppMeta, "empty", Vec::new());
    store.commit(&changes).await.unwrap();
    drop(store);

    let store = IndexedDbStore::open(&session).await.unwrap();
    assert_eq!(
        store
            .load(Namespace::Credentials, keys::CREDENTIALS)
            .await
            .unwrap(),
        Some(vec![7; 100])
    );
    assert_eq!(
        store.load(Namespace::AppMeta, "empty").await.unwrap(),
        Some(Vec::new())
    );
    drop(store);

    IndexedDbStore::delete(&session).await.unwrap();
    let store = IndexedDbStore::open(&session).await.unwrap();
    assert_eq!(
        store
            .load(Namespace::Credentials, keys::CREDENTIALS)
            .await
            .unwrap(),
        None
    );
    drop(store);
    IndexedDbStore::delete(&session).await.unwrap();
}

/// Raw requests for the tests (outside the store's API on purpose).
pub mod raw {
    use super::*;

    pub async fn request(request: web_sys::IdbRequest) -> JsValue {
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        JsFuture::from(promise).await.unwrap();
        request.result().unwrap()
    }

    pub async fn done(transaction: &IdbTransaction) {
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            transaction.set_oncomplete(Some(&resolve));
            transaction.set_onabort(Some(&reject));
        });
        JsFuture::from(promise).await.unwrap();
    }

    /// Opens `name` with raw IndexedDB (no versionchange handling).
    pub async fn open(name: &str, version: u32) -> IdbDatabase {
        let factory: web_sys::IdbFactory =
            js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
                .unwrap()
                .unchecked_into();
        let opening = factory.open_with_u32(name, version).unwrap();
        request(opening.unchecked_into()).await.unchecked_into()
    }

    pub fn key(namespace: Namespace, key: &str) -> JsValue {
        Array::of2(&namespace.as_str().into(), &key.into()).into()
    }

    /// Every `(key, value)` of the `records` store.
    pub async fn records(db: &IdbDatabase) -> Vec<(JsValue, JsValue)> {
        let transaction = db.transaction_with_str(RECORDS).unwrap();
        let store = transaction.object_store(RECORDS).unwrap();
        let keys: Array = request(store.get_all_keys().unwrap())
            .await
            .unchecked_into();
        let values: Array = request(store.get_all().unwrap()).await.unchecked_into();
        keys.iter().zip(values.iter()).collect()
    }

    pub async fn put(db: &IdbDatabase, entries: &[(JsValue, JsValue)]) {
        let transaction = db
            .transaction_with_str_and_mode(RECORDS, IdbTransactionMode::Readwrite)
            .unwrap();
        let store = transaction.object_store(RECORDS).unwrap();
        for (key, value) in entries {
            store.put_with_key(value, key).unwrap();
        }
        done(&transaction).await;
    }

    pub fn bytes(value: &JsValue) -> Vec<u8> {
        value.dyn_ref::<Uint8Array>().unwrap().to_vec()
    }
}

/// A database created by the first schema step only upgrades in place: its
/// records stay and the later steps run.
#[wasm_bindgen_test]
async fn v1_database_upgrades_and_keeps_its_records() {
    let session = unique_session("upgrade");
    let name = session_database_name(&session);
    let v1 = idb::open_database(&name, &SESSION_SCHEMA[..1])
        .await
        .unwrap();
    assert_eq!(v1.version(), 1);
    assert_eq!(v1.object_store_names(), [RECORDS]);
    drop(v1);
    let db = raw::open(&name, 1).await;
    let marker = Uint8Array::from(&[1u8, 2, 3][..]);
    raw::put(&db, &[(raw::key(Namespace::AppMeta, "v1"), marker.into())]).await;
    db.close();

    let store = IndexedDbStore::open(&session).await.unwrap();
    assert_eq!(store.connection().version(), 2);
    let mut names = store.connection().object_store_names();
    names.sort();
    assert_eq!(names, [META, RECORDS]);
    // The v1 record is still there, untouched (it was never sealed, so it
    // does not open as a sealed value).
    assert_eq!(
        store.keys(Namespace::AppMeta).await.unwrap(),
        ["v1".to_owned()]
    );
    assert!(matches!(
        store.load(Namespace::AppMeta, "v1").await,
        Err(StoreError::Corrupt { .. })
    ));
    // The upgraded database works normally and holds a record key.
    let mut changes = Changes::new();
    changes.put(Namespace::Sessions, "a.0", vec![9; 3]);
    store.commit(&changes).await.unwrap();
    assert_eq!(
        store.load(Namespace::Sessions, "a.0").await.unwrap(),
        Some(vec![9; 3])
    );
    store.close();
    let db = raw::open(&name, 2).await;
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
    db.close();
    drop(store);
    IndexedDbStore::delete(&session).await.unwrap();
}

fn create_a(db: &IdbDatabase, _: &IdbTransaction) -> Result<(), JsValue> {
    db.create_object_store("a").map(drop)
}

/// Version 2 moves every record of `a` into `b`, doubling each number.
fn move_a_to_b(db: &IdbDatabase, transaction: &IdbTransaction) -> Result<(), JsValue> {
    db.create_object_store("b")?;
    let a = transaction.object_store("a")?;
    let values = a.get_all()?;
    // Requests on one store finish in order: when the keys are read, so are
    // the values.
    let keys = a.get_all_keys()?;
    let keys_read = keys.clone();
    let on_done = wasm_bindgen::closure::Closure::once_into_js(move || {
        let b = values.transaction().unwrap().object_store("b").unwrap();
        let values: Array = values.result().unwrap().unchecked_into();
        let keys: Array = keys_read.result().unwrap().unchecked_into();
        for (key, value) in keys.iter().zip(values.iter()) {
            b.put_with_key(&JsValue::from_f64(value.as_f64().unwrap() * 2.0), &key)
                .unwrap();
        }
    });
    keys.set_onsuccess(Some(on_done.unchecked_ref()));
    Ok(())
}

fn fail_step(_: &IdbDatabase, _: &IdbTransaction) -> Result<(), JsValue> {
    Err(js_sys::Error::new("step refuses").into())
}

const TEST_SCHEMA: &[Migration] = &[
    Migration {
        version: 1,
        description: "store a",
        apply: create_a,
    },
    Migration {
        version: 2,
        description: "move a to b, doubled",
        apply: move_a_to_b,
    },
    Migration {
        version: 3,
        description: "a failing step",
        apply: fail_step,
    },
];

#[wasm_bindgen_test]
async fn migrations_run_in_order_and_can_rewrite_records() {
    let name = format!("wa-wasm-test:{}", unique_session("migrations"));
    let v1 = idb::open_database(&name, &TEST_SCHEMA[..1]).await.unwrap();
    drop(v1);
    let db = raw::open(&name, 1).await;
    let transaction = db
        .transaction_with_str_and_mode("a", IdbTransactionMode::Readwrite)
        .unwrap();
    let a = transaction.object_store("a").unwrap();
    a.put_with_key(&21.into(), &"x".into()).unwrap();
    a.put_with_key(&5.into(), &"y".into()).unwrap();
    raw::done(&transaction).await;
    db.close();

    let v2 = idb::open_database(&name, &TEST_SCHEMA[..2]).await.unwrap();
    assert_eq!(v2.version(), 2);
    drop(v2);
    let db = raw::open(&name, 2).await;
    let transaction = db.transaction_with_str("b").unwrap();
    let b = transaction.object_store("b").unwrap();
    assert_eq!(raw::request(b.get(&"x".into()).unwrap()).await, 42);
    assert_eq!(raw::request(b.get(&"y".into()).unwrap()).await, 10);
    db.close();

    // A failing step leaves the database at its old version.
    let failed = idb::open_database(&name, TEST_SCHEMA).await.unwrap_err();
    assert!(
        matches!(failed, IdbError::Migration { version: 3, .. }),
        "{failed:?}"
    );
    let again = idb::open_database(&name, &TEST_SCHEMA[..2]).await.unwrap();
    assert_eq!(again.version(), 2);
    drop(again);

    // Code that knows fewer versions than the database refuses to open it.
    let older = idb::open_database(&name, &TEST_SCHEMA[..1])
        .await
        .unwrap_err();
    assert!(
        matches!(older, IdbError::NewerSchema { known: 1, .. }),
        "{older:?}"
    );
    // A schema listed out of order is refused before touching anything.
    let shuffled = [TEST_SCHEMA[1], TEST_SCHEMA[0]];
    assert!(matches!(
        idb::open_database(&name, &shuffled).await,
        Err(IdbError::Migration { .. })
    ));
    idb::delete_database(&name).await.unwrap();
}

/// An upgrade that another connection does not let through fails at once
/// with a typed error instead of hanging.
#[wasm_bindgen_test]
async fn blocked_upgrade_is_reported() {
    let name = format!("wa-wasm-test:{}", unique_session("blocked"));
    // A raw v1 connection that ignores `versionchange` (like old code).
    drop(idb::open_database(&name, &TEST_SCHEMA[..1]).await.unwrap());
    let stubborn = raw::open(&name, 1).await;
    let error = idb::open_database(&name, &TEST_SCHEMA[..2])
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdbError::Blocked { version: 2, .. }),
        "{error:?}"
    );
    assert!(matches!(
        StoreError::from(error),
        StoreError::Unavailable(_)
    ));
    stubborn.close();
    // Once the other connection is gone the upgrade goes through (the late
    // result of the blocked open was closed, so it does not block this one).
    let upgraded = idb::open_database(&name, &TEST_SCHEMA[..2]).await.unwrap();
    assert_eq!(upgraded.version(), 2);
    drop(upgraded);
    idb::delete_database(&name).await.unwrap();
}

/// Another tab upgrading or deleting the database closes our connection;
/// the store then fails with a typed error instead of blocking it.
#[wasm_bindgen_test]
async fn versionchange_closes_the_store() {
    let session = unique_session("versionchange");
    let store = IndexedDbStore::open(&session).await.unwrap();
    let mut changes = Changes::new();
    changes.put(Namespace::Sessions, "a.1", vec![1]);
    store.commit(&changes).await.unwrap();
    assert_eq!(store.connection().closed_reason(), None);

    // A newer version of the code in another tab upgrades the database.
    let newer = raw::open(&session_database_name(&session), 3).await;
    let reason = store.connection().closed_reason().unwrap();
    assert!(reason.contains("v3"), "{reason}");
    assert!(matches!(
        store.load(Namespace::Sessions, "a.1").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.commit(&changes).await,
        Err(StoreError::Unavailable(_))
    ));
    newer.close();
    drop(store);
    // And this code cannot open the newer database.
    assert!(matches!(
        IndexedDbStore::open(&session).await,
        Err(IdbError::NewerSchema { .. })
    ));

    // Deleting from elsewhere closes the store too (and is not blocked by it).
    let other = unique_session("versionchange-delete");
    let store = IndexedDbStore::open(&other).await.unwrap();
    IndexedDbStore::delete(&other).await.unwrap();
    assert!(store.connection().closed_reason().is_some());
    idb::delete_database(&session_database_name(&session))
        .await
        .unwrap();
}

#[wasm_bindgen_test]
fn dom_exceptions_map_to_typed_errors() {
    let exception = |name: &str| -> JsValue {
        web_sys::DomException::new_with_message_and_name("test", name)
            .unwrap()
            .into()
    };
    let quota = IdbError::from_js("commit", &exception("QuotaExceededError"));
    assert_eq!(quota, IdbError::QuotaExceeded);
    assert_eq!(StoreError::from(quota), StoreError::QuotaExceeded);
    assert!(matches!(
        StoreError::from(IdbError::from_js("commit", &exception("AbortError"))),
        StoreError::Aborted(_)
    ));
    let other = IdbError::from_js("load", &exception("DataError"));
    assert_eq!(
        other,
        IdbError::Failed {
            operation: "load",
            name: "DataError".into(),
            message: "test".into()
        }
    );
    assert!(matches!(StoreError::from(other), StoreError::Backend(_)));
    let thrown = IdbError::from_js("load", &js_sys::TypeError::new("bad").into());
    assert!(
        matches!(&thrown, IdbError::Failed { name, .. } if name == "TypeError"),
        "{thrown:?}"
    );
}

/// The issue 7 target: open a store with 5,000 Signal sessions, list and load
/// them. Printed, not asserted (timing belongs to benchmarks).
#[wasm_bindgen_test]
async fn store_open_list_load_5000() {
    let session = unique_session("perf");
    let store = IndexedDbStore::open(&session).await.unwrap();
    let names: Vec<String> = (0..5000u32)
        .map(|i| keys::signal_address(&format!("1555{i:07}"), i % 5))
        .collect();
    let mut changes = Changes::new();
    for (index, name) in names.iter().enumerate() {
        changes.put(Namespace::Sessions, name.as_str(), vec![index as u8; 1200]);
    }
    let started = js_sys::Date::now();
    store.commit(&changes).await.unwrap();
    let commit_ms = js_sys::Date::now() - started;
    drop(store);

    let started = js_sys::Date::now();
    let store = IndexedDbStore::open(&session).await.unwrap();
    let opened = js_sys::Date::now();
    let listed = store.keys(Namespace::Sessions).await.unwrap();
    let listed_at = js_sys::Date::now();
    let loaded = store.load_many(Namespace::Sessions, &listed).await.unwrap();
    let loaded_at = js_sys::Date::now();
    assert_eq!(listed.len(), 5000);
    assert!(
        loaded
            .iter()
            .all(|value| value.as_ref().map(Vec::len) == Some(1200))
    );
    drop(store);
    let entries_started = js_sys::Date::now();
    let store = IndexedDbStore::open(&session).await.unwrap();
    let entries = store.entries(Namespace::Sessions).await.unwrap();
    let entries_at = js_sys::Date::now();
    assert_eq!(entries.len(), 5000);
    let mut sorted = listed.clone();
    sorted.sort();
    assert!(entries.iter().map(|(key, _)| key).eq(sorted.iter()));
    assert!(entries.iter().all(|(_, value)| value.len() == 1200));
    console_log!(
        "IndexedDbStore, 5000 sessions of 1200 bytes: commit {commit_ms:.0} ms; \
         open {:.0} ms + keys {:.0} ms + load_many {:.0} ms = {:.0} ms; \
         open + entries = {:.0} ms",
        opened - started,
        listed_at - opened,
        loaded_at - listed_at,
        loaded_at - started,
        entries_at - entries_started
    );
    drop(store);
    IndexedDbStore::delete(&session).await.unwrap();
}
