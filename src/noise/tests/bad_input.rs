//! Bad input of every kind, each answered by one specific typed error.

use prost::Message;

use super::pb;
use super::*;
use crate::crypto::PublicKey;
use crate::proto::wa::CertChain;
use crate::proto::wa::cert_chain::noise_certificate::Details;

use HandshakeField::{Ephemeral, Payload, Static};
use HandshakeStep::{ClientFinish, ClientHello, ServerHello};

// ------------------------------------------------------------------ helpers

/// A ServerHello protobuf with the given fields (each `None` = absent).
fn server_hello(e: Option<&[u8]>, s: Option<&[u8]>, p: Option<&[u8]>) -> Vec<u8> {
    let mut inner = Vec::new();
    for (number, value) in [(1, e), (2, s), (3, p)] {
        if let Some(value) = value {
            inner.extend(pb::field(number, value));
        }
    }
    pb::field(3, &inner)
}

/// The three fields of the fixture's genuine ServerHello, plus the client state.
fn genuine_server_hello(fx: &Fixture) -> (ClientHandshake, [Vec<u8>; 3]) {
    let (client, first) = fx.client_start();
    let (_, reply) = fx.server_reply(&single_frame(&first[4..]));
    let hello = pb::only(&single_frame(&reply), 3);
    let fields = [pb::get(&hello, 1), pb::get(&hello, 2), pb::get(&hello, 3)];
    (client, fields)
}

fn client_reads(fx: &Fixture, hello: &[u8]) -> NoiseError {
    let (client, _) = fx.client_start();
    client.read_server_hello(hello).unwrap_err()
}

fn flip(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 1;
    out
}

/// Server state after the genuine ClientHello, and the genuine ClientFinish fields.
fn genuine_client_finish(fx: &Fixture) -> (ServerAwaitingFinish, [Vec<u8>; 2]) {
    let (client, first) = fx.client_start();
    let (server, reply) = fx.server_reply(&single_frame(&first[4..]));
    let finished = client
        .read_server_hello(&single_frame(&reply))
        .unwrap()
        .verify(&fx.verifier(), NOW)
        .unwrap()
        .finish(b"payload")
        .unwrap();
    let finish = pb::only(&single_frame(&finished.frame), 4);
    (server, [pb::get(&finish, 1), pb::get(&finish, 2)])
}

fn client_finish(s: Option<&[u8]>, p: Option<&[u8]>) -> Vec<u8> {
    let mut inner = Vec::new();
    for (number, value) in [(1, s), (2, p)] {
        if let Some(value) = value {
            inner.extend(pb::field(number, value));
        }
    }
    pb::field(4, &inner)
}

fn server_reads_finish(fx: &Fixture, finish: &[u8]) -> NoiseError {
    let (server, _) = genuine_client_finish(fx);
    server.read_client_finish(finish).unwrap_err()
}

fn server_reads_hello(fx: &Fixture, hello: &[u8]) -> NoiseError {
    fx.server()
        .read_client_hello_with_ephemeral(hello, fx.server_ephemeral.clone())
        .unwrap_err()
}

// ------------------------------------------------------------------ frames

#[test]
fn truncated_handshake_frame_is_reported_by_the_decoder() {
    let fx = Fixture::new();
    let (_, first) = fx.client_start();
    let mut decoder = FrameDecoder::expecting_intro();
    decoder.push(&first[..first.len() - 1]).unwrap();
    assert_eq!(decoder.next_frame(), None);
    assert_eq!(
        decoder.finish(),
        Err(FrameError::Truncated {
            expected: 36,
            received: 35
        })
    );
}

#[test]
fn client_hello_with_wrong_intro_header() {
    let fx = Fixture::new();
    let (_, mut first) = fx.client_start();
    first[3] = 2; // dictionary version 2
    let mut decoder = FrameDecoder::expecting_intro();
    assert_eq!(
        decoder.push(&first),
        Err(FrameError::WrongIntroHeader(*b"WA\x06\x02"))
    );
    // A ClientHello sent without any intro header.
    let mut decoder = FrameDecoder::expecting_intro();
    assert_eq!(
        decoder.push(&first[4..]),
        Err(FrameError::WrongIntroHeader([0x00, 0x00, 0x24, 0x12]))
    );
}

