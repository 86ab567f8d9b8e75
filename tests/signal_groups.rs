//! Group messaging through the public API: distribution over pairwise
//! sessions, reordering, gaps, replays, and one commit for a stanza that
//! carries both the sender key and the group message.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod signal_common;

use signal_common::Party;
use wa_wasm::signal::group::{group_decrypt, process_distribution};
use wa_wasm::signal::session::decrypt;
use wa_wasm::signal::store::StagedStore;
use wa_wasm::signal::{SenderKeyDistributionMessage, SenderKeyName, SignalError};

const GROUP: &str = "120363000000000001@g.us";

#[test]
fn three_members_out_of_order_with_replays() {
    let mut alice = Party::new("alice", 1);
    let mut bob = Party::new("bob", 2);
    let mut carol = Party::new("carol", 3);
    let skdm = alice.distribution(GROUP);
    bob.process_distribution(GROUP, &alice.address, &skdm);
    carol.process_distribution(GROUP, &alice.address, &skdm);
    let sent: Vec<_> = (0..10u8)
        .map(|i| alice.group_send(GROUP, &[i; 7]))
        .collect();
    let bob_order = [9usize, 0, 5, 1, 2, 8, 3, 4, 7, 6];
    for index in bob_order {
        assert_eq!(
            bob.group_receive(GROUP, &alice.address, &sent[index])
                .unwrap(),
            [index as u8; 7]
        );
    }
    for (index, message) in sent.iter().enumerate() {
        assert_eq!(
            carol.group_receive(GROUP, &alice.address, message).unwrap(),
            [index as u8; 7]
        );
        assert_eq!(
            bob.group_receive(GROUP, &alice.address, message),
            Err(SignalError::DuplicateMessage {
                counter: index as u32
            })
        );
    }
    // Our own sender key does not decrypt our own messages twice either.
    let own = alice.address.clone();
    assert!(matches!(
        alice.group_receive(GROUP, &own, &sent[0]),
        Err(SignalError::DuplicateMessage { counter: 0 })
    ));
}

#[test]
fn late_joiner_gets_the_current_iteration() {
    let mut alice = Party::new("alice", 1);
    let mut bob = Party::new("bob", 2);
    let _ = alice.distribution(GROUP);
    let early: Vec<_> = (0..3u8).map(|i| alice.group_send(GROUP, &[i])).collect();
    // Bob joins after three messages: the distribution message starts at iteration 3.
    let skdm = alice.distribution(GROUP);
    assert_eq!(skdm.iteration(), 3);
    bob.process_distribution(GROUP, &alice.address, &skdm);
    assert!(matches!(
        bob.group_receive(GROUP, &alice.address, &early[0]),
        Err(SignalError::DuplicateMessage { counter: 0 })
    ));
    let next = alice.group_send(GROUP, b"welcome");
    assert_eq!(
        bob.group_receive(GROUP, &alice.address, &next).unwrap(),
        b"welcome"
    );
}

/// A stanza with a pairwise `pkmsg` carrying the sender key, then the `skmsg`:
/// both are handled against staged changes and committed once.
#[test]
fn pairwise_distribution_then_group_message_in_one_commit() {
    let mut alice = Party::new("alice", 1);
    let mut bob = Party::new("bob", 2);
    alice.start_session(&bob, Some(1));
    let skdm = alice.distribution(GROUP);
    let pairwise = alice.send(&bob.address, skdm.serialized());
    let group_message = alice.group_send(GROUP, b"hello group");

    let before = bob.store.clone();
    let mut staged = StagedStore::new(&bob.store);
    let opened = decrypt(&staged, &alice.address, &pairwise, &mut bob.rng).unwrap();
    staged.stage(opened.changes);
    let received = SenderKeyDistributionMessage::from_bytes(&opened.value).unwrap();
    let name = SenderKeyName::new(GROUP, alice.address.clone());
    let stored = process_distribution(&staged, &name, &received).unwrap();
    staged.stage(stored.changes);
    let parsed = wa_wasm::signal::SenderKeyMessage::from_bytes(group_message.serialized()).unwrap();
    let plaintext = group_decrypt(&staged, &name, &parsed).unwrap();
    assert_eq!(plaintext.value, b"hello group");
    staged.stage(plaintext.changes);
    let changes = staged.into_changes();
    assert_eq!(bob.store, before, "nothing is written before the commit");
    assert_eq!(changes.sessions.len(), 1);
    assert_eq!(changes.sender_keys.len(), 1);
    assert_eq!(changes.removed_pre_keys.len(), 1);
    bob.commit(changes);
    assert!(matches!(
        bob.group_receive(GROUP, &alice.address, &group_message),
        Err(SignalError::DuplicateMessage { counter: 0 })
    ));
}
