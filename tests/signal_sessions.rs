//! Behaviour of 1:1 sessions through the public API: ordering, duplicates,
//! repeated pre-key messages, archived states, identity changes, limits and
//! durability (a failed or uncommitted operation changes nothing).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod signal_common;

use signal_common::Party;
use wa_wasm::signal::session::{decrypt, encrypt, process_bundle};
use wa_wasm::signal::store::{PreKeyStore, StagedStore};
use wa_wasm::signal::{
    CiphertextMessage, MAX_ARCHIVED_STATES, MAX_FORWARD_JUMP, PreKeyId, SignalError,
};

fn pair() -> (Party, Party) {
    (Party::new("alice", 1), Party::new("bob", 2))
}

#[test]
fn out_of_order_delivery_and_duplicates() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let sent: Vec<_> = (0..5u8)
        .map(|i| alice.send(&bob.address, &[i; 10]))
        .collect();
    assert!(sent.iter().all(|m| m.enc_type() == "pkmsg"));
    for index in [3usize, 0, 4, 1, 2] {
        assert_eq!(
            bob.receive(&alice.address, &sent[index]).unwrap(),
            vec![index as u8; 10]
        );
    }
    for (index, message) in sent.iter().enumerate() {
        assert_eq!(
            bob.receive(&alice.address, message),
            Err(SignalError::DuplicateMessage {
                counter: index as u32
            })
        );
    }
}

#[test]
fn repeated_prekey_messages_reuse_the_session() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(3));
    let first = alice.send(&bob.address, b"one");
    let second = alice.send(&bob.address, b"two");
    bob.receive(&alice.address, &first).unwrap();
    assert_eq!(bob.store.pre_key(PreKeyId(3)).unwrap().map(|k| k.id), None);
    // The second pkmsg names a pre-key that is gone: the existing session
    // (same base key) decrypts it, and no second session appears.
    assert_eq!(bob.receive(&alice.address, &second).unwrap(), b"two");
    let record = bob.session(&alice.address).unwrap();
    assert_eq!(record.previous_state_count(), 0);
    assert!(bob.committed.last().unwrap().removed_pre_keys.is_empty());
}

#[test]
fn pkmsg_until_the_first_reply() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, None);
    assert!(alice.session(&bob.address).unwrap().awaiting_first_reply());
    let hello = alice.send(&bob.address, b"hello");
    assert_eq!(hello.enc_type(), "pkmsg");
    assert_eq!(bob.receive(&alice.address, &hello).unwrap(), b"hello");
    let reply = bob.send(&alice.address, b"hi");
    assert_eq!(reply.enc_type(), "msg");
    // Still pkmsg before the reply arrives.
    assert_eq!(alice.send(&bob.address, b"again").enc_type(), "pkmsg");
    alice.receive(&bob.address, &reply).unwrap();
    assert!(!alice.session(&bob.address).unwrap().awaiting_first_reply());
    assert_eq!(alice.send(&bob.address, b"now").enc_type(), "msg");
}

#[test]
fn ratchet_turns_in_both_directions() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    for round in 0..20u8 {
        let batch: Vec<_> = (0..=round % 3)
            .map(|i| alice.send(&bob.address, &[round, i]))
            .collect();
        for (i, message) in batch.iter().enumerate().rev() {
            assert_eq!(
                bob.receive(&alice.address, message).unwrap(),
                [round, i as u8]
            );
        }
        let reply = bob.send(&alice.address, &[round]);
        assert_eq!(alice.receive(&bob.address, &reply).unwrap(), [round]);
    }
}

#[test]
fn failed_decryption_changes_nothing_and_uncommitted_work_can_be_redone() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let message = alice.send(&bob.address, b"important");
    // Flip a bit of the MAC of the SignalMessage inside the pkmsg.
    let CiphertextMessage::Pkmsg(pkmsg) = &message else {
        panic!("expected pkmsg")
    };
    let inner = pkmsg.message().serialized();
    let start = pkmsg
        .serialized()
        .windows(inner.len())
        .position(|w| w == inner)
        .unwrap();
    let mut tampered = pkmsg.serialized().to_vec();
    tampered[start + inner.len() - 1] ^= 0x01;
    let tampered = CiphertextMessage::parse("pkmsg", &tampered)
        .unwrap()
        .unwrap();
    assert_eq!(
        bob.receive(&alice.address, &tampered),
        Err(SignalError::BadMac)
    );
    assert_eq!(bob.store.pre_key_count(), signal_common::PRE_KEYS as usize);

    // A crash before the commit: decrypting twice without committing gives the
    // same plaintext, and only the committed run consumes the pre-key.
    let first = decrypt(&bob.store, &alice.address, &message, &mut bob.rng).unwrap();
    let second = decrypt(&bob.store, &alice.address, &message, &mut bob.rng).unwrap();
    assert_eq!(first.value, b"important");
    assert_eq!(second.value, b"important");
    assert_eq!(bob.store.pre_key_count(), signal_common::PRE_KEYS as usize);
    bob.commit(second.changes);
    assert_eq!(
        bob.store.pre_key_count(),
        signal_common::PRE_KEYS as usize - 1
    );
    assert_eq!(
        bob.receive(&alice.address, &message),
        Err(SignalError::DuplicateMessage { counter: 0 })
    );
}

