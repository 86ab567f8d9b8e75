//! A fixed pair of parties shared by the Signal fuzz targets: Bob holds a
//! session with Alice and Alice's sender key, plus one pending message of each
//! kind that he has not decrypted yet. Each target uses part of it.
#![allow(dead_code)]

use std::sync::LazyLock;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::signal::group::{create_distribution, group_encrypt, process_distribution};
use wa_wasm::signal::session::{decrypt, encrypt, process_bundle};
use wa_wasm::signal::store::{IdentityStore, InMemorySignalStore};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress,
    RegistrationId, SenderKeyMessage, SenderKeyName, SignedPreKey, SignedPreKeyId,
};

pub struct Fixture {
    pub bob: InMemorySignalStore,
    pub alice_address: ProtocolAddress,
    /// Alice's sender key, as Bob knows it.
    pub alice_sender_key: SenderKeyName,
    /// Bob's own sender key.
    pub bob_sender_key: SenderKeyName,
    /// A `msg` from Alice that Bob has not decrypted.
    pub pending_message: CiphertextMessage,
    /// An `skmsg` from Alice that Bob has not decrypted.
    pub pending_group_message: SenderKeyMessage,
}

pub fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(build);

fn build() -> Fixture {
    let mut rng = rng();
    let mut alice = InMemorySignalStore::new(IdentityKeyPair::generate(&mut rng), RegistrationId::new(1));
    let bob_identity = IdentityKeyPair::generate(&mut rng);
    let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(2));
    let signed = SignedPreKey::generate(SignedPreKeyId(1), &bob_identity, 0, &mut rng);
    bob.add_signed_pre_key(&signed);
    let one_time = PreKey::generate(PreKeyId(1), &mut rng);
    bob.add_pre_key(&one_time);
    let alice_address = ProtocolAddress::new("alice", 1);
    let bob_address = ProtocolAddress::new("bob", 1);
    let bundle = PreKeyBundle {
        registration_id: bob.local_registration_id(),
        device_id: 1,
        identity_key: *bob_identity.identity_key(),
        signed_pre_key_id: signed.id,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature,
        pre_key: Some((one_time.id, one_time.key_pair.public)),
    };
    alice.apply(process_bundle(&alice, &bob_address, &bundle, &mut rng).unwrap().changes);
    let first = encrypt(&alice, &bob_address, b"first").unwrap();
    alice.apply(first.changes);
    bob.apply(decrypt(&bob, &alice_address, &first.value, &mut rng).unwrap().changes);
    let reply = encrypt(&bob, &alice_address, b"reply").unwrap();
    bob.apply(reply.changes);
    alice.apply(decrypt(&alice, &bob_address, &reply.value, &mut rng).unwrap().changes);
    let pending = encrypt(&alice, &bob_address, b"pending").unwrap();
    alice.apply(pending.changes);

    let alice_sender_key = SenderKeyName::new("g@g.us", alice_address.clone());
    let bob_sender_key = SenderKeyName::new("g@g.us", bob_address);
    let skdm = create_distribution(&alice, &alice_sender_key, &mut rng).unwrap();
    alice.apply(skdm.changes);
    bob.apply(process_distribution(&bob, &alice_sender_key, &skdm.value).unwrap().changes);
    bob.apply(create_distribution(&bob, &bob_sender_key, &mut rng).unwrap().changes);
    let group = group_encrypt(&alice, &alice_sender_key, b"group", &mut rng).unwrap();

    Fixture {
        bob,
        alice_address,
        alice_sender_key,
        bob_sender_key,
        pending_message: pending.value,
        pending_group_message: group.value,
    }
}
