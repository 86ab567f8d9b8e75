//! Arbitrary bytes as a `ClientPayload` (what the server decodes after the handshake):
//! typed errors only, and whatever decodes re-encodes to something that decodes to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::payload::ClientPayload;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = ClientPayload::decode(data) {
        let again = ClientPayload::decode(&payload.encode()).expect("re-encoded payload decodes");
        assert_eq!(again.kind, payload.kind);
        assert_eq!(again.push_name, payload.push_name);
    }
});