#[test]
fn oversized_length_prefix() {
    let mut decoder = FrameDecoder::new().with_max_frame_size(1024);
    assert_eq!(
        decoder.push(&[0xff, 0xff, 0xff]),
        Err(FrameError::FrameTooLarge {
            len: 0xff_ffff,
            max: 1024
        })
    );
}

// ------------------------------------------------------------------ ServerHello

#[test]
fn server_hello_malformed_or_missing() {
    let fx = Fixture::new();
    assert!(matches!(
        client_reads(&fx, &[0x1a, 0x05, 0x0a]),
        NoiseError::MalformedMessage {
            step: ServerHello,
            ..
        }
    ));
    assert!(matches!(
        client_reads(&fx, &[0xff; 4]),
        NoiseError::MalformedMessage {
            step: ServerHello,
            ..
        }
    ));
    assert_eq!(
        client_reads(&fx, &[]),
        NoiseError::MissingMessage(ServerHello)
    );
    // A ClientHello where the ServerHello belongs.
    let (_, first) = fx.client_start();
    assert_eq!(
        client_reads(&fx, &single_frame(&first[4..])),
        NoiseError::MissingMessage(ServerHello)
    );
}

#[test]
fn server_hello_missing_fields() {
    let fx = Fixture::new();
    let (_, [e, s, p]) = genuine_server_hello(&fx);
    for (hello, field) in [
        (server_hello(None, Some(&s), Some(&p)), Ephemeral),
        (server_hello(Some(&e), None, Some(&p)), Static),
        (server_hello(Some(&e), Some(&s), None), Payload),
    ] {
        assert_eq!(
            client_reads(&fx, &hello),
            NoiseError::MissingField {
                step: ServerHello,
                field
            }
        );
    }
}

#[test]
fn server_hello_wrong_lengths() {
    let fx = Fixture::new();
    let (_, [e, s, p]) = genuine_server_hello(&fx);
    for (len, field, expected) in [
        (31, Ephemeral, 32),
        (33, Ephemeral, 32),
        (0, Ephemeral, 32),
        (47, Static, 48),
        (49, Static, 48),
    ] {
        let (e, s) = match field {
            Ephemeral => (vec![9; len], s.clone()),
            _ => (e.clone(), vec![9; len]),
        };
        assert_eq!(
            client_reads(&fx, &server_hello(Some(&e), Some(&s), Some(&p))),
            NoiseError::FieldLength {
                step: ServerHello,
                field,
                expected,
                found: len
            }
        );
    }
    assert_eq!(
        client_reads(&fx, &server_hello(Some(&e), Some(&s), Some(&p[..15]))),
        NoiseError::FieldTooShort {
            step: ServerHello,
            field: Payload,
            found: 15
        }
    );
}

#[test]
fn server_hello_bad_tags() {
    let fx = Fixture::new();
    let (client, [e, s, p]) = genuine_server_hello(&fx);
    // The genuine message is accepted by the same state.
    assert!(
        client
            .read_server_hello(&server_hello(Some(&e), Some(&s), Some(&p)))
            .is_ok()
    );
    for index in [0, 31, 32, 47] {
        assert_eq!(
            client_reads(
                &fx,
                &server_hello(Some(&e), Some(&flip(&s, index)), Some(&p))
            ),
            NoiseError::HandshakeDecrypt {
                step: ServerHello,
                field: Static
            }
        );
    }
    for index in [0, p.len() - 1] {
        assert_eq!(
            client_reads(
                &fx,
                &server_hello(Some(&e), Some(&s), Some(&flip(&p, index)))
            ),
            NoiseError::HandshakeDecrypt {
                step: ServerHello,
                field: Payload
            }
        );
    }
    // Another ephemeral changes every key: the static no longer decrypts.
    assert_eq!(
        client_reads(&fx, &server_hello(Some(&flip(&e, 0)), Some(&s), Some(&p))),
        NoiseError::HandshakeDecrypt {
            step: ServerHello,
            field: Static
        }
    );
}

