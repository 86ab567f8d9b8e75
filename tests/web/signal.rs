use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::crypto::{KeyPair, PrivateKey};
use wa_wasm::signal::group::{
    create_distribution, group_decrypt, group_encrypt, process_distribution,
};
use wa_wasm::signal::session::{decrypt, encrypt, process_bundle};
use wa_wasm::signal::store::{IdentityStore, InMemorySignalStore};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress,
    RegistrationId, SenderKeyName, SignedPreKey, SignedPreKeyId,
};
use wasm_bindgen_test::wasm_bindgen_test;

fn key_pair(private_hex: &str) -> KeyPair {
    KeyPair::from_private(PrivateKey::from_slice(&hex::decode(private_hex).unwrap()).unwrap())
}

/// A pkmsg produced by the `libsignal` npm package (src/signal/session.rs has the
/// whole transcript) decrypts in the browser with the same fixed keys.
#[wasm_bindgen_test]
fn libsignal_pkmsg_decrypts_in_browser() {
    let bob_identity = IdentityKeyPair::from(key_pair(
        "0876df1c894cf6363e224fe412cac4eba35c14c9a172a2260c6ded5e037ae641",
    ));
    let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(5678));
    let mut rng = StdRng::seed_from_u64(1);
    let signed_key = key_pair("182dc868ebef96b901e5e345ea061342e702554520588fc78a249cb284db6b68");
    let signature = bob_identity
        .private_key()
        .sign(&signed_key.public.to_prefixed(), &mut rng);
    bob.add_signed_pre_key(&SignedPreKey {
        id: SignedPreKeyId(7),
        key_pair: signed_key,
        signature,
        timestamp: 0,
    });
    bob.add_pre_key(&PreKey {
        id: PreKeyId(31),
        key_pair: key_pair("e80721e130ea68a10d29c9de2c10989334e2b4f1b184ae4799fb9512dfcf7d6a"),
    });
    let pkmsg = hex::decode("33081f122105eacd8cc43f57b5d7a218e686b3ae2eb16b18e0d13dd5e0fab062d1cba8375a421a2105d26e55a89604c35812a4578b547faed8e6a96f7d8791c9870bad727c9aadb9712242330a210573117970ac7aab0083bdda0ac4971a834705138cd0f49978247676e31087e63d1000180022107cee4d45951c05cddcf1e2d78c52eb4a818bc23eb937294828d2093007").unwrap();
    let message = CiphertextMessage::parse("pkmsg", &pkmsg).unwrap().unwrap();
    let alice = ProtocolAddress::new("alice", 1);
    let outcome = decrypt(&bob, &alice, &message, &mut rng).unwrap();
    assert_eq!(outcome.value, b"m1 hello");
    assert_eq!(outcome.changes.removed_pre_keys.len(), 1);
}

#[wasm_bindgen_test]
fn session_and_group_round_trip_in_browser() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut alice =
        InMemorySignalStore::new(IdentityKeyPair::generate(&mut rng), RegistrationId::new(1));
    let bob_identity = IdentityKeyPair::generate(&mut rng);
    let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(2));
    let signed = SignedPreKey::generate(SignedPreKeyId(1), &bob_identity, 0, &mut rng);
    bob.add_signed_pre_key(&signed);
    let bundle = PreKeyBundle {
        registration_id: bob.local_registration_id(),
        device_id: 1,
        identity_key: *bob_identity.identity_key(),
        signed_pre_key_id: signed.id,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature,
        pre_key: None,
    };
    let alice_address = ProtocolAddress::new("alice", 1);
    let bob_address = ProtocolAddress::new("bob", 1);
    alice.apply(
        process_bundle(&alice, &bob_address, &bundle, &mut rng)
            .unwrap()
            .changes,
    );
    let hello = encrypt(&alice, &bob_address, b"hello").unwrap();
    alice.apply(hello.changes);
    let got = decrypt(&bob, &alice_address, &hello.value, &mut rng).unwrap();
    assert_eq!(got.value, b"hello");
    bob.apply(got.changes);
    let reply = encrypt(&bob, &alice_address, b"reply").unwrap();
    assert_eq!(reply.value.enc_type(), "msg");
    let got = decrypt(&alice, &bob_address, &reply.value, &mut rng).unwrap();
    assert_eq!(got.value, b"reply");

    let name = SenderKeyName::new("g@g.us", alice_address);
    let created = create_distribution(&alice, &name, &mut rng).unwrap();
    alice.apply(created.changes);
    bob.apply(
        process_distribution(&bob, &name, &created.value)
            .unwrap()
            .changes,
    );
    let sent = group_encrypt(&alice, &name, b"group", &mut rng).unwrap();
    assert_eq!(
        group_decrypt(&bob, &name, &sent.value).unwrap().value,
        b"group"
    );
}
