//! Parses arbitrary bytes as a sender key distribution message, stores what
//! parses over a fixed sender key, then decrypts a pending group message with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::signal::SenderKeyDistributionMessage;
use wa_wasm::signal::group::{group_decrypt, process_distribution};

mod signal_fixture;
use signal_fixture::FIXTURE;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SenderKeyDistributionMessage::from_bytes(data) {
        assert_eq!(message.serialized(), data);
        let name = &FIXTURE.alice_sender_key;
        if let Ok(outcome) = process_distribution(&FIXTURE.bob, name, &message) {
            let mut store = FIXTURE.bob.clone();
            store.apply(outcome.changes);
            let _ = group_decrypt(&store, name, &FIXTURE.pending_group_message);
        }
    }
});
