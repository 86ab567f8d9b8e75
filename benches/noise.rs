//! Criterion benchmarks for the `noise` layer: a full handshake (both roles,
//! certificate verification included) and transport encrypt + decrypt.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::crypto::KeyPair;
use wa_wasm::noise::{
    CertChainBuilder, CertVerifier, ClientHandshake, FrameDecoder, NoiseTransport, ServerHandshake,
};

const NOW: u64 = 1_750_000_000;

struct Server {
    root: KeyPair,
    static_key: KeyPair,
    chain: Vec<u8>,
}

fn server(rng: &mut StdRng) -> Server {
    let root = KeyPair::generate(rng);
    let intermediate = KeyPair::generate(rng);
    let static_key = KeyPair::generate(rng);
    let chain = CertChainBuilder::new(&root.private, &intermediate, static_key.public).build(rng);
    Server {
        root,
        static_key,
        chain,
    }
}

fn one_frame(bytes: &[u8], decoder: &mut FrameDecoder) -> Vec<u8> {
    decoder.push(bytes).unwrap();
    decoder.next_frame().unwrap()
}

/// Client and server run a whole handshake; returns both transports.
fn handshake(
    server: &Server,
    noise_key: &KeyPair,
    rng: &mut StdRng,
) -> (NoiseTransport, NoiseTransport) {
    let verifier = CertVerifier::new(server.root.public);
    let mut to_server = FrameDecoder::expecting_intro();
    let mut to_client = FrameDecoder::new();
    let (client, wire) = ClientHandshake::start(noise_key, None, rng).unwrap();
    let (responder, wire) = ServerHandshake::new(server.static_key.clone(), server.chain.clone())
        .read_client_hello(&one_frame(&wire, &mut to_server), rng)
        .unwrap();
    let finished = client
        .read_server_hello(&one_frame(&wire, &mut to_client))
        .unwrap()
        .verify(&verifier, NOW)
        .unwrap()
        .finish(b"client payload")
        .unwrap();
    let done = responder
        .read_client_finish(&one_frame(&finished.frame, &mut to_server))
        .unwrap();
    (finished.transport, done.transport)
}

fn benches(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let server = server(&mut rng);
    let noise_key = KeyPair::generate(&mut rng);

    c.bench_function("noise/handshake (client + server, cert check)", |b| {
        b.iter(|| black_box(handshake(&server, &noise_key, &mut rng)));
    });

    let mut group = c.benchmark_group("noise/transport encrypt+decrypt");
    for size in [64usize, 1024, 64 * 1024] {
        let (mut client, mut server_side) = handshake(&server, &noise_key, &mut rng);
        let payload = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &payload, |b, payload| {
            b.iter(|| {
                let frame = client.encrypt_frame(black_box(payload)).unwrap();
                black_box(server_side.decrypt(&frame[3..]).unwrap())
            });
        });
    }
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
