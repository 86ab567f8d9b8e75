//! Parses arbitrary text as an auth-state JSON export. Whatever is accepted
//! must export to JSON that is accepted again with the same content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::store::AuthSnapshot;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(snapshot) = AuthSnapshot::from_json(text) {
        let again = AuthSnapshot::from_json(&snapshot.to_json()).expect("own export imports");
        assert_eq!(again, snapshot);
    }
});
