//! Arbitrary bytes as a padded end-to-end message (what a device gets out of a Signal
//! decryption) and as an encrypted media blob: typed errors only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::media::{MediaType, decrypt};
use wa_wasm::message::{Message, unpad};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = unpad(data) {
        assert!(body.len() < data.len());
        if let Ok(message) = Message::decode(body) {
            let again = Message::decode(&message.encode()).expect("re-encoded message decodes");
            assert_eq!(again.inner().text, message.inner().text);
        }
    }
    let _ = decrypt(data, &[7; 32], MediaType::Document, None);
});
