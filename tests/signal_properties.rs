//! Property tests: random interleavings of sending and receiving (with delays
//! that reorder, and drops) always decrypt; replays are rejected with a typed
//! error; corrupted messages fail without changing the store (the harness
//! asserts that on every failure) and the genuine message still decrypts.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod signal_common;

use proptest::prelude::*;
use signal_common::Party;
use wa_wasm::signal::{CiphertextMessage, ProtocolAddress, SignalError};

/// Longest delivery delay, in steps. A message's receiving chain is dropped
/// only after five newer chains arrived, which takes at least 11 steps, so
/// every delayed message is still decryptable.
const MAX_DELAY: u64 = 8;

#[derive(Debug, Clone)]
enum Step {
    /// `from_alice` sends one message, delivered after `delay` steps or dropped.
    Send {
        from_alice: bool,
        delay: u64,
        dropped: bool,
    },
    /// Nothing is sent; time passes.
    Wait,
    /// The most recently delivered message is delivered again.
    Replay,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<bool>(), 0..=MAX_DELAY, prop::bool::weighted(0.15)).prop_map(
            |(from_alice, delay, dropped)| Step::Send { from_alice, delay, dropped }
        ),
        2 => Just(Step::Wait),
        1 => Just(Step::Replay),
    ]
}

struct InFlight {
    due: u64,
    sequence: usize,
    to_bob: bool,
    message: CiphertextMessage,
    plaintext: Vec<u8>,
}

fn deliver(alice: &mut Party, bob: &mut Party, flight: &InFlight) -> Result<Vec<u8>, SignalError> {
    let (receiver, sender): (&mut Party, &ProtocolAddress) = if flight.to_bob {
        (bob, &alice.address)
    } else {
        (alice, &bob.address)
    };
    receiver.receive(sender, &flight.message)
}

fn run_pairwise(steps: &[Step], seed: u64) -> Result<(), TestCaseError> {
    let mut alice = Party::new("alice", seed);
    let mut bob = Party::new("bob", seed.wrapping_add(1));
    alice.start_session(&bob, Some(1));
    let mut network: Vec<InFlight> = Vec::new();
    let mut last_delivered: Option<InFlight> = None;
    let mut sequence = 0;
    for (now, step) in (0u64..).zip(
        steps
            .iter()
            .chain(std::iter::repeat_n(&Step::Wait, MAX_DELAY as usize + 1)),
    ) {
        match step {
            Step::Send {
                from_alice,
                delay,
                dropped,
            } => {
                let bob_can_send = bob.session(&alice.address).is_some();
                if *from_alice || bob_can_send {
                    let plaintext = format!("message {sequence}").into_bytes();
                    let message = if *from_alice {
                        alice.send(&bob.address, &plaintext)
                    } else {
                        bob.send(&alice.address, &plaintext)
                    };
                    if !dropped {
                        network.push(InFlight {
                            due: now + delay,
                            sequence,
                            to_bob: *from_alice,
                            message,
                            plaintext,
                        });
                    }
                    sequence += 1;
                }
            }
            Step::Wait => {}
            Step::Replay => {
                if let Some(flight) = &last_delivered {
                    let replayed = deliver(&mut alice, &mut bob, flight);
                    prop_assert!(
                        matches!(replayed, Err(SignalError::DuplicateMessage { .. })),
                        "replay gave {:?}",
                        replayed
                    );
                }
            }
        }
        network.sort_by_key(|flight| (flight.due, flight.sequence));
        while network.first().is_some_and(|flight| flight.due <= now) {
            let flight = network.remove(0);
            let got = deliver(&mut alice, &mut bob, &flight);
            prop_assert_eq!(
                got.as_ref(),
                Ok(&flight.plaintext),
                "message {}",
                flight.sequence
            );
            last_delivered = Some(flight);
        }
    }
    prop_assert!(network.is_empty());
    Ok(())
}

