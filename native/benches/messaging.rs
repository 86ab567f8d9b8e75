//! Messaging through the tokio driver against wa-sim in-process (real time,
//! local links): `send_text` to the server's ack for a contact with 1, 10 and
//! 256 devices (sessions already established, so one `msg` per device; the
//! simulator's decryption of every copy is inside the measurement), and
//! receive throughput (a contact's texts decrypted, stored, shown and
//! acknowledged).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use core::time::Duration;
use std::time::Instant;

use common::harness::Harness;
use common::sim::SimHarness;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wa_wasm::binary::Jid;
use wa_wasm::client::{ConnectionState, Event, MessageStatus};

const WAIT: Duration = Duration::from_secs(60);
const ME: &str = wa_sim::DEFAULT_ME_PHONE;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

async fn linked() -> SimHarness {
    let mut h = SimHarness::new();
    h.start_client().await;
    h.connect().await.unwrap();
    let (qr, _) = h.wait_qr(WAIT).await.unwrap();
    h.scan(&qr);
    h.wait_state(ConnectionState::Open, WAIT).await.unwrap();
    h.wait_event(WAIT, &mut |e| matches!(e, Event::PreKeysUploaded { .. }))
        .await
        .unwrap();
    h
}

async fn send_and_wait(h: &mut SimHarness, to: &Jid) {
    let id = h.handle().send_text(to, "benchmark text").await.unwrap();
    h.wait_event(WAIT, &mut |e| {
        matches!(e, Event::MessageStatus(u) if u.id == id && u.status == MessageStatus::Sent)
    })
    .await
    .expect("sent");
}

fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("messaging/send_fan_out");
    group.sample_size(10);
    for devices in [1u16, 10, 256] {
        let (mut h, contact) = rt.block_on(async {
            let mut h = linked().await;
            let account = h
                .sim
                .create_account(wa_sim::NewAccount {
                    phone: None,
                    name: None,
                    devices: Some(devices),
                })
                .unwrap();
            let contact = Jid::pn(account.phone.as_str());
            // Device lists, bundles and pkmsgs happen once, here.
            send_and_wait(&mut h, &contact).await;
            (h, contact)
        });
        group.throughput(Throughput::Elements(u64::from(devices)));
        group.bench_with_input(BenchmarkId::from_parameter(devices), &devices, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        send_and_wait(&mut h, &contact).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn receive(c: &mut Criterion) {
    const BATCH: u64 = 100;
    let rt = runtime();
    let mut h = rt.block_on(async {
        let mut h = linked().await;
        h.sim.send_text("15550001001", ME, "first").unwrap();
        h.wait_event(WAIT, &mut |e| matches!(e, Event::Message(_)))
            .await
            .unwrap();
        h
    });
    let mut group = c.benchmark_group("messaging/receive");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("decrypt_store_ack_100_texts", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for n in 0..BATCH {
                        h.sim
                            .send_text("15550001001", ME, &format!("message {n}"))
                            .unwrap();
                    }
                    for _ in 0..BATCH {
                        h.wait_event(WAIT, &mut |e| matches!(e, Event::Message(_)))
                            .await
                            .expect("message");
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, fan_out, receive);
criterion_main!(benches);
