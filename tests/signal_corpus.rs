//! Bad-input corpus: truncated, wrong version, garbage protobuf, bad MAC, bad
//! signature, wrong key lengths and types, for every wire message and every
//! stored record type. Each input must give one specific typed error.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod signal_common;

use signal_common::Party;
use wa_wasm::signal::group::{group_decrypt, process_distribution};
use wa_wasm::signal::session::{decrypt_message, decrypt_prekey_message};
use wa_wasm::signal::{
    CiphertextMessage, IdentityKey, IdentityKeyPair, MessagePart, PreKey, PreKeySignalMessage,
    RecordKind, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyName, SenderKeyRecord,
    SessionRecord, SignalError, SignalMessage, SignedPreKey,
};

// --- A minimal protobuf writer, to build malformed messages field by field.

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[derive(Clone)]
enum Field {
    Int(u32, u64),
    Bytes(u32, Vec<u8>),
}

fn encode(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        match field {
            Field::Int(number, value) => {
                varint(u64::from(*number) << 3, &mut out);
                varint(*value, &mut out);
            }
            Field::Bytes(number, bytes) => {
                varint((u64::from(*number) << 3) | 2, &mut out);
                varint(bytes.len() as u64, &mut out);
                out.extend_from_slice(bytes);
            }
        }
    }
    out
}

fn with_version(version: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![version];
    out.extend_from_slice(body);
    out
}

fn without(fields: &[Field], number: u32) -> Vec<Field> {
    fields
        .iter()
        .filter(|field| match field {
            Field::Int(n, _) | Field::Bytes(n, _) => *n != number,
        })
        .cloned()
        .collect()
}

fn replaced(fields: &[Field], new: Field) -> Vec<Field> {
    let number = match &new {
        Field::Int(n, _) | Field::Bytes(n, _) => *n,
    };
    let mut out = without(fields, number);
    out.push(new);
    out
}

const GARBAGE: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02,
];

fn key33(first: u8) -> Vec<u8> {
    let mut key = vec![first];
    key.extend_from_slice(&[9; 32]);
    key
}

/// Checks each `(name, bytes, expected)` with `parse`.
fn check<T: std::fmt::Debug>(
    parse: impl Fn(&[u8]) -> Result<T, SignalError>,
    cases: Vec<(&str, Vec<u8>, SignalError)>,
) {
    for (name, bytes, expected) in cases {
        match parse(&bytes) {
            Err(error) => assert_eq!(error, expected, "{name}"),
            Ok(value) => panic!("{name}: parsed as {value:?}, expected {expected:?}"),
        }
    }
}

fn invalid(part: MessagePart) -> SignalError {
    SignalError::InvalidMessage(part)
}

// --- SignalMessage (`msg`).

fn signal_message_fields() -> Vec<Field> {
    vec![
        Field::Bytes(1, key33(5)),
        Field::Int(2, 3),
        Field::Int(3, 0),
        Field::Bytes(4, vec![7; 32]),
    ]
}

fn framed_signal_message(fields: &[Field]) -> Vec<u8> {
    let mut out = with_version(0x33, &encode(fields));
    out.extend_from_slice(&[0xaa; 8]);
    out
}

#[test]
fn signal_message_corpus() {
    let good = signal_message_fields();
    assert!(SignalMessage::from_bytes(&framed_signal_message(&good)).is_ok());
    let mut wrong_version = framed_signal_message(&good);
    wrong_version[0] = 0x22;
    let mut truncated = framed_signal_message(&good);
    truncated.truncate(truncated.len() - 9);
    check(
        SignalMessage::from_bytes,
        vec![
            ("empty", vec![], invalid(MessagePart::Length)),
            ("version only", vec![0x33], invalid(MessagePart::Length)),
            (
                "shorter than the MAC",
                vec![0x33; 8],
                invalid(MessagePart::Length),
            ),
            (
                "wrong version",
                wrong_version,
                SignalError::UnsupportedVersion(0x22),
            ),
            (
                "future version",
                with_version(0x43, &[0; 20]),
                SignalError::UnsupportedVersion(0x43),
            ),
            (
                "garbage protobuf",
                with_version(0x33, &[GARBAGE, &[0; 8]].concat()),
                invalid(MessagePart::Protobuf),
            ),
            (
                "truncated protobuf",
                truncated,
                invalid(MessagePart::Protobuf),
            ),
            (
                "no ratchet key",
                framed_signal_message(&without(&good, 1)),
                invalid(MessagePart::RatchetKey),
            ),
            (
                "raw 32-byte ratchet key",
                framed_signal_message(&replaced(&good, Field::Bytes(1, vec![9; 32]))),
                invalid(MessagePart::RatchetKey),
            ),
            (
                "ratchet key type byte",
                framed_signal_message(&replaced(&good, Field::Bytes(1, key33(6)))),
                invalid(MessagePart::RatchetKey),
            ),
            (
                "no counter",
                framed_signal_message(&without(&good, 2)),
                invalid(MessagePart::Counter),
            ),
            (
                "no ciphertext",
                framed_signal_message(&without(&good, 4)),
                invalid(MessagePart::Ciphertext),
            ),
            (
                "empty ciphertext",
                framed_signal_message(&replaced(&good, Field::Bytes(4, vec![]))),
                invalid(MessagePart::Ciphertext),
            ),
            (
                "partial block",
                framed_signal_message(&replaced(&good, Field::Bytes(4, vec![1; 15]))),
                invalid(MessagePart::Ciphertext),
            ),
        ],
    );
}

