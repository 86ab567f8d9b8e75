use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::crypto::KeyPair;
use wa_wasm::noise::{
    CertChainBuilder, CertError, CertVerifier, ClientHandshake, FrameDecoder, NoiseError,
    ServerHandshake, WA_ROOT_PUBLIC_KEY,
};
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: u64 = 1_750_000_000;

fn one_frame(decoder: &mut FrameDecoder, bytes: &[u8]) -> Vec<u8> {
    // Deliver in small pieces, as a WebSocket may.
    for piece in bytes.chunks(5) {
        decoder.push(piece).unwrap();
    }
    decoder.next_frame().unwrap()
}

#[wasm_bindgen_test]
fn noise_handshake_and_transport_in_browser() {
    let mut rng = StdRng::seed_from_u64(42);
    let root = KeyPair::generate(&mut rng);
    let intermediate = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let noise_key = KeyPair::generate(&mut rng);
    let chain = CertChainBuilder::new(&root.private, &intermediate, server_static.public)
        .leaf_validity(NOW - 60, NOW + 60)
        .build(&mut rng);

    let mut to_server = FrameDecoder::expecting_intro();
    let mut to_client = FrameDecoder::new();
    let (client, wire) = ClientHandshake::start(&noise_key, Some(b"edge"), &mut rng).unwrap();
    let (server, wire) = ServerHandshake::new(server_static.clone(), chain)
        .read_client_hello(&one_frame(&mut to_server, &wire), &mut rng)
        .unwrap();
    assert_eq!(to_server.routing_info(), Some(&b"edge"[..]));
    let hello = client
        .read_server_hello(&one_frame(&mut to_client, &wire))
        .unwrap();
    assert_eq!(hello.server_static(), &server_static.public);
    let finished = hello
        .verify(&CertVerifier::new(root.public), NOW)
        .unwrap()
        .finish(b"client payload")
        .unwrap();
    let server = server
        .read_client_finish(&one_frame(&mut to_server, &finished.frame))
        .unwrap();
    assert_eq!(server.client_static, noise_key.public);
    assert_eq!(server.client_payload, b"client payload");

    let (mut client, mut server) = (finished.transport, server.transport);
    for i in 0..10u8 {
        let up = vec![i; 1000];
        let frame = one_frame(&mut to_server, &client.encrypt_frame(&up).unwrap());
        assert_eq!(server.decrypt(&frame).unwrap(), up);
        let down = vec![!i; 33];
        let frame = one_frame(&mut to_client, &server.encrypt_frame(&down).unwrap());
        assert_eq!(client.decrypt(&frame).unwrap(), down);
    }
    // A tampered frame is refused and does not break the stream.
    let mut bad = one_frame(&mut to_client, &server.encrypt_frame(b"x").unwrap());
    let good = bad.clone();
    bad[0] ^= 1;
    assert_eq!(
        client.decrypt(&bad),
        Err(NoiseError::TransportDecrypt { counter: 10 })
    );
    assert_eq!(client.decrypt(&good).unwrap(), b"x");
}

#[wasm_bindgen_test]
fn noise_rejects_untrusted_root_in_browser() {
    let mut rng = StdRng::seed_from_u64(43);
    let root = KeyPair::generate(&mut rng);
    let intermediate = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let chain =
        CertChainBuilder::new(&root.private, &intermediate, server_static.public).build(&mut rng);
    let verifier = CertVerifier::default();
    assert_eq!(verifier.root(), &WA_ROOT_PUBLIC_KEY);
    assert_eq!(
        verifier.verify(&chain, &server_static.public, NOW),
        Err(CertError::IntermediateNotSignedByRoot)
    );
}
