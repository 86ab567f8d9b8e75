//! Parses arbitrary bytes as a `msg` and decrypts what parses against a fixed session.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::signal::SignalMessage;
use wa_wasm::signal::session::decrypt_message;

mod signal_fixture;
use signal_fixture::{FIXTURE, rng};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SignalMessage::from_bytes(data) {
        assert_eq!(message.serialized(), data);
        let _ = decrypt_message(&FIXTURE.bob, &FIXTURE.alice_address, &message, &mut rng());
    }
});
