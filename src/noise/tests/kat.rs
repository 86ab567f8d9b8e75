//! Known-answer vectors for the whole handshake with fixed keys.
//!
//! Keys: private keys are 32 copies of one byte, clamped: client static 0x11,
//! client ephemeral 0x22, server static 0x33, server ephemeral 0x44, root 0x55,
//! intermediate 0x66. The certificate chain (an input here) is the fixture's,
//! signed with counting nonce randomness.
//!
//! Where the expected bytes come from (none from this crate):
//! - handshake frames and the first client→server frame: the `baileys` npm
//!   package, `node tests/interop/noise_vectors.mjs` (`--check` compares it
//!   with this file);
//! - split keys and the first server→client frame: the `snow` crate, asserted
//!   in `snow_interop::snow_reference_vectors_match_kat`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use super::*;

pub(super) const CLIENT_PAYLOAD: &[u8] = b"kat client payload";
pub(super) const FIRST_UP: &[u8] = b"\x00first frame from the client";
pub(super) const FIRST_DOWN: &[u8] = b"\x00first frame from the server";
const ROUTING_INFO: &[u8] = b"route";

/// Input: the serialized `CertChain` the server presents.
pub(super) const CHAIN: &str = "0a760a32080810071a207b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14209cc2bbc20628e4c3bbc20612408991a0f6ab9971f120ae50a9b50a9630515a2fefbdd826edbbdf7e7028bbe4a4d970e493c5a1ed2f6db239478c6ee55395707816323e0b1b3da0031503a5ba8712760a32080710001a20219e4d800da968d2a5fcb009c784f4746c7138edb9ee4844b739e830b05cf4242098bbbbc20628e8cabbc20612405df5da2519ac3c228241e1aed4797b786f99c63986b678a15691fb5114e25016fcf57062ed5cc7a189db39e0f2aa84df1649dafd605e2c64a6906d8f7927d60f";

/// Intro header + ClientHello frame.
pub(super) const CLIENT_HELLO: &str =
    "5741060300002412220a200faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20";
/// The same with routing info "route" in front of the intro header.
pub(super) const CLIENT_HELLO_ROUTED: &str = "45440001000005726f7574655741060300002412220a200faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20";
/// ServerHello frame.
pub(super) const SERVER_HELLO: &str = "00015a1ad7020a20ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b1230f4ec399486d193185c05ec21fc2537a19368ee7006880f506b2d8e77572eeeb14fcdcc7311ef023521fb56ba196e8add1a8002c131cd044014be6d909e74b84d9fbea2ab4dc30d386cb91e4784368b5c0e13594ae8fb43a8d29097d4bdd028529a09e69b1c1c2e5015fe769d490aaffcaaec09f99fe62c7e4d09ac932504ec222509b89077b37e0064067f617bd8061a1850bf1cbb6b4d53df006f101c8abc9d61ae65cdbaa32952c9105c9b6914d5b0203d4da20e74236f4689f00c4346fbe3d32c85ceb42173a9710207cb367b9075f57bd1c6f4e677fa39c0e2390aee855401b42ce6c8e7e5ba07cc4ca330437c8608db33b8a7602cd7acd0960895d7e3da71e71616df6b9ed6b106980c722c55326fac1c5f09208bff84bfd35a6862ca9bd51ecfed112a31d231b597c00d3643bbe2f364";
/// ClientFinish frame.
pub(super) const CLIENT_FINISH: &str = "00005822560a30b619d80cb0582b095ff541a2fc71deb1049d14a03e02325090f32ee6cc86770a096fa1fbb0586802985cc55aecc6f73412229eefbec856ecce1cce8efce588603783bb63d6bf0c5a019af64d5a4eda1daf6a4dc7";
/// Transport keys after the split.
pub(super) const CLIENT_TO_SERVER_KEY: &str =
    "0a6fc4dc1aa8dc5cd8569ab411d3d287546231687fa7a899bc67e09421afce06";
pub(super) const SERVER_TO_CLIENT_KEY: &str =
    "139d0e89432636be94c33f53b33f7912bdd13d0d968687768adefcd63865d43f";