// --- PreKeySignalMessage (`pkmsg`).

fn prekey_fields() -> Vec<Field> {
    vec![
        Field::Int(5, 1234),
        Field::Int(1, 7),
        Field::Int(6, 1),
        Field::Bytes(2, key33(5)),
        Field::Bytes(3, key33(5)),
        Field::Bytes(4, framed_signal_message(&signal_message_fields())),
    ]
}

#[test]
fn prekey_message_corpus() {
    let good = prekey_fields();
    let framed = |fields: &[Field]| with_version(0x33, &encode(fields));
    assert!(PreKeySignalMessage::from_bytes(&framed(&good)).is_ok());
    let mut truncated = framed(&good);
    truncated.truncate(truncated.len() - 20);
    check(
        PreKeySignalMessage::from_bytes,
        vec![
            ("empty", vec![], invalid(MessagePart::Length)),
            (
                "wrong version",
                with_version(0x13, &encode(&good)),
                SignalError::UnsupportedVersion(0x13),
            ),
            (
                "garbage protobuf",
                with_version(0x33, GARBAGE),
                invalid(MessagePart::Protobuf),
            ),
            ("truncated", truncated, invalid(MessagePart::Protobuf)),
            (
                "no registration id",
                framed(&without(&good, 5)),
                invalid(MessagePart::RegistrationId),
            ),
            (
                "no signed pre-key id",
                framed(&without(&good, 6)),
                invalid(MessagePart::SignedPreKeyId),
            ),
            (
                "no base key",
                framed(&without(&good, 2)),
                invalid(MessagePart::BaseKey),
            ),
            (
                "short base key",
                framed(&replaced(&good, Field::Bytes(2, vec![5; 20]))),
                invalid(MessagePart::BaseKey),
            ),
            (
                "base key type byte",
                framed(&replaced(&good, Field::Bytes(2, key33(0)))),
                invalid(MessagePart::BaseKey),
            ),
            (
                "no identity key",
                framed(&without(&good, 3)),
                invalid(MessagePart::IdentityKey),
            ),
            (
                "long identity key",
                framed(&replaced(&good, Field::Bytes(3, vec![5; 34]))),
                invalid(MessagePart::IdentityKey),
            ),
            (
                "no inner message",
                framed(&without(&good, 4)),
                invalid(MessagePart::InnerMessage),
            ),
            (
                "inner message truncated",
                framed(&replaced(&good, Field::Bytes(4, vec![0x33, 1, 2]))),
                invalid(MessagePart::Length),
            ),
            (
                "inner message version",
                framed(&replaced(
                    &good,
                    Field::Bytes(4, with_version(0x22, &[0; 40])),
                )),
                SignalError::UnsupportedVersion(0x22),
            ),
        ],
    );
}

