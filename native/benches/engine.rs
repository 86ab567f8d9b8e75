//! Time from scanning the QR code to `open` (pairing, the 515 restart, login,
//! 812 pre-keys generated and stored), and from a dropped connection to
//! `open` again, through the tokio driver against wa-sim in-process (real
//! time, local links, a 1 ms back-off).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use core::time::Duration;
use std::time::Instant;

use common::harness::Harness;
use common::sim::SimHarness;
use criterion::{Criterion, criterion_group, criterion_main};
use wa_wasm::client::ConnectionState;

const WAIT: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

async fn open<H: Harness>(h: &mut H) {
    h.wait_state(ConnectionState::Open, WAIT)
        .await
        .expect("open");
}

fn scan_to_open(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("link");
    group.sample_size(10);
    group.bench_function("scan_to_open", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut h = SimHarness::new();
                    h.start_client().await;
                    h.connect().await.unwrap();
                    let (qr, _) = h.wait_qr(WAIT).await.unwrap();
                    let start = Instant::now();
                    h.scan(&qr);
                    open(&mut h).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

fn reconnect_to_open(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("reconnect");
    group.sample_size(10);
    group.bench_function("reconnect_to_open", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut h = SimHarness::new();
                // Measure the reconnect itself, not the back-off before it.
                h.tweak = |config| {
                    config.reconnect.backoff.first_delay = Duration::from_millis(1);
                    config.reconnect.stable_after = Duration::ZERO;
                };
                h.start_client().await;
                h.connect().await.unwrap();
                let (qr, _) = h.wait_qr(WAIT).await.unwrap();
                h.scan(&qr);
                open(&mut h).await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // From the server dropping the socket to `open` again,
                    // including the 1 ms back-off (±10 %).
                    let start = Instant::now();
                    h.drop_connection();
                    open(&mut h).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, scan_to_open, reconnect_to_open);
criterion_main!(benches);
