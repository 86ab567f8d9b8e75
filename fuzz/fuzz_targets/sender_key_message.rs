//! Parses arbitrary bytes as an `skmsg` and decrypts what parses with a fixed sender key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::signal::SenderKeyMessage;
use wa_wasm::signal::group::group_decrypt;

mod signal_fixture;
use signal_fixture::FIXTURE;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SenderKeyMessage::from_bytes(data) {
        assert_eq!(message.serialized(), data);
        let _ = group_decrypt(&FIXTURE.bob, &FIXTURE.alice_sender_key, &message);
    }
});