/// Valid framing, invalid content: errors found while decrypting.
#[test]
fn pairwise_decryption_corpus() {
    let mut alice = Party::new("alice", 1);
    let mut bob = Party::new("bob", 2);
    alice.start_session(&bob, Some(2));
    let CiphertextMessage::Pkmsg(pkmsg) = alice.send(&bob.address, b"hello") else {
        panic!("expected pkmsg")
    };
    let decrypt_pk = |bob: &mut Party, message: &PreKeySignalMessage| {
        decrypt_prekey_message(&bob.store, &alice.address, message, &mut bob.rng).map(|o| o.value)
    };

    // Inner MAC flipped.
    let inner = pkmsg.message().serialized();
    let mut bad_mac = inner.to_vec();
    *bad_mac.last_mut().unwrap() ^= 0x80;
    let fields = |inner: Vec<u8>, pre_key: u64, signed: u64| {
        let mut fields = vec![
            Field::Int(5, 99),
            Field::Int(6, signed),
            Field::Bytes(2, pkmsg.base_key().to_prefixed().to_vec()),
            Field::Bytes(3, pkmsg.identity_key().serialize().to_vec()),
            Field::Bytes(4, inner),
        ];
        fields.push(Field::Int(1, pre_key));
        PreKeySignalMessage::from_bytes(&with_version(0x33, &encode(&fields))).unwrap()
    };
    assert_eq!(
        decrypt_pk(&mut bob, &fields(bad_mac, 2, 1)),
        Err(SignalError::BadMac)
    );
    assert_eq!(
        decrypt_pk(&mut bob, &fields(inner.to_vec(), 77, 1)),
        Err(SignalError::InvalidPreKeyId(77))
    );
    assert_eq!(
        decrypt_pk(&mut bob, &fields(inner.to_vec(), 2, 9)),
        Err(SignalError::InvalidSignedPreKeyId(9))
    );
    // Another of Bob's pre-keys: X3DH disagrees, so the MAC fails.
    assert_eq!(
        decrypt_pk(&mut bob, &fields(inner.to_vec(), 3, 1)),
        Err(SignalError::BadMac)
    );
    // The genuine one still works (nothing was consumed by the failures).
    assert_eq!(decrypt_pk(&mut bob, &pkmsg).unwrap(), b"hello");

    // A msg with a flipped MAC, after the session exists.
    let got = decrypt_prekey_message(&bob.store, &alice.address, &pkmsg, &mut bob.rng).unwrap();
    bob.commit(got.changes);
    let reply = bob.send(&alice.address, b"reply");
    let mut bytes = reply.serialized().to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    let message = SignalMessage::from_bytes(&bytes).unwrap();
    assert_eq!(
        decrypt_message(&alice.store, &bob.address, &message, &mut alice.rng).map(|o| o.value),
        Err(SignalError::BadMac)
    );
}

// --- SenderKeyMessage (`skmsg`) and the distribution message.

fn framed_sender_key_message(fields: &[Field]) -> Vec<u8> {
    let mut out = with_version(0x33, &encode(fields));
    out.extend_from_slice(&[0x55; 64]);
    out
}

#[test]
fn sender_key_message_corpus() {
    let good = vec![
        Field::Int(1, 5),
        Field::Int(2, 0),
        Field::Bytes(3, vec![1; 16]),
    ];
    assert!(SenderKeyMessage::from_bytes(&framed_sender_key_message(&good)).is_ok());
    check(
        SenderKeyMessage::from_bytes,
        vec![
            ("empty", vec![], invalid(MessagePart::Length)),
            (
                "shorter than the signature",
                vec![0x33; 64],
                invalid(MessagePart::Length),
            ),
            (
                "wrong version",
                with_version(0x53, &[0; 80]),
                SignalError::UnsupportedVersion(0x53),
            ),
            (
                "garbage protobuf",
                with_version(0x33, &[GARBAGE, &[0; 64]].concat()),
                invalid(MessagePart::Protobuf),
            ),
            (
                "no key id",
                framed_sender_key_message(&without(&good, 1)),
                invalid(MessagePart::KeyId),
            ),
            (
                "no iteration",
                framed_sender_key_message(&without(&good, 2)),
                invalid(MessagePart::Iteration),
            ),
            (
                "no ciphertext",
                framed_sender_key_message(&without(&good, 3)),
                invalid(MessagePart::Ciphertext),
            ),
            (
                "partial block",
                framed_sender_key_message(&replaced(&good, Field::Bytes(3, vec![1; 17]))),
                invalid(MessagePart::Ciphertext),
            ),
        ],
    );
}

