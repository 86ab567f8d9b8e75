//! Criterion benchmarks for the `signal` layer (filled in with the layer itself).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};

fn benches(_c: &mut Criterion) {}

criterion_group!(group, benches);
criterion_main!(group);
