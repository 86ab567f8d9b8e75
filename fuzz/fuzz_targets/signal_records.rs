//! Decodes arbitrary bytes as every stored record type. What decodes must
//! re-encode to bytes that decode to the same record; session and sender key
//! records are then used for encryption and decryption.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::signal::group::{group_decrypt, group_encrypt};
use wa_wasm::signal::session::{decrypt, encrypt};
use wa_wasm::signal::{
    IdentityKey, IdentityKeyPair, PreKey, SenderKeyRecord, SessionRecord, SignalChanges,
    SignedPreKey,
};

mod signal_fixture;
use signal_fixture::{FIXTURE, rng};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = SessionRecord::from_bytes(data) {
        let bytes = record.to_bytes();
        assert_eq!(SessionRecord::from_bytes(&bytes).map(|r| r.to_bytes()), Ok(bytes));
        let mut store = FIXTURE.bob.clone();
        let mut changes = SignalChanges::default();
        changes.sessions.insert(FIXTURE.alice_address.clone(), record);
        store.apply(changes);
        let _ = encrypt(&store, &FIXTURE.alice_address, b"x");
        let _ = decrypt(&store, &FIXTURE.alice_address, &FIXTURE.pending_message, &mut rng());
    }
    if let Ok(record) = SenderKeyRecord::from_bytes(data) {
        let bytes = record.to_bytes();
        assert_eq!(SenderKeyRecord::from_bytes(&bytes).map(|r| r.to_bytes()), Ok(bytes));
        let mut store = FIXTURE.bob.clone();
        let mut changes = SignalChanges::default();
        changes.sender_keys.insert(FIXTURE.alice_sender_key.clone(), record.clone());
        changes.sender_keys.insert(FIXTURE.bob_sender_key.clone(), record);
        store.apply(changes);
        let _ = group_decrypt(&store, &FIXTURE.alice_sender_key, &FIXTURE.pending_group_message);
        let _ = group_encrypt(&store, &FIXTURE.bob_sender_key, b"x", &mut rng());
    }
    if let Ok(key) = PreKey::from_bytes(data) {
        assert_eq!(PreKey::from_bytes(&key.to_bytes()).map(|k| k.to_bytes()), Ok(key.to_bytes()));
    }
    if let Ok(key) = SignedPreKey::from_bytes(data) {
        assert_eq!(
            SignedPreKey::from_bytes(&key.to_bytes()).map(|k| k.to_bytes()),
            Ok(key.to_bytes())
        );
    }
    if let Ok(pair) = IdentityKeyPair::from_bytes(data) {
        assert_eq!(
            IdentityKeyPair::from_bytes(&pair.to_bytes()).map(|p| p.to_bytes()),
            Ok(pair.to_bytes())
        );
    }
    if let Ok(key) = IdentityKey::deserialize(data) {
        assert_eq!(key.serialize().as_slice(), data);
    }
});