#[test]
fn distribution_message_corpus() {
    let good = vec![
        Field::Int(1, 5),
        Field::Int(2, 0),
        Field::Bytes(3, vec![3; 32]),
        Field::Bytes(4, key33(5)),
    ];
    let framed = |fields: &[Field]| with_version(0x33, &encode(fields));
    assert!(SenderKeyDistributionMessage::from_bytes(&framed(&good)).is_ok());
    check(
        SenderKeyDistributionMessage::from_bytes,
        vec![
            ("empty", vec![], invalid(MessagePart::Length)),
            (
                "wrong version",
                with_version(0x22, &encode(&good)),
                SignalError::UnsupportedVersion(0x22),
            ),
            (
                "garbage protobuf",
                with_version(0x33, GARBAGE),
                invalid(MessagePart::Protobuf),
            ),
            (
                "no key id",
                framed(&without(&good, 1)),
                invalid(MessagePart::KeyId),
            ),
            (
                "no iteration",
                framed(&without(&good, 2)),
                invalid(MessagePart::Iteration),
            ),
            (
                "no chain key",
                framed(&without(&good, 3)),
                invalid(MessagePart::ChainKey),
            ),
            (
                "short chain key",
                framed(&replaced(&good, Field::Bytes(3, vec![3; 31]))),
                invalid(MessagePart::ChainKey),
            ),
            (
                "no signing key",
                framed(&without(&good, 4)),
                invalid(MessagePart::SigningKey),
            ),
            (
                "raw signing key",
                framed(&replaced(&good, Field::Bytes(4, vec![9; 32]))),
                invalid(MessagePart::SigningKey),
            ),
            (
                "signing key type byte",
                framed(&replaced(&good, Field::Bytes(4, key33(7)))),
                invalid(MessagePart::SigningKey),
            ),
        ],
    );
}

#[test]
fn group_decryption_corpus() {
    const GROUP: &str = "g@g.us";
    let mut alice = Party::new("alice", 1);
    let mut bob = Party::new("bob", 2);
    let skdm = alice.distribution(GROUP);
    bob.process_distribution(GROUP, &alice.address, &skdm);
    let sent = alice.group_send(GROUP, b"group");
    let name = SenderKeyName::new(GROUP, alice.address.clone());
    let decrypt = |bytes: &[u8]| {
        let message = SenderKeyMessage::from_bytes(bytes).unwrap();
        group_decrypt(&bob.store, &name, &message).map(|o| o.value)
    };
    let mut bad_signature = sent.serialized().to_vec();
    let inside_signature = bad_signature.len() - 40;
    bad_signature[inside_signature] ^= 1;
    assert_eq!(decrypt(&bad_signature), Err(SignalError::BadSignature));
    let mut sign_bit = sent.serialized().to_vec();
    *sign_bit.last_mut().unwrap() ^= 0x80;
    assert_eq!(decrypt(&sign_bit), Err(SignalError::BadSignature));
    // A key id Bob never received.
    let unknown = framed_sender_key_message(&[
        Field::Int(1, u64::from(skdm.key_id()) + 1),
        Field::Int(2, 0),
        Field::Bytes(3, vec![0; 16]),
    ]);
    assert_eq!(
        decrypt(&unknown),
        Err(SignalError::NoSenderKeyState(Some(skdm.key_id() + 1)))
    );
    // No record at all for this sender.
    let stranger = SenderKeyName::new(GROUP, bob.address.clone());
    let message = SenderKeyMessage::from_bytes(sent.serialized()).unwrap();
    assert_eq!(
        group_decrypt(&bob.store, &stranger, &message).map(|o| o.value),
        Err(SignalError::NoSenderKeyState(Some(skdm.key_id())))
    );
    assert_eq!(decrypt(sent.serialized()).unwrap(), b"group");
    // A distribution message is accepted whatever its key material: it is
    // authenticated by the pairwise session that carried it.
    let other = SenderKeyDistributionMessage::from_bytes(&with_version(
        0x33,
        &encode(&[
            Field::Int(1, 1),
            Field::Int(2, 0),
            Field::Bytes(3, vec![0; 32]),
            Field::Bytes(4, key33(5)),
        ]),
    ))
    .unwrap();
    assert!(process_distribution(&bob.store, &name, &other).is_ok());
}

// --- Stored records.

fn record(version: u8, fields: &[Field]) -> Vec<u8> {
    with_version(version, &encode(fields))
}

fn record_error(kind: RecordKind, reason: &'static str) -> SignalError {
    SignalError::InvalidRecord { kind, reason }
}

