//! Criterion benchmarks for the `binary` layer: encode and decode of every stanza of the
//! shared corpus (tests/data/stanza_corpus.txt) and of the whole corpus.
//!
//! `cargo bench --bench binary` (add a filter such as `-- decode/corpus` to run a part).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wa_wasm::binary::{Node, decode, encode, encode_into, unpack};

const CORPUS: &str = include_str!("../tests/data/stanza_corpus.txt");

fn corpus() -> Vec<(&'static str, Vec<u8>, Node)> {
    CORPUS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (name, hex) = line.split_once(' ').expect("`name hex` line");
            let bytes = hex::decode(hex).expect("hex");
            let node = decode(&bytes).expect("corpus stanza decodes");
            (name, bytes, node)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let corpus = corpus();
    let total: usize = corpus.iter().map(|(_, bytes, _)| bytes.len()).sum();

    let mut group = c.benchmark_group("decode");
    for (name, bytes, _) in &corpus {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| b.iter(|| decode(black_box(bytes)).unwrap()));
    }
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (_, bytes, _) in &corpus {
                black_box(decode(black_box(bytes)).unwrap());
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("encode");
    let mut buffer = Vec::with_capacity(64 * 1024);
    for (name, bytes, node) in &corpus {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                buffer.clear();
                encode_into(black_box(node), &mut buffer).unwrap();
                black_box(buffer.len())
            })
        });
    }
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (_, _, node) in &corpus {
                buffer.clear();
                encode_into(black_box(node), &mut buffer).unwrap();
            }
            black_box(buffer.len())
        })
    });
    group.bench_function("corpus_fresh_vec", |b| {
        b.iter(|| {
            for (_, _, node) in &corpus {
                black_box(encode(black_box(node)).unwrap());
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("unpack");
    let payload: Vec<u8> = std::iter::once(0)
        .chain(corpus[0].1.iter().copied())
        .collect();
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function(corpus[0].0, |b| {
        b.iter(|| unpack(black_box(&payload)).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(group);