#[test]
fn server_hello_low_order_keys() {
    let fx = Fixture::new();
    let (_, [_, s, p]) = genuine_server_hello(&fx);
    assert_eq!(
        client_reads(&fx, &server_hello(Some(&[0; 32]), Some(&s), Some(&p))),
        NoiseError::LowOrderKey {
            step: ServerHello,
            field: Ephemeral
        }
    );
    // A server whose (encrypted) static key is the zero point.
    let bad_static = KeyPair {
        private: fx.server_static.private.clone(),
        public: PublicKey::from_bytes([0; 32]),
    };
    let (client, first) = fx.client_start();
    let (_, reply) = ServerHandshake::new(bad_static, fx.chain.clone())
        .read_client_hello_with_ephemeral(&single_frame(&first[4..]), fx.server_ephemeral.clone())
        .unwrap();
    assert_eq!(
        client.read_server_hello(&single_frame(&reply)).unwrap_err(),
        NoiseError::LowOrderKey {
            step: ServerHello,
            field: Static
        }
    );
}

// ------------------------------------------------------------------ ClientHello

#[test]
fn client_hello_bad_inputs() {
    let fx = Fixture::new();
    assert!(matches!(
        server_reads_hello(&fx, &[0x12, 0x22, 0x0a]),
        NoiseError::MalformedMessage {
            step: ClientHello,
            ..
        }
    ));
    assert_eq!(
        server_reads_hello(&fx, &[]),
        NoiseError::MissingMessage(ClientHello)
    );
    assert_eq!(
        server_reads_hello(&fx, &pb::field(2, &[])),
        NoiseError::MissingField {
            step: ClientHello,
            field: Ephemeral
        }
    );
    assert_eq!(
        server_reads_hello(&fx, &pb::field(2, &pb::field(1, &[7; 33]))),
        NoiseError::FieldLength {
            step: ClientHello,
            field: Ephemeral,
            expected: 32,
            found: 33
        }
    );
    assert_eq!(
        server_reads_hello(&fx, &pb::field(2, &pb::field(1, &[0; 32]))),
        NoiseError::LowOrderKey {
            step: ClientHello,
            field: Ephemeral
        }
    );
    // The order-8 point with u = 1 is rejected too.
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(
        server_reads_hello(&fx, &pb::field(2, &pb::field(1, &one))),
        NoiseError::LowOrderKey {
            step: ClientHello,
            field: Ephemeral
        }
    );
}

// ------------------------------------------------------------------ ClientFinish

#[test]
fn client_finish_malformed_missing_and_lengths() {
    let fx = Fixture::new();
    let (_, [s, p]) = genuine_client_finish(&fx);
    assert!(matches!(
        server_reads_finish(&fx, &[0x22, 0x10]),
        NoiseError::MalformedMessage {
            step: ClientFinish,
            ..
        }
    ));
    assert_eq!(
        server_reads_finish(&fx, &server_hello(None, None, None)),
        NoiseError::MissingMessage(ClientFinish)
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(None, Some(&p))),
        NoiseError::MissingField {
            step: ClientFinish,
            field: Static
        }
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&s), None)),
        NoiseError::MissingField {
            step: ClientFinish,
            field: Payload
        }
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&s[..32]), Some(&p))),
        NoiseError::FieldLength {
            step: ClientFinish,
            field: Static,
            expected: 48,
            found: 32
        }
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&s), Some(&p[..3]))),
        NoiseError::FieldTooShort {
            step: ClientFinish,
            field: Payload,
            found: 3
        }
    );
}

#[test]
fn client_finish_bad_tags() {
    let fx = Fixture::new();
    let (server, [s, p]) = genuine_client_finish(&fx);
    assert!(
        server
            .read_client_finish(&client_finish(Some(&s), Some(&p)))
            .is_ok()
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&flip(&s, 47)), Some(&p))),
        NoiseError::HandshakeDecrypt {
            step: ClientFinish,
            field: Static
        }
    );
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&s), Some(&flip(&p, 2)))),
        NoiseError::HandshakeDecrypt {
            step: ClientFinish,
            field: Payload
        }
    );
    // Fields swapped: the 48-byte check passes only for the static.
    let mut p48 = p.clone();
    p48.resize(48, 0);
    assert_eq!(
        server_reads_finish(&fx, &client_finish(Some(&p48), Some(&s))),
        NoiseError::HandshakeDecrypt {
            step: ClientFinish,
            field: Static
        }
    );
}

#[test]
fn client_finish_from_another_session_is_rejected() {
    let fx = Fixture::new();
    let (_, [s, p]) = genuine_client_finish(&fx);
    // Same client keys, different server ephemeral: different keys.
    let (client, first) = fx.client_start();
    let (server, _) = fx
        .server()
        .read_client_hello_with_ephemeral(&single_frame(&first[4..]), key(0x77))
        .unwrap();
    drop(client);
    assert_eq!(
        server
            .read_client_finish(&client_finish(Some(&s), Some(&p)))
            .unwrap_err(),
        NoiseError::HandshakeDecrypt {
            step: ClientFinish,
            field: Static
        }
    );
}