/// The framing cases every record type shares.
fn framing_cases(kind: RecordKind) -> Vec<(&'static str, Vec<u8>, SignalError)> {
    vec![
        ("empty", vec![], record_error(kind, "empty")),
        (
            "future version",
            record(2, &[]),
            SignalError::UnsupportedRecordVersion { kind, version: 2 },
        ),
        (
            "version zero",
            record(0, &[]),
            SignalError::UnsupportedRecordVersion { kind, version: 0 },
        ),
        (
            "garbage protobuf",
            with_version(1, GARBAGE),
            record_error(kind, "protobuf"),
        ),
    ]
}

fn key_pair_fields(seed: u8) -> (Vec<u8>, Vec<u8>) {
    let pair =
        wa_wasm::crypto::KeyPair::from_private(wa_wasm::crypto::PrivateKey::from_bytes([seed; 32]));
    (
        pair.public.to_prefixed().to_vec(),
        pair.private.as_bytes().to_vec(),
    )
}

#[test]
fn key_record_corpus() {
    let (public, private) = key_pair_fields(3);
    let (other_public, _) = key_pair_fields(4);

    let kind = RecordKind::IdentityKeyPair;
    let good = vec![
        Field::Bytes(1, public.clone()),
        Field::Bytes(2, private.clone()),
    ];
    assert!(IdentityKeyPair::from_bytes(&record(1, &good)).is_ok());
    let mut cases = framing_cases(kind);
    cases.extend([
        (
            "no public key",
            record(1, &without(&good, 1)),
            record_error(kind, "public key"),
        ),
        (
            "short private key",
            record(1, &replaced(&good, Field::Bytes(2, vec![1; 31]))),
            record_error(kind, "private key"),
        ),
        (
            "mismatched pair",
            record(1, &replaced(&good, Field::Bytes(1, other_public.clone()))),
            record_error(kind, "public key does not match private key"),
        ),
    ]);
    check(IdentityKeyPair::from_bytes, cases);

    let kind = RecordKind::PreKey;
    let good = vec![
        Field::Int(1, 5),
        Field::Bytes(2, public.clone()),
        Field::Bytes(3, private.clone()),
    ];
    assert!(PreKey::from_bytes(&record(1, &good)).is_ok());
    let mut cases = framing_cases(kind);
    cases.extend([
        (
            "no id",
            record(1, &without(&good, 1)),
            record_error(kind, "id"),
        ),
        (
            "raw public key",
            record(1, &replaced(&good, Field::Bytes(2, public[1..].to_vec()))),
            record_error(kind, "public key"),
        ),
        (
            "no private key",
            record(1, &without(&good, 3)),
            record_error(kind, "private key"),
        ),
        (
            "mismatched pair",
            record(1, &replaced(&good, Field::Bytes(2, other_public.clone()))),
            record_error(kind, "public key does not match private key"),
        ),
    ]);
    check(PreKey::from_bytes, cases);

    let kind = RecordKind::SignedPreKey;
    let good = vec![
        Field::Int(1, 5),
        Field::Bytes(2, public.clone()),
        Field::Bytes(3, private.clone()),
        Field::Bytes(4, vec![0; 64]),
        Field::Int(5, 1_700_000_000),
    ];
    assert!(SignedPreKey::from_bytes(&record(1, &good)).is_ok());
    let mut cases = framing_cases(kind);
    cases.extend([
        (
            "no signature",
            record(1, &without(&good, 4)),
            record_error(kind, "signature"),
        ),
        (
            "short signature",
            record(1, &replaced(&good, Field::Bytes(4, vec![0; 63]))),
            record_error(kind, "signature"),
        ),
        (
            "public key type byte",
            record(1, &replaced(&good, Field::Bytes(2, key33(6)))),
            record_error(kind, "public key"),
        ),
    ]);
    check(SignedPreKey::from_bytes, cases);

    let kind = RecordKind::IdentityKey;
    check(
        IdentityKey::deserialize,
        vec![
            (
                "empty",
                vec![],
                record_error(kind, "not a 33-byte public key"),
            ),
            (
                "raw key",
                vec![9; 32],
                record_error(kind, "not a 33-byte public key"),
            ),
            (
                "type byte",
                key33(8),
                record_error(kind, "not a 33-byte public key"),
            ),
        ],
    );
}