/// First transport frames, framed.
pub(super) const FIRST_UP_FRAME: &str = "00002c7585ff2defeb218082ae86e7ee7e66f8ff0046bf94cfcefb8355d108194853e5b16293624506ddd75c0d32cb";
pub(super) const FIRST_DOWN_FRAME: &str = "00002c544cf4aef297c91c60621465229cdd8c386899ebcab46ea6c0a39f81a38a974edc6c9864695a5d2bc2c35993";

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn fixture_chain_is_the_kat_input() {
    // Regression guard: the builder with counting randomness must keep
    // producing the chain the vectors were computed with.
    assert_eq!(hex::encode(Fixture::new().chain), CHAIN);
}

#[test]
fn client_hello_bytes() {
    let fx = Fixture::new();
    let (_, first) = fx.client_start();
    assert_eq!(hex::encode(first), CLIENT_HELLO);
    let (_, routed) = ClientHandshake::start_with_ephemeral(
        &fx.client_static,
        fx.client_ephemeral.clone(),
        Some(ROUTING_INFO),
    )
    .unwrap();
    assert_eq!(hex::encode(routed), CLIENT_HELLO_ROUTED);
}

#[test]
fn server_hello_bytes() {
    let fx = Fixture::new();
    let hello = unhex(CLIENT_HELLO);
    let mut decoder = FrameDecoder::expecting_intro();
    decoder.push(&hello).unwrap();
    let (_, reply) = fx.server_reply(&decoder.next_frame().unwrap());
    assert_eq!(hex::encode(reply), SERVER_HELLO);
}

#[test]
fn client_reads_kat_server_hello_and_writes_kat_finish() {
    let fx = Fixture::new();
    let (client, _) = fx.client_start();
    let client = client
        .read_server_hello(&single_frame(&unhex(SERVER_HELLO)))
        .unwrap();
    assert_eq!(client.certificate_chain(), unhex(CHAIN));
    let client = client.verify(&fx.verifier(), NOW).unwrap();
    let mut finished = client.finish(CLIENT_PAYLOAD).unwrap();
    assert_eq!(hex::encode(&finished.frame), CLIENT_FINISH);
    assert_eq!(finished.server.leaf().key, fx.server_static.public);
    assert_eq!(finished.server.leaf().serial, 8);
    assert_eq!(finished.server.intermediate().serial, 7);

    assert_eq!(
        hex::encode(finished.transport.encrypt_frame(FIRST_UP).unwrap()),
        FIRST_UP_FRAME
    );
    assert_eq!(
        finished
            .transport
            .decrypt(&single_frame(&unhex(FIRST_DOWN_FRAME)))
            .unwrap(),
        FIRST_DOWN
    );
}

#[test]
fn server_reads_kat_client_finish() {
    let fx = Fixture::new();
    let (server, _) = fx.server_reply(&single_frame(&unhex(CLIENT_HELLO)[4..]));
    let mut finished = server
        .read_client_finish(&single_frame(&unhex(CLIENT_FINISH)))
        .unwrap();
    assert_eq!(finished.client_static, fx.client_static.public);
    assert_eq!(finished.client_payload, CLIENT_PAYLOAD);
    assert_eq!(
        finished
            .transport
            .decrypt(&single_frame(&unhex(FIRST_UP_FRAME)))
            .unwrap(),
        FIRST_UP
    );
    assert_eq!(
        hex::encode(finished.transport.encrypt_frame(FIRST_DOWN).unwrap()),
        FIRST_DOWN_FRAME
    );
}

#[test]
fn transport_frames_use_the_kat_keys() {
    // Encrypts with the key constants through aes-gcm directly: 8 zero bytes
    // and a 32-bit counter as IV, empty associated data.
    let seal = |key: &str, plaintext: &[u8]| {
        let key: [u8; 32] = unhex(key).try_into().unwrap();
        let cipher = Aes256Gcm::new(&key.into());
        let ciphertext = cipher.encrypt(&Nonce::from([0u8; 12]), plaintext).unwrap();
        encode_frame(&ciphertext).unwrap()
    };
    assert_eq!(
        hex::encode(seal(CLIENT_TO_SERVER_KEY, FIRST_UP)),
        FIRST_UP_FRAME
    );
    assert_eq!(
        hex::encode(seal(SERVER_TO_CLIENT_KEY, FIRST_DOWN)),
        FIRST_DOWN_FRAME
    );
}