#[test]
fn staged_store_sees_uncommitted_changes() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(2));
    let one = alice.send(&bob.address, b"one");
    let two = alice.send(&bob.address, b"two");
    let mut staged = StagedStore::new(&bob.store);
    for (message, expected) in [(&one, &b"one"[..]), (&two, b"two")] {
        let outcome = decrypt(&staged, &alice.address, message, &mut bob.rng).unwrap();
        assert_eq!(outcome.value, expected);
        staged.stage(outcome.changes);
    }
    assert!(staged.pre_key(PreKeyId(2)).unwrap().is_none());
    let replay = decrypt(&staged, &alice.address, &one, &mut bob.rng);
    assert!(matches!(
        replay,
        Err(SignalError::DuplicateMessage { counter: 0 })
    ));
    let changes = staged.into_changes();
    assert_eq!(changes.removed_pre_keys.len(), 1);
    bob.commit(changes);
    assert!(matches!(
        bob.receive(&alice.address, &two),
        Err(SignalError::DuplicateMessage { counter: 1 })
    ));
}

#[test]
fn missing_pre_keys_and_bad_bundle_signature() {
    let (mut alice, mut bob) = pair();
    let mut bundle = bob.bundle(Some(1));
    bundle.signed_pre_key_signature[5] ^= 1;
    assert_eq!(
        process_bundle(&alice.store, &bob.address, &bundle, &mut alice.rng).unwrap_err(),
        SignalError::BadSignature
    );
    // A bundle whose one-time pre-key Bob no longer has.
    alice.start_session(&bob, Some(4));
    let message = alice.send(&bob.address, b"x");
    let mut without = bob.store.clone();
    without.apply(wa_wasm::signal::SignalChanges {
        removed_pre_keys: [PreKeyId(4)].into(),
        ..Default::default()
    });
    let before = bob.store.clone();
    bob.store = without;
    assert_eq!(
        bob.receive(&alice.address, &message),
        Err(SignalError::InvalidPreKeyId(4))
    );
    bob.store = before;
    // A signed pre-key id Bob does not know.
    let mut bundle = bob.bundle(Some(5));
    bundle.signed_pre_key_id = wa_wasm::signal::SignedPreKeyId(99);
    let outcome = process_bundle(&alice.store, &bob.address, &bundle, &mut alice.rng).unwrap();
    alice.commit(outcome.changes);
    let message = alice.send(&bob.address, b"y");
    assert_eq!(
        bob.receive(&alice.address, &message),
        Err(SignalError::InvalidSignedPreKeyId(99))
    );
}

#[test]
fn no_session_errors() {
    let (mut alice, bob) = pair();
    assert_eq!(
        encrypt(&alice.store, &bob.address, b"x").unwrap_err(),
        SignalError::NoSession
    );
    let mut other = Party::new("carol", 3);
    other.start_session(&bob, None);
    let CiphertextMessage::Pkmsg(pkmsg) = other.send(&bob.address, b"x") else {
        panic!("expected pkmsg")
    };
    let msg = CiphertextMessage::Msg(pkmsg.message().clone());
    assert_eq!(
        alice.receive(&bob.address, &msg),
        Err(SignalError::NoSession)
    );
}

#[test]
fn identity_change_is_accepted_reported_and_archives_the_session() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let hello = alice.send(&bob.address, b"hello");
    let first = bob.receive(&alice.address, &hello);
    assert_eq!(first.unwrap(), b"hello");
    assert!(bob.committed.last().unwrap().identity_changes.is_empty());
    assert_eq!(bob.committed.last().unwrap().identities.len(), 1);

    // Bob reinstalls: new identity, same address.
    let mut new_bob = Party::new("bob", 20);
    let changes = alice.start_session(&new_bob, Some(1));
    let change = changes.identity_changes.get(&bob.address).unwrap();
    assert_eq!(change.previous, bob.bundle(None).identity_key);
    assert_eq!(change.current, new_bob.bundle(None).identity_key);
    assert_eq!(
        alice.session(&bob.address).unwrap().previous_state_count(),
        1
    );
    let message = alice.send(&new_bob.address, b"new you");
    assert_eq!(
        new_bob.receive(&alice.address, &message).unwrap(),
        b"new you"
    );

    // Alice reinstalls too: old Bob sees a changed identity on her pkmsg.
    let mut new_alice = Party::new("alice", 21);
    new_alice.start_session(&bob, Some(2));
    let message = new_alice.send(&bob.address, b"me again");
    assert_eq!(bob.receive(&alice.address, &message).unwrap(), b"me again");
    let changes = bob.committed.last().unwrap();
    assert!(changes.identity_changes.contains_key(&alice.address));
    assert_eq!(
        bob.session(&alice.address).unwrap().previous_state_count(),
        1
    );
}

