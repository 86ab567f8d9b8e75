use wa_wasm::store::MemoryStore;
use wa_wasm::store::conformance;
use wasm_bindgen_test::wasm_bindgen_test;

/// The store conformance suite runs under wasm32 too (the IndexedDB store will
/// run the same suite here).
#[wasm_bindgen_test]
async fn memory_store_passes_conformance_in_browser() {
    let result = conformance::run_all(async || Ok(MemoryStore::new())).await;
    assert_eq!(result, Ok(()));
}