#[test]
fn client_finish_with_low_order_static() {
    let fx = Fixture::new();
    let bad_noise_key = KeyPair {
        private: fx.client_static.private.clone(),
        public: PublicKey::from_bytes([0; 32]),
    };
    let (client, first) =
        ClientHandshake::start_with_ephemeral(&bad_noise_key, fx.client_ephemeral.clone(), None)
            .unwrap();
    let (server, reply) = fx.server_reply(&single_frame(&first[4..]));
    let finished = client
        .read_server_hello(&single_frame(&reply))
        .unwrap()
        .verify(&fx.verifier(), NOW)
        .unwrap()
        .finish(b"")
        .unwrap();
    assert_eq!(
        server
            .read_client_finish(&single_frame(&finished.frame))
            .unwrap_err(),
        NoiseError::LowOrderKey {
            step: ClientFinish,
            field: Static
        }
    );
}

// ------------------------------------------------------------------ certificates

struct ChainParts {
    chain: CertChain,
}

impl ChainParts {
    fn of(bytes: &[u8]) -> Self {
        Self {
            chain: CertChain::decode(bytes).unwrap(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.chain.encode_to_vec()
    }
}

fn verify_fixture(chain: &[u8]) -> Result<VerifiedServer, CertError> {
    let fx = Fixture::new();
    fx.verifier().verify(chain, &fx.server_static.public, NOW)
}

fn builder(fx: &Fixture) -> CertChainBuilder<'_> {
    CertChainBuilder::new(&fx.root.private, &fx.intermediate, fx.server_static.public)
        .intermediate_serial(7)
}

#[test]
fn wa_root_key_is_pinned_by_default() {
    assert_eq!(
        hex::encode(CertVerifier::default().root().as_bytes()),
        "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
    );
    assert_eq!(CertVerifier::default().root(), &WA_ROOT_PUBLIC_KEY);
}

#[test]
fn fixture_chain_verifies_and_reports_its_details() {
    let fx = Fixture::new();
    let verified = verify_fixture(&fx.chain).unwrap();
    assert_eq!(
        verified.intermediate(),
        &CertDetails {
            serial: 7,
            issuer_serial: 0,
            key: fx.intermediate.public,
            not_before: NOW - 1000,
            not_after: NOW + 1000,
        }
    );
    assert_eq!(verified.leaf().issuer_serial, 7);
    assert_eq!(verified.leaf().serial, 8);
}

#[test]
fn chain_against_the_real_root_or_another_root() {
    let fx = Fixture::new();
    assert_eq!(
        CertVerifier::default().verify(&fx.chain, &fx.server_static.public, NOW),
        Err(CertError::IntermediateNotSignedByRoot)
    );
    assert_eq!(
        CertVerifier::new(key(0x99).public).verify(&fx.chain, &fx.server_static.public, NOW),
        Err(CertError::IntermediateNotSignedByRoot)
    );
}

#[test]
fn chain_not_protobuf() {
    assert!(matches!(
        verify_fixture(&[0x0a, 0x05, 0x01]),
        Err(CertError::MalformedChain(_))
    ));
}

#[test]
fn chain_missing_parts() {
    let fx = Fixture::new();
    type Edit = fn(&mut CertChain);
    let cases: [(Edit, CertError); 6] = [
        (
            |c| c.intermediate = None,
            CertError::MissingDetails(CertRole::Intermediate),
        ),
        (|c| c.leaf = None, CertError::MissingDetails(CertRole::Leaf)),
        (
            |c| c.intermediate.as_mut().unwrap().details = None,
            CertError::MissingDetails(CertRole::Intermediate),
        ),
        (
            |c| c.intermediate.as_mut().unwrap().signature = None,
            CertError::MissingSignature(CertRole::Intermediate),
        ),
        (
            |c| c.leaf.as_mut().unwrap().details = None,
            CertError::MissingDetails(CertRole::Leaf),
        ),
        (
            |c| c.leaf.as_mut().unwrap().signature = None,
            CertError::MissingSignature(CertRole::Leaf),
        ),
    ];
    for (edit, expected) in cases {
        let mut parts = ChainParts::of(&fx.chain);
        edit(&mut parts.chain);
        assert_eq!(verify_fixture(&parts.bytes()), Err(expected));
    }
}

#[test]
fn chain_signature_lengths() {
    let fx = Fixture::new();
    for len in [0, 63, 65] {
        let mut parts = ChainParts::of(&fx.chain);
        parts.chain.intermediate.as_mut().unwrap().signature = Some(vec![1; len]);
        assert_eq!(
            verify_fixture(&parts.bytes()),
            Err(CertError::SignatureLength {
                cert: CertRole::Intermediate,
                found: len
            })
        );
        let mut parts = ChainParts::of(&fx.chain);
        parts.chain.leaf.as_mut().unwrap().signature = Some(vec![1; len]);
        assert_eq!(
            verify_fixture(&parts.bytes()),
            Err(CertError::SignatureLength {
                cert: CertRole::Leaf,
                found: len
            })
        );
    }
}

#[test]
fn chain_bad_signatures() {
    let fx = Fixture::new();
    let mut parts = ChainParts::of(&fx.chain);
    let sig = parts
        .chain
        .intermediate
        .as_mut()
        .unwrap()
        .signature
        .as_mut()
        .unwrap();
    sig[5] ^= 0x10;
    assert_eq!(
        verify_fixture(&parts.bytes()),
        Err(CertError::IntermediateNotSignedByRoot)
    );

    let mut parts = ChainParts::of(&fx.chain);
    let sig = parts
        .chain
        .leaf
        .as_mut()
        .unwrap()
        .signature
        .as_mut()
        .unwrap();
    sig[40] ^= 0x01;
    assert_eq!(
        verify_fixture(&parts.bytes()),
        Err(CertError::LeafNotSignedByIntermediate)
    );

    // Signed details edited after signing.
    let mut parts = ChainParts::of(&fx.chain);
    let details = parts.chain.leaf.as_mut().unwrap().details.as_mut().unwrap();
    *details.last_mut().unwrap() ^= 1;
    assert_eq!(
        verify_fixture(&parts.bytes()),
        Err(CertError::LeafNotSignedByIntermediate)
    );

    // A leaf signed by a key other than the intermediate's.
    let impostor = key(0x67);
    let other = CertChainBuilder::new(&fx.root.private, &impostor, fx.server_static.public)
        .intermediate_serial(7)
        .build(&mut CountingRng(1));
    let mut parts = ChainParts::of(&fx.chain);
    parts.chain.leaf = ChainParts::of(&other).chain.leaf;
    assert_eq!(
        verify_fixture(&parts.bytes()),
        Err(CertError::LeafNotSignedByIntermediate)
    );
}

/// Replaces a certificate's details with `details`, correctly signed by `signer`.
fn resign(chain: &[u8], role: CertRole, details: Vec<u8>, signer: &KeyPair) -> Vec<u8> {
    let mut parts = ChainParts::of(chain);
    let signature = signer.private.sign(&details, &mut CountingRng(9)).to_vec();
    let cert = match role {
        CertRole::Intermediate => parts.chain.intermediate.as_mut().unwrap(),
        CertRole::Leaf => parts.chain.leaf.as_mut().unwrap(),
    };
    cert.details = Some(details);
    cert.signature = Some(signature);
    parts.bytes()
}

#[test]
fn chain_malformed_details() {
    let fx = Fixture::new();
    let chain = resign(
        &fx.chain,
        CertRole::Intermediate,
        vec![0x0a, 0x09],
        &fx.root,
    );
    assert!(matches!(
        verify_fixture(&chain),
        Err(CertError::MalformedDetails {
            cert: CertRole::Intermediate,
            ..
        })
    ));
    let chain = resign(&fx.chain, CertRole::Leaf, vec![0xff], &fx.intermediate);
    assert!(matches!(
        verify_fixture(&chain),
        Err(CertError::MalformedDetails {
            cert: CertRole::Leaf,
            ..
        })
    ));
}

#[test]
fn chain_intermediate_key_length() {
    let fx = Fixture::new();
    let details = Details {
        serial: Some(7),
        issuer_serial: Some(0),
        key: Some(vec![3; 31]),
        not_before: Some(0),
        not_after: Some(u64::MAX),
    }
    .encode_to_vec();
    let chain = resign(&fx.chain, CertRole::Intermediate, details, &fx.root);
    assert_eq!(
        verify_fixture(&chain),
        Err(CertError::IntermediateKeyLength(31))
    );
}

#[test]
fn chain_issuer_serials() {
    let fx = Fixture::new();
    let chain = builder(&fx)
        .intermediate_issuer_serial(5)
        .build(&mut CountingRng(0));
    assert_eq!(
        verify_fixture(&chain),
        Err(CertError::IntermediateIssuerSerial(5))
    );
    let chain = builder(&fx)
        .leaf_issuer_serial(9)
        .build(&mut CountingRng(0));
    assert_eq!(
        verify_fixture(&chain),
        Err(CertError::LeafIssuerSerial {
            expected: 7,
            found: 9
        })
    );
}

#[test]
fn chain_leaf_key_must_be_the_server_static() {
    let fx = Fixture::new();
    let chain = CertChainBuilder::new(&fx.root.private, &fx.intermediate, key(0x34).public)
        .build(&mut CountingRng(0));
    assert_eq!(verify_fixture(&chain), Err(CertError::LeafKeyMismatch));
    // Through the handshake: a server presenting a chain for another key.
    let (client, first) = fx.client_start();
    let (_, reply) = ServerHandshake::new(fx.server_static.clone(), chain)
        .read_client_hello_with_ephemeral(&single_frame(&first[4..]), fx.server_ephemeral.clone())
        .unwrap();
    let hello = client.read_server_hello(&single_frame(&reply)).unwrap();
    assert_eq!(
        hello.verify(&fx.verifier(), NOW).unwrap_err(),
        NoiseError::Cert(CertError::LeafKeyMismatch)
    );
}

#[test]
fn chain_validity_windows() {
    let fx = Fixture::new();
    let at = |now: u64| {
        fx.verifier()
            .verify(&fx.chain, &fx.server_static.public, now)
    };
    // Fixture: intermediate [NOW-1000, NOW+1000], leaf [NOW-100, NOW+100], inclusive.
    assert!(at(NOW - 100).is_ok());
    assert!(at(NOW + 100).is_ok());
    assert_eq!(
        at(NOW - 101),
        Err(CertError::NotYetValid {
            cert: CertRole::Leaf,
            not_before: NOW - 100,
            now: NOW - 101
        })
    );
    assert_eq!(
        at(NOW + 101),
        Err(CertError::Expired {
            cert: CertRole::Leaf,
            not_after: NOW + 100,
            now: NOW + 101
        })
    );
    assert_eq!(
        at(NOW - 1001),
        Err(CertError::NotYetValid {
            cert: CertRole::Intermediate,
            not_before: NOW - 1000,
            now: NOW - 1001
        })
    );
    assert_eq!(
        at(NOW + 1001),
        Err(CertError::Expired {
            cert: CertRole::Intermediate,
            not_after: NOW + 1000,
            now: NOW + 1001
        })
    );
    // An intermediate that expired while its leaf is still valid.
    let chain = builder(&fx)
        .intermediate_validity(0, NOW - 1)
        .build(&mut CountingRng(0));
    assert_eq!(
        verify_fixture(&chain),
        Err(CertError::Expired {
            cert: CertRole::Intermediate,
            not_after: NOW - 1,
            now: NOW
        })
    );
}

#[test]
fn failed_verification_through_the_handshake() {
    let fx = Fixture::new();
    let (client, first) = fx.client_start();
    let (_, reply) = fx.server_reply(&single_frame(&first[4..]));
    let hello = client.read_server_hello(&single_frame(&reply)).unwrap();
    assert_eq!(
        hello.verify(&CertVerifier::default(), NOW).unwrap_err(),
        NoiseError::Cert(CertError::IntermediateNotSignedByRoot)
    );
}

// ------------------------------------------------------------------ transport

fn transports() -> (NoiseTransport, NoiseTransport) {
    let (client, server) = Fixture::new().handshake(b"payload");
    (client.transport, server.transport)
}

#[test]
fn transport_bad_tag_does_not_advance_the_counter() {
    let (mut client, mut server) = transports();
    let frame = single_frame(&client.encrypt_frame(b"hello").unwrap());
    for index in [0, frame.len() - 1] {
        assert_eq!(
            server.decrypt(&flip(&frame, index)),
            Err(NoiseError::TransportDecrypt { counter: 0 })
        );
    }
    assert_eq!(server.receiver().frames_received(), 0);
    assert_eq!(server.decrypt(&frame).unwrap(), b"hello");
    assert_eq!(server.receiver().frames_received(), 1);
}

#[test]
fn transport_replayed_and_reordered_frames() {
    let (mut client, mut server) = transports();
    let first = single_frame(&client.encrypt_frame(b"first").unwrap());
    let second = single_frame(&client.encrypt_frame(b"second").unwrap());
    // Reordered: the second frame arrives first.
    assert_eq!(
        server.decrypt(&second),
        Err(NoiseError::TransportDecrypt { counter: 0 })
    );
    assert_eq!(server.decrypt(&first).unwrap(), b"first");
    // Replayed.
    assert_eq!(
        server.decrypt(&first),
        Err(NoiseError::TransportDecrypt { counter: 1 })
    );
    assert_eq!(server.decrypt(&second).unwrap(), b"second");
    // Our own frame reflected back at us.
    let own = single_frame(&server.encrypt_frame(b"echo").unwrap());
    assert_eq!(
        server.decrypt(&own),
        Err(NoiseError::TransportDecrypt { counter: 2 })
    );
}

#[test]
fn transport_frame_shorter_than_tag() {
    let (_, mut server) = transports();
    for len in [0, 1, 15] {
        assert_eq!(
            server.decrypt(&vec![0; len]),
            Err(NoiseError::TransportFrameTooShort(len))
        );
    }
    assert_eq!(
        server.decrypt(&[0; 16]),
        Err(NoiseError::TransportDecrypt { counter: 0 })
    );
}

#[test]
fn transport_counter_exhaustion() {
    let (client, server) = transports();
    let (mut tx, _) = client.split();
    let (_, mut rx) = server.split();
    tx.set_counter_for_test(u64::from(u32::MAX));
    rx.set_counter_for_test(u64::from(u32::MAX));
    // The last nonce (counter 0xffffffff) still works …
    let last = tx.encrypt_frame(b"last").unwrap();
    assert_eq!(rx.decrypt(&single_frame(&last)).unwrap(), b"last");
    // … and then both directions stop instead of wrapping to 0.
    assert_eq!(
        tx.encrypt_frame(b"one more"),
        Err(NoiseError::CounterExhausted(Direction::Send))
    );
    assert_eq!(
        rx.decrypt(&single_frame(&last)),
        Err(NoiseError::CounterExhausted(Direction::Receive))
    );
    assert_eq!(tx.frames_sent(), 1 << 32);
}

#[test]
fn transport_last_nonce_layout() {
    use aes_gcm::aead::{Aead, KeyInit};
    let (client, _) = transports();
    let (mut tx, _) = client.split();
    tx.set_counter_for_test(0x0102_0304);
    let frame = single_frame(&tx.encrypt_frame(b"iv").unwrap());
    let key: [u8; 32] = hex::decode(super::kat::CLIENT_TO_SERVER_KEY)
        .unwrap()
        .try_into()
        .unwrap();
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&[1, 2, 3, 4]);
    let expected = aes_gcm::Aes256Gcm::new(&key.into())
        .encrypt(&iv.into(), &b"iv"[..])
        .unwrap();
    assert_eq!(frame, expected);
}

#[test]
fn transport_payload_too_large_for_a_frame() {
    let (client, _) = transports();
    let (mut tx, _) = client.split();
    let too_big = vec![0u8; MAX_FRAME_PAYLOAD - GCM_TAG_LEN + 1];
    assert_eq!(
        tx.encrypt_frame(&too_big),
        Err(NoiseError::Frame(FrameError::PayloadTooLarge(1 << 24)))
    );
    assert_eq!(tx.frames_sent(), 0);
}

#[test]
fn client_payload_too_large_for_client_finish() {
    let fx = Fixture::new();
    let (client, first) = fx.client_start();
    let (_, reply) = fx.server_reply(&single_frame(&first[4..]));
    let hello = client
        .read_server_hello(&single_frame(&reply))
        .unwrap()
        .verify(&fx.verifier(), NOW)
        .unwrap();
    assert_eq!(
        hello.finish(&vec![0; MAX_FRAME_PAYLOAD]).unwrap_err(),
        NoiseError::Frame(FrameError::PayloadTooLarge(MAX_FRAME_PAYLOAD + GCM_TAG_LEN))
    );
}
