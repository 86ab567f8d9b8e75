use rand::SeedableRng;
use wa_wasm::store::conformance;
use wa_wasm::store::{Credentials, LoadedAuth, MemoryStore, Store, load_auth, save_credentials};
use wasm_bindgen_test::wasm_bindgen_test;

/// The store conformance suite runs under wasm32 too (the IndexedDB store will
/// run the same suite here).
#[wasm_bindgen_test]
async fn memory_store_passes_conformance_in_browser() {
    let result = conformance::run_all(async || Ok(MemoryStore::new())).await;
    assert_eq!(result, Ok(()));
}

#[wasm_bindgen_test]
async fn unfinished_credentials_are_discarded_in_browser() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let store = MemoryStore::new();
    let creds = Credentials::generate(&mut rng, 1_700_000_000);
    store.commit(&save_credentials(&creds)).await.unwrap();
    assert!(matches!(
        load_auth(&store).await.unwrap(),
        LoadedAuth::Unfinished
    ));
    assert!(store.is_empty());
}
