//! Criterion benchmarks for the `signal` layer, natively.
//!
//! Each operation is measured as the client runs it: the record is decoded
//! from the store's bytes, the operation runs, and the changes are produced
//! (committing them is the store's business and not measured).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::signal::group::{
    create_distribution, group_decrypt, group_encrypt, process_distribution,
};
use wa_wasm::signal::session::{decrypt, decrypt_prekey_message, encrypt, process_bundle};
use wa_wasm::signal::store::{IdentityStore, InMemorySignalStore};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress,
    RegistrationId, SenderKeyName, SignedPreKey, SignedPreKeyId,
};

const PLAINTEXT: &[u8] = &[0x42; 200];

struct Parties {
    alice: InMemorySignalStore,
    bob: InMemorySignalStore,
    bundle: PreKeyBundle,
    alice_address: ProtocolAddress,
    bob_address: ProtocolAddress,
}

fn parties(rng: &mut StdRng) -> Parties {
    let alice = InMemorySignalStore::new(IdentityKeyPair::generate(rng), RegistrationId::new(1));
    let bob_identity = IdentityKeyPair::generate(rng);
    let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(2));
    let signed = SignedPreKey::generate(SignedPreKeyId(1), &bob_identity, 0, rng);
    let one_time = PreKey::generate(PreKeyId(1), rng);
    bob.add_signed_pre_key(&signed);
    bob.add_pre_key(&one_time);
    let bundle = PreKeyBundle {
        registration_id: bob.local_registration_id(),
        device_id: 1,
        identity_key: *bob_identity.identity_key(),
        signed_pre_key_id: signed.id,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature,
        pre_key: Some((one_time.id, one_time.key_pair.public)),
    };
    Parties {
        alice,
        bob,
        bundle,
        alice_address: ProtocolAddress::new("alice", 1),
        bob_address: ProtocolAddress::new("bob", 1),
    }
}

/// Parties with a confirmed session (one message each way).
fn established(rng: &mut StdRng) -> Parties {
    let mut p = parties(rng);
    p.alice.apply(
        process_bundle(&p.alice, &p.bob_address, &p.bundle, rng)
            .unwrap()
            .changes,
    );
    let first = encrypt(&p.alice, &p.bob_address, PLAINTEXT).unwrap();
    p.alice.apply(first.changes);
    p.bob.apply(
        decrypt(&p.bob, &p.alice_address, &first.value, rng)
            .unwrap()
            .changes,
    );
    let reply = encrypt(&p.bob, &p.alice_address, PLAINTEXT).unwrap();
    p.bob.apply(reply.changes);
    p.alice.apply(
        decrypt(&p.alice, &p.bob_address, &reply.value, rng)
            .unwrap()
            .changes,
    );
    p
}

fn sessions(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);

    let fresh = parties(&mut rng);
    c.bench_function(
        "signal/session_setup (bundle + pkmsg encrypt + pkmsg decrypt)",
        |b| {
            b.iter(|| {
                let outcome =
                    process_bundle(&fresh.alice, &fresh.bob_address, &fresh.bundle, &mut rng)
                        .unwrap();
                let mut alice = fresh.alice.clone();
                alice.apply(outcome.changes);
                let sent = encrypt(&alice, &fresh.bob_address, PLAINTEXT).unwrap();
                let CiphertextMessage::Pkmsg(pkmsg) = sent.value else {
                    unreachable!("first message is a pkmsg")
                };
                black_box(
                    decrypt_prekey_message(&fresh.bob, &fresh.alice_address, &pkmsg, &mut rng)
                        .unwrap(),
                )
            });
        },
    );

    let p = established(&mut rng);
    c.bench_function("signal/encrypt (200 B)", |b| {
        b.iter(|| black_box(encrypt(&p.alice, &p.bob_address, black_box(PLAINTEXT)).unwrap()));
    });

    // Same chain: no ratchet turn.
    let mut bob = p.bob.clone();
    let warm = encrypt(&p.alice, &p.bob_address, PLAINTEXT).unwrap();
    let mut alice = p.alice.clone();
    alice.apply(warm.changes);
    bob.apply(
        decrypt(&bob, &p.alice_address, &warm.value, &mut rng)
            .unwrap()
            .changes,
    );
    let next = encrypt(&alice, &p.bob_address, PLAINTEXT).unwrap().value;
    c.bench_function("signal/decrypt (200 B, same chain)", |b| {
        b.iter(|| black_box(decrypt(&bob, &p.alice_address, &next, &mut rng).unwrap()));
    });

    // A message on the peer's new ratchet key: one ratchet turn (two DH + key generation).
    let turning = encrypt(&p.bob, &p.alice_address, PLAINTEXT).unwrap();
    let mut bob = p.bob.clone();
    bob.apply(turning.changes);
    let mut alice = p.alice.clone();
    alice.apply(
        decrypt(&alice, &p.bob_address, &turning.value, &mut rng)
            .unwrap()
            .changes,
    );
    let answer = encrypt(&alice, &p.bob_address, PLAINTEXT).unwrap().value;
    c.bench_function("signal/decrypt (200 B, ratchet turn)", |b| {
        b.iter_batched(
            || bob.clone(),
            |bob| black_box(decrypt(&bob, &p.alice_address, &answer, &mut rng).unwrap()),
            BatchSize::SmallInput,
        );
    });
}

fn groups(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let p = parties(&mut rng);
    let name = SenderKeyName::new("120363@g.us", p.alice_address.clone());
    let mut alice = p.alice.clone();
    let created = create_distribution(&alice, &name, &mut rng).unwrap();
    alice.apply(created.changes);
    let mut bob = p.bob.clone();
    bob.apply(
        process_distribution(&bob, &name, &created.value)
            .unwrap()
            .changes,
    );

    c.bench_function("signal/group_encrypt (200 B)", |b| {
        b.iter(|| black_box(group_encrypt(&alice, &name, black_box(PLAINTEXT), &mut rng).unwrap()));
    });
    let message = group_encrypt(&alice, &name, PLAINTEXT, &mut rng)
        .unwrap()
        .value;
    c.bench_function("signal/group_decrypt (200 B)", |b| {
        b.iter(|| black_box(group_decrypt(&bob, &name, &message).unwrap()));
    });
}

criterion_group!(group, sessions, groups);
criterion_main!(group);
