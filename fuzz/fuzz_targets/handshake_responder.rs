//! Arbitrary bytes as the ClientHello and the ClientFinish of a responder.
//! With the first bit set, a genuine ClientHello is used, so that the
//! ClientFinish is parsed and decrypted under real handshake keys.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::crypto::KeyPair;
use wa_wasm::noise::{CertChainBuilder, ClientHandshake, FrameDecoder, ServerHandshake};

/// The server's static key and certificate chain, made once.
fn identity() -> &'static (KeyPair, Vec<u8>) {
    static IDENTITY: OnceLock<(KeyPair, Vec<u8>)> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0);
        let root = KeyPair::generate(&mut rng);
        let intermediate = KeyPair::generate(&mut rng);
        let static_key = KeyPair::generate(&mut rng);
        let chain = CertChainBuilder::new(&root.private, &intermediate, static_key.public)
            .build(&mut rng);
        (static_key, chain)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(u64::from(control));
    let (static_key, chain) = identity();
    let server = ServerHandshake::new(static_key.clone(), chain.clone());

    let (hello, finish) = if control & 1 == 1 {
        let noise_key = KeyPair::generate(&mut rng);
        let Ok((_, wire)) = ClientHandshake::start(&noise_key, None, &mut rng) else {
            return;
        };
        let mut decoder = FrameDecoder::expecting_intro();
        if decoder.push(&wire).is_err() {
            return;
        }
        let Some(hello) = decoder.next_frame() else {
            return;
        };
        (hello, data.to_vec())
    } else {
        let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
        let (hello, finish) = data.split_at(split);
        (hello.to_vec(), finish.to_vec())
    };

    let Ok((awaiting, reply)) = server.read_client_hello(&hello, &mut rng) else {
        return;
    };
    assert!(reply.len() > 3);
    if let Ok(done) = awaiting.read_client_finish(&finish) {
        // Only reachable with a forged ClientFinish that authenticates: never.
        panic!("forged ClientFinish accepted: {:?}", done.client_static);
    }
});