#[test]
fn session_record_corpus() {
    let kind = RecordKind::Session;
    let (public, private) = key_pair_fields(3);
    let chain = |index: u64| encode(&[Field::Bytes(1, vec![2; 32]), Field::Int(2, index)]);
    let state = vec![
        Field::Bytes(1, key33(5)),
        Field::Int(2, 42),
        Field::Bytes(3, vec![1; 32]),
        Field::Bytes(4, key33(5)),
        Field::Int(5, 1),
        Field::Int(6, 0),
        Field::Bytes(7, public),
        Field::Bytes(8, private),
        Field::Bytes(9, chain(0)),
        Field::Bytes(
            10,
            encode(&[Field::Bytes(1, key33(5)), Field::Bytes(2, chain(3))]),
        ),
    ];
    let session = |state: &[Field]| record(1, &[Field::Bytes(1, encode(state))]);
    assert!(
        SessionRecord::from_bytes(&session(&state))
            .unwrap()
            .has_current_session()
    );
    assert!(
        !SessionRecord::from_bytes(&record(1, &[]))
            .unwrap()
            .has_current_session()
    );
    let mut cases = framing_cases(kind);
    cases.extend([
        (
            "no remote identity",
            session(&without(&state, 1)),
            record_error(kind, "remote identity"),
        ),
        (
            "no registration id",
            session(&without(&state, 2)),
            record_error(kind, "remote registration id"),
        ),
        (
            "short root key",
            session(&replaced(&state, Field::Bytes(3, vec![1; 16]))),
            record_error(kind, "root key"),
        ),
        (
            "base key type",
            session(&replaced(&state, Field::Bytes(4, key33(1)))),
            record_error(kind, "base key"),
        ),
        (
            "no ratchet private key",
            session(&without(&state, 8)),
            record_error(kind, "sender ratchet key"),
        ),
        (
            "no sender chain",
            session(&without(&state, 9)),
            record_error(kind, "chain key"),
        ),
        (
            "chain without index",
            session(&replaced(
                &state,
                Field::Bytes(9, encode(&[Field::Bytes(1, vec![2; 32])])),
            )),
            record_error(kind, "chain index"),
        ),
        (
            "receiver chain key",
            session(&replaced(
                &state,
                Field::Bytes(
                    10,
                    encode(&[Field::Bytes(1, vec![5; 10]), Field::Bytes(2, chain(0))]),
                ),
            )),
            record_error(kind, "receiver ratchet key"),
        ),
        (
            "skipped key seed",
            session(&replaced(
                &state,
                Field::Bytes(
                    10,
                    encode(&[
                        Field::Bytes(1, key33(5)),
                        Field::Bytes(2, chain(3)),
                        Field::Bytes(3, encode(&[Field::Int(1, 1), Field::Bytes(2, vec![0; 8])])),
                    ]),
                ),
            )),
            record_error(kind, "skipped key"),
        ),
        (
            "pending pre-key without signed id",
            session(
                &[
                    state.clone(),
                    vec![Field::Bytes(11, encode(&[Field::Bytes(3, key33(5))]))],
                ]
                .concat(),
            ),
            record_error(kind, "pending signed pre-key id"),
        ),
        (
            "broken archived state",
            record(1, &[Field::Bytes(2, encode(&without(&state, 3)))]),
            record_error(kind, "root key"),
        ),
    ]);
    check(SessionRecord::from_bytes, cases);
}

#[test]
fn sender_key_record_corpus() {
    let kind = RecordKind::SenderKey;
    let state = vec![
        Field::Int(1, 7),
        Field::Bytes(2, encode(&[Field::Bytes(1, vec![2; 32]), Field::Int(2, 0)])),
        Field::Bytes(3, key33(5)),
    ];
    let sender_key = |state: &[Field]| record(1, &[Field::Bytes(1, encode(state))]);
    assert_eq!(
        SenderKeyRecord::from_bytes(&sender_key(&state))
            .unwrap()
            .key_ids(),
        [7]
    );
    let mut cases = framing_cases(kind);
    cases.extend([
        (
            "no key id",
            sender_key(&without(&state, 1)),
            record_error(kind, "key id"),
        ),
        (
            "no chain key",
            sender_key(&without(&state, 2)),
            record_error(kind, "chain key"),
        ),
        (
            "signing key type",
            sender_key(&replaced(&state, Field::Bytes(3, key33(2)))),
            record_error(kind, "signing key"),
        ),
        (
            "short signing private key",
            sender_key(&[state.clone(), vec![Field::Bytes(4, vec![1; 5])]].concat()),
            record_error(kind, "signing private key"),
        ),
    ]);
    check(SenderKeyRecord::from_bytes, cases);
}
