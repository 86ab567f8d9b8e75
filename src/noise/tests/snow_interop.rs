//! Cross-checks against `snow`, a generic Noise implementation.
//!
//! WhatsApp's handshake is Noise XX with one difference: after message 1
//! (`-> e`) standard Noise mixes the (empty) payload into the handshake hash,
//! `h = SHA-256(h)`, and WhatsApp does not (whatsmeow and Baileys both send the
//! ClientHello right after mixing `e`). Every key (DH results, chaining key,
//! cipher keys, the split) is identical; only the associated data of the
//! handshake's AES-GCM tags differs. So `snow` checks the key schedule, the
//! ciphertext bodies and the whole transport phase, and Baileys (see `kat`)
//! checks the exact handshake bytes.

use super::pb;
use super::*;

const PATTERN: &str = "Noise_XX_25519_AESGCM_SHA256";

fn snow_builder<'a>(local: &'a KeyPair, ephemeral: &'a KeyPair) -> snow::Builder<'a> {
    snow::Builder::new(PATTERN.parse().unwrap())
        .local_private_key(local.private.as_bytes())
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(ephemeral.private.as_bytes())
        .prologue(&INTRO_HEADER)
        .unwrap()
}

fn snow_write(state: &mut snow::HandshakeState, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 65535];
    let len = state.write_message(payload, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

fn snow_read(state: &mut snow::HandshakeState, message: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 65535];
    let len = state.read_message(message, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

fn frame(payload: &[u8]) -> Vec<u8> {
    encode_frame(payload).unwrap()
}

/// A complete snow-to-snow handshake with the fixture's keys.
struct SnowRun {
    message1: Vec<u8>,
    message2: Vec<u8>,
    message3: Vec<u8>,
    keys: ([u8; 32], [u8; 32]),
    initiator: snow::TransportState,
    responder: snow::TransportState,
}

fn snow_run(fx: &Fixture, client_payload: &[u8]) -> SnowRun {
    let mut initiator = snow_builder(&fx.client_static, &fx.client_ephemeral)
        .build_initiator()
        .unwrap();
    let mut responder = snow_builder(&fx.server_static, &fx.server_ephemeral)
        .build_responder()
        .unwrap();
    let message1 = snow_write(&mut initiator, &[]);
    snow_read(&mut responder, &message1);
    let message2 = snow_write(&mut responder, &fx.chain);
    assert_eq!(snow_read(&mut initiator, &message2), fx.chain);
    let message3 = snow_write(&mut initiator, client_payload);
    assert_eq!(snow_read(&mut responder, &message3), client_payload);
    let keys = initiator.dangerously_get_raw_split();
    assert_eq!(responder.dangerously_get_raw_split(), keys);
    SnowRun {
        message1,
        message2,
        message3,
        keys,
        initiator: initiator.into_transport_mode().unwrap(),
        responder: responder.into_transport_mode().unwrap(),
    }
}

const CLIENT_PAYLOAD: &[u8] = b"serialized ClientPayload goes here";

#[test]
fn same_keys_and_ciphertexts_as_snow_except_message1_hash() {
    let fx = Fixture::new();
    let run = snow_run(&fx, CLIENT_PAYLOAD);

    let (client, first) = fx.client_start();
    let hello = single_frame(&first[4..]);
    assert_eq!(pb::only(&pb::only(&hello, 2), 1), run.message1);

    let (server, reply) = fx.server_reply(&hello);
    let server_hello = pb::only(&single_frame(&reply), 3);
    let (ephemeral, encrypted_static, encrypted_chain) = (
        pb::get(&server_hello, 1),
        pb::get(&server_hello, 2),
        pb::get(&server_hello, 3),
    );
    assert_eq!(ephemeral, run.message2[..32]);
    // Same key and nonce, so the same ciphertext bodies …
    assert_eq!(encrypted_static[..32], run.message2[32..64]);
    assert_eq!(
        encrypted_chain[..fx.chain.len()],
        run.message2[80..80 + fx.chain.len()]
    );
    // … but other tags: the associated data (h) differs by SHA-256("") at message 1.
    assert_ne!(encrypted_static[32..], run.message2[64..80]);

    let client = client
        .read_server_hello(&single_frame(&reply))
        .unwrap()
        .verify(&fx.verifier(), NOW)
        .unwrap();
    let finished = client.finish(CLIENT_PAYLOAD).unwrap();
    let finish = pb::only(&single_frame(&finished.frame), 4);
    assert_eq!(pb::get(&finish, 1)[..32], run.message3[..32]);
    assert_eq!(
        pb::get(&finish, 2)[..CLIENT_PAYLOAD.len()],
        run.message3[48..48 + CLIENT_PAYLOAD.len()]
    );
    let server = server
        .read_client_finish(&single_frame(&finished.frame))
        .unwrap();
    assert_eq!(server.client_payload, CLIENT_PAYLOAD);
}

#[test]
fn our_transports_talk_to_snow_transports() {
    let fx = Fixture::new();
    let mut run = snow_run(&fx, CLIENT_PAYLOAD);
    let (client, server) = fx.handshake(CLIENT_PAYLOAD);
    let (mut client, mut server) = (client.transport, server.transport);
    let mut buf = vec![0u8; 65535];
    for i in 0..4u8 {
        // Our client → snow responder.
        let up = vec![i; 100 * usize::from(i)];
        let wire = client.encrypt_frame(&up).unwrap();
        let len = run
            .responder
            .read_message(&single_frame(&wire), &mut buf)
            .unwrap();
        assert_eq!(buf[..len], up);
        // Snow responder → our client.
        let down = vec![0xf0 | i; 50];
        let len = run.responder.write_message(&down, &mut buf).unwrap();
        assert_eq!(client.decrypt(&buf[..len]).unwrap(), down);
        // Snow initiator → our server.
        let len = run.initiator.write_message(&up, &mut buf).unwrap();
        assert_eq!(server.decrypt(&buf[..len]).unwrap(), up);
        // Our server → snow initiator.
        let wire = server.encrypt_frame(&down).unwrap();
        let len = run
            .initiator
            .read_message(&single_frame(&wire), &mut buf)
            .unwrap();
        assert_eq!(buf[..len], down);
    }
}

/// The `kat` constants that come from snow: the split keys and the first
/// server→client transport frame; also snow's first client→server frame
/// equals the one Baileys computed.
#[test]
fn snow_reference_vectors_match_kat() {
    use super::kat;
    let fx = Fixture::new();
    let mut run = snow_run(&fx, kat::CLIENT_PAYLOAD);
    assert_eq!(hex::encode(run.keys.0), kat::CLIENT_TO_SERVER_KEY);
    assert_eq!(hex::encode(run.keys.1), kat::SERVER_TO_CLIENT_KEY);
    let mut buf = vec![0u8; 1024];
    let len = run
        .initiator
        .write_message(kat::FIRST_UP, &mut buf)
        .unwrap();
    assert_eq!(hex::encode(frame(&buf[..len])), kat::FIRST_UP_FRAME);
    let len = run
        .responder
        .write_message(kat::FIRST_DOWN, &mut buf)
        .unwrap();
    assert_eq!(hex::encode(frame(&buf[..len])), kat::FIRST_DOWN_FRAME);
}