fn run_group(
    senders: &[usize],
    orders: &[Vec<usize>],
    drops: &[Vec<bool>],
    seed: u64,
) -> Result<(), TestCaseError> {
    const GROUP: &str = "120363@g.us";
    let mut members: Vec<Party> = (0..3)
        .map(|i| Party::new(&format!("member{i}"), seed.wrapping_add(i)))
        .collect();
    let addresses: Vec<ProtocolAddress> = members.iter().map(|m| m.address.clone()).collect();
    for (sender, address) in addresses.iter().enumerate() {
        let skdm = members[sender].distribution(GROUP);
        for (receiver, member) in members.iter_mut().enumerate() {
            if receiver != sender {
                member.process_distribution(GROUP, address, &skdm);
            }
        }
    }
    let sent: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(index, &sender)| {
            let plaintext = format!("group message {index}").into_bytes();
            (
                sender,
                members[sender].group_send(GROUP, &plaintext),
                plaintext,
            )
        })
        .collect();
    for (receiver, member) in members.iter_mut().enumerate() {
        let mut last = None;
        for &index in &orders[receiver] {
            let (sender, message, plaintext) = &sent[index];
            if *sender == receiver || drops[receiver][index] {
                continue;
            }
            let got = member.group_receive(GROUP, &addresses[*sender], message);
            prop_assert_eq!(got.as_ref(), Ok(plaintext));
            last = Some((*sender, message));
        }
        if let Some((sender, message)) = last {
            let replayed = member.group_receive(GROUP, &addresses[sender], message);
            prop_assert!(
                matches!(replayed, Err(SignalError::DuplicateMessage { .. })),
                "replay gave {:?}",
                replayed
            );
        }
    }
    Ok(())
}

fn group_case() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>, Vec<Vec<bool>>)> {
    prop::collection::vec(0..3usize, 1..24).prop_flat_map(|senders| {
        let count = senders.len();
        let order = Just((0..count).collect::<Vec<_>>()).prop_shuffle();
        let drop = prop::collection::vec(prop::bool::weighted(0.2), count);
        (
            Just(senders),
            [order.clone(), order.clone(), order],
            [drop.clone(), drop.clone(), drop],
        )
            .prop_map(|(senders, orders, drops)| (senders, orders.to_vec(), drops.to_vec()))
    })
}

/// Flips or truncates: `(position, xor)` with xor 0 meaning "truncate here".
fn corruption() -> impl Strategy<Value = (prop::sample::Index, u8)> {
    (any::<prop::sample::Index>(), any::<u8>())
}

fn corrupt(bytes: &[u8], (position, xor): &(prop::sample::Index, u8)) -> Vec<u8> {
    let index = position.index(bytes.len());
    let mut out = bytes.to_vec();
    if *xor == 0 {
        out.truncate(index);
    } else {
        out[index] ^= xor;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn pairwise_interleavings_always_decrypt(steps in prop::collection::vec(step(), 1..60), seed in any::<u64>()) {
        run_pairwise(&steps, seed)?;
    }

    #[test]
    fn corrupted_messages_fail_without_changes(msg_damage in corruption(), skmsg_damage in corruption(), seed in any::<u64>()) {
        let mut alice = Party::new("alice", seed);
        let mut bob = Party::new("bob", seed.wrapping_add(1));
        alice.start_session(&bob, Some(2));
        let first = alice.send(&bob.address, b"first");
        bob.receive(&alice.address, &first).unwrap();
        let reply = bob.send(&alice.address, b"reply");
        alice.receive(&bob.address, &reply).unwrap();
        let genuine = alice.send(&bob.address, b"genuine");
        prop_assert_eq!(genuine.enc_type(), "msg");

        let damaged = corrupt(genuine.serialized(), &msg_damage);
        if let Ok(message) = CiphertextMessage::parse("msg", &damaged).unwrap() {
            // `receive` asserts that a failure leaves the store unchanged.
            prop_assert!(bob.receive(&alice.address, &message).is_err());
        }
        prop_assert_eq!(bob.receive(&alice.address, &genuine).unwrap(), b"genuine");

        const GROUP: &str = "g@g.us";
        let skdm = alice.distribution(GROUP);
        bob.process_distribution(GROUP, &alice.address, &skdm);
        let group_message = alice.group_send(GROUP, b"group");
        let damaged = corrupt(group_message.serialized(), &skmsg_damage);
        if let Ok(message) = wa_wasm::signal::SenderKeyMessage::from_bytes(&damaged) {
            prop_assert!(bob.group_receive(GROUP, &alice.address, &message).is_err());
        }
        prop_assert_eq!(bob.group_receive(GROUP, &alice.address, &group_message).unwrap(), b"group");
    }
}

proptest! {
    // Fewer cases: every group message costs a signature check, slow in test builds.
    #![proptest_config(ProptestConfig::with_cases(20))]

    #[test]
    fn group_members_decrypt_any_order((senders, orders, drops) in group_case(), seed in any::<u64>()) {
        run_group(&senders, &orders, &drops, seed)?;
    }
}