#[test]
fn late_message_from_an_archived_session_decrypts_and_promotes_it() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let first = alice.send(&bob.address, b"first");
    bob.receive(&alice.address, &first).unwrap();
    let reply = bob.send(&alice.address, b"reply");
    alice.receive(&bob.address, &reply).unwrap();
    let late = alice.send(&bob.address, b"late");

    // Alice starts over (e.g. after a retry receipt); Bob gets the new session first.
    alice.start_session(&bob, Some(2));
    let fresh = alice.send(&bob.address, b"fresh");
    assert_eq!(bob.receive(&alice.address, &fresh).unwrap(), b"fresh");
    assert_eq!(
        bob.session(&alice.address).unwrap().previous_state_count(),
        1
    );
    // The late message of the old session still decrypts.
    assert_eq!(bob.receive(&alice.address, &late).unwrap(), b"late");
    assert_eq!(
        bob.session(&alice.address).unwrap().previous_state_count(),
        1
    );
    // Whichever state Bob answers with, Alice has it.
    let answer = bob.send(&alice.address, b"answer");
    assert_eq!(alice.receive(&bob.address, &answer).unwrap(), b"answer");
    let next = alice.send(&bob.address, b"next");
    assert_eq!(bob.receive(&alice.address, &next).unwrap(), b"next");
}

#[test]
fn simultaneous_initiation_converges() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    bob.start_session(&alice, Some(1));
    let from_alice = alice.send(&bob.address, b"a1");
    let from_bob = bob.send(&alice.address, b"b1");
    assert_eq!(bob.receive(&alice.address, &from_alice).unwrap(), b"a1");
    assert_eq!(alice.receive(&bob.address, &from_bob).unwrap(), b"b1");
    for round in 0..4u8 {
        let a = alice.send(&bob.address, &[round]);
        assert_eq!(bob.receive(&alice.address, &a).unwrap(), [round]);
        let b = bob.send(&alice.address, &[round, round]);
        assert_eq!(alice.receive(&bob.address, &b).unwrap(), [round, round]);
    }
}

#[test]
fn too_far_in_the_future_is_rejected() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let first = alice.send(&bob.address, b"0");
    bob.receive(&alice.address, &first).unwrap();
    let sent: Vec<_> = (1..=MAX_FORWARD_JUMP + 2)
        .map(|_| alice.send(&bob.address, b"n"))
        .collect();
    let last = sent.last().unwrap();
    assert_eq!(
        bob.receive(&alice.address, last),
        Err(SignalError::TooFarInFuture {
            counter: MAX_FORWARD_JUMP + 2,
            current: 1,
            limit: MAX_FORWARD_JUMP
        })
    );
    // Exactly the limit ahead is accepted, and the skipped ones still decrypt.
    let at_limit = &sent[sent.len() - 2];
    assert_eq!(bob.receive(&alice.address, at_limit).unwrap(), b"n");
    assert_eq!(bob.receive(&alice.address, &sent[0]).unwrap(), b"n");
    assert_eq!(bob.receive(&alice.address, last).unwrap(), b"n");
}

#[test]
fn archived_states_are_bounded() {
    let (mut alice, bob) = pair();
    for _ in 0..MAX_ARCHIVED_STATES + 5 {
        alice.start_session(&bob, None);
    }
    let record = alice.session(&bob.address).unwrap();
    assert!(record.has_current_session());
    assert_eq!(record.previous_state_count(), MAX_ARCHIVED_STATES);
}

#[test]
fn sessions_survive_a_record_round_trip_with_many_skipped_keys() {
    let (mut alice, mut bob) = pair();
    alice.start_session(&bob, Some(1));
    let sent: Vec<_> = (0..50u8).map(|i| alice.send(&bob.address, &[i])).collect();
    bob.receive(&alice.address, &sent[49]).unwrap();
    let bytes = bob.store.session_bytes(&alice.address).unwrap().to_vec();
    let record = wa_wasm::signal::SessionRecord::from_bytes(&bytes).unwrap();
    assert_eq!(record.to_bytes(), bytes);
    for (i, message) in sent.iter().enumerate().take(49) {
        assert_eq!(bob.receive(&alice.address, message).unwrap(), [i as u8]);
    }
}
