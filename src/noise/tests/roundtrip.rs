//! Our initiator against our responder through the public API, as a client
//! engine and a server would drive them: bytes in, frames out.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

struct Connected {
    client: NoiseTransport,
    server: NoiseTransport,
    routing_info: Option<Vec<u8>>,
}

/// Runs the handshake over byte streams cut into `chunk`-sized pieces.
fn connect(seed: u64, routing_info: Option<&[u8]>, chunk: usize) -> Connected {
    let mut rng = StdRng::seed_from_u64(seed);
    let root = KeyPair::generate(&mut rng);
    let intermediate = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let noise_key = KeyPair::generate(&mut rng);
    let chain = CertChainBuilder::new(&root.private, &intermediate, server_static.public)
        .intermediate_validity(NOW - 10, NOW + 10)
        .leaf_validity(NOW, NOW)
        .build(&mut rng);

    let mut to_server = FrameDecoder::expecting_intro();
    let mut to_client = FrameDecoder::new();
    let deliver = |decoder: &mut FrameDecoder, bytes: &[u8]| -> Vec<u8> {
        for piece in bytes.chunks(chunk) {
            decoder.push(piece).unwrap();
        }
        decoder.next_frame().unwrap()
    };

    let (client, wire) = ClientHandshake::start(&noise_key, routing_info, &mut rng).unwrap();
    let hello = deliver(&mut to_server, &wire);
    let (server, wire) = ServerHandshake::new(server_static.clone(), chain)
        .read_client_hello(&hello, &mut rng)
        .unwrap();
    let hello = deliver(&mut to_client, &wire);
    let client = client
        .read_server_hello(&hello)
        .unwrap()
        .verify(&CertVerifier::new(root.public), NOW)
        .unwrap();
    assert_eq!(client.server().leaf().key, server_static.public);
    let finished = client.finish(b"client payload").unwrap();
    let finish = deliver(&mut to_server, &finished.frame);
    let server = server.read_client_finish(&finish).unwrap();
    assert_eq!(server.client_static, noise_key.public);
    assert_eq!(server.client_payload, b"client payload");
    Connected {
        client: finished.transport,
        server: server.transport,
        routing_info: to_server.routing_info().map(<[u8]>::to_vec),
    }
}

#[test]
fn handshake_then_messages_both_ways() {
    for (seed, chunk) in [(1, 1), (2, 7), (3, 4096)] {
        let mut c = connect(seed, None, chunk);
        assert_eq!(c.routing_info, None);
        let mut up = FrameDecoder::new();
        let mut down = FrameDecoder::new();
        for i in 0..20usize {
            let message = vec![u8::try_from(i).unwrap(); i * 37];
            up.push(&c.client.encrypt_frame(&message).unwrap()).unwrap();
            down.push(&c.server.encrypt_frame(&message).unwrap())
                .unwrap();
            assert_eq!(
                c.server.decrypt(&up.next_frame().unwrap()).unwrap(),
                message
            );
            assert_eq!(
                c.client.decrypt(&down.next_frame().unwrap()).unwrap(),
                message
            );
        }
        assert_eq!(c.client.sender().frames_sent(), 20);
        assert_eq!(c.server.receiver().frames_received(), 20);
    }
}

#[test]
fn routing_info_reaches_the_server() {
    let c = connect(4, Some(b"edge routing bytes"), 3);
    assert_eq!(c.routing_info.as_deref(), Some(&b"edge routing bytes"[..]));
}

#[test]
fn split_halves_work_independently_and_in_bursts() {
    let c = connect(5, None, 1000);
    let (mut client_tx, mut client_rx) = c.client.split();
    let (mut server_tx, mut server_rx) = c.server.split();
    // Ten frames in one buffer, as a WebSocket message may carry them.
    let mut burst = Vec::new();
    for i in 0..10u8 {
        client_tx.encrypt_frame_into(&[i; 3], &mut burst).unwrap();
    }
    let mut decoder = FrameDecoder::new();
    decoder.push(&burst).unwrap();
    for i in 0..10u8 {
        assert_eq!(
            server_rx.decrypt(&decoder.next_frame().unwrap()).unwrap(),
            [i; 3]
        );
    }
    let big = vec![0xa5; 1 << 20];
    let frame = server_tx.encrypt_frame(&big).unwrap();
    assert_eq!(client_rx.decrypt(&single_frame(&frame)).unwrap(), big);
}

#[test]
fn transport_keys_differ_per_direction_and_session() {
    let mut a = connect(6, None, 64);
    let mut b = connect(7, None, 64);
    let up = a.client.encrypt_frame(b"same").unwrap();
    let down = a.server.encrypt_frame(b"same").unwrap();
    assert_ne!(up, down);
    // A frame from another session does not decrypt.
    assert_eq!(
        b.server.decrypt(&up[3..]),
        Err(NoiseError::TransportDecrypt { counter: 0 })
    );
}

#[test]
fn empty_payloads_round_trip() {
    let mut c = connect(8, None, 10);
    let frame = c.client.encrypt_frame(&[]).unwrap();
    assert_eq!(frame.len(), 3 + GCM_TAG_LEN);
    assert_eq!(c.server.decrypt(&frame[3..]).unwrap(), Vec::<u8>::new());
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use proptest::prelude::*;

    use super::super::*;

    fn reassemble(stream: &[u8], cuts: &[usize], mut decoder: FrameDecoder) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut frames = Vec::new();
        for cut in cuts.into_iter().chain([stream.len()]) {
            decoder.push(&stream[start..cut]).unwrap();
            start = cut;
            frames.extend(std::iter::from_fn(|| decoder.next_frame()));
        }
        decoder.finish().unwrap();
        frames
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decoder_reassembles_any_chunking(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            cuts in proptest::collection::vec(any::<usize>(), 0..40),
            intro in 0u8..3,
            routing in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut stream = match intro {
                0 => Vec::new(),
                1 => intro_bytes(None).unwrap(),
                _ => intro_bytes(Some(&routing)).unwrap(),
            };
            for frame in &frames {
                encode_frame_into(frame, &mut stream).unwrap();
            }
            let decoder = if intro == 0 {
                FrameDecoder::new()
            } else {
                FrameDecoder::expecting_intro()
            };
            prop_assert_eq!(reassemble(&stream, &cuts, decoder), frames);
        }

        #[test]
        fn decoder_never_panics_on_garbage(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            chunk in 1usize..64,
            intro in any::<bool>(),
        ) {
            let mut decoder = if intro {
                FrameDecoder::expecting_intro()
            } else {
                FrameDecoder::new()
            }
            .with_max_frame_size(512);
            for piece in data.chunks(chunk) {
                if decoder.push(piece).is_err() {
                    break;
                }
            }
            while let Some(frame) = decoder.next_frame() {
                prop_assert!(frame.len() <= 512);
            }
        }

    }

    proptest! {
        // Each case runs a full handshake: fewer cases keep debug builds quick.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn transport_round_trips_any_payloads(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 1..8),
        ) {
            let fx = Fixture::new();
            let (client, server) = fx.handshake(b"p");
            let (mut client, mut server) = (client.transport, server.transport);
            for payload in &payloads {
                let frame = client.encrypt_frame(payload).unwrap();
                prop_assert_eq!(&server.decrypt(&single_frame(&frame)).unwrap(), payload);
            }
        }
    }
}
