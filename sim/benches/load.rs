//! Load: N linked clients exchanging end-to-end encrypted messages at once through one
//! simulator (in-memory links, scripted clients from the core's modules).
//!
//! Each round, client i sends one text to client i+1's account (fan-out: that account's
//! phone and its linked client, plus client i's own phone) and waits for the one it
//! receives, decrypts it and sends a delivery receipt. Throughput is reported in
//! messages per second (one element = one client message). Sizes come from
//! `WA_SIM_BENCH_CLIENTS` (default `10,100,500`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wa_sim::{NewAccount, Sim, SimConfig};
use wa_wasm::binary::Jid;
use wa_wasm::message::Message;

struct Party {
    client: Client,
    creds: Creds,
    /// The account this party writes to, and the device JIDs to encrypt for.
    peer: Jid,
    targets: Vec<Jid>,
}

async fn setup(n: usize) -> (Sim, Vec<Party>) {
    let sim = Sim::start_local(SimConfig {
        seed: Some(1),
        accounts: Vec::new(),
        ..SimConfig::default()
    })
    .unwrap();
    let phones: Vec<String> = (0..n)
        .map(|i| {
            sim.create_account(NewAccount {
                phone: Some(format!("1666{i:07}")),
                name: Some(format!("User {i}")),
                devices: Some(1),
            })
            .unwrap()
            .phone
        })
        .collect();
    // Link in parallel.
    let mut tasks = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let sim = sim.clone();
        let phone = phone.clone();
        tasks.push(tokio::spawn(async move {
            let mut creds = link_by_qr_as(&sim, 1000 + i as u64, Some(&phone)).await;
            let (mut client, _) = login(&sim, &mut creds).await;
            let upload = creds.pre_key_upload(20);
            client.query(upload).await;
            (client, creds)
        }));
    }
    let mut parties = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (client, creds) = task.await.unwrap();
        let peer = Jid::pn(phones[(i + 1) % n].as_str());
        let own = Jid::pn(phones[i].as_str());
        parties.push(Party {
            client,
            creds,
            targets: vec![peer.clone(), peer.clone().with_device(1), own],
            peer,
        });
    }
    (sim, parties)
}

/// One round: everyone sends one message and receives one. Returns the parties.
async fn round(parties: Vec<Party>, round: usize) -> Vec<Party> {
    let tasks: Vec<_> = parties
        .into_iter()
        .map(|mut p| {
            tokio::spawn(async move {
                let text = format!("round {round}");
                send_direct(
                    &mut p.client,
                    &mut p.creds,
                    &p.peer,
                    &p.targets,
                    &Message::text(text.clone()),
                )
                .await;
                let stanza = p
                    .client
                    .expect("message", |n| {
                        n.tag == "message" && n.str_attr("recipient").is_none()
                    })
                    .await;
                let messages = decrypt_stanza(&mut p.creds, &stanza);
                assert_eq!(messages[0].text.as_deref(), Some(text.as_str()));
                send_receipt(&mut p.client, &stanza, None);
                p
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn sizes() -> Vec<usize> {
    std::env::var("WA_SIM_BENCH_CLIENTS")
        .unwrap_or_else(|_| "10,100,500".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn load(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sim_load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in sizes() {
        let started = Instant::now();
        let (sim, parties) = runtime.block_on(setup(n));
        eprintln!(
            "linked {n} clients in {:.2?} ({} connections open)",
            started.elapsed(),
            sim.connections().len()
        );
        let parties = Mutex::new(Some(parties));
        let mut counter = 0usize;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("exchange_round", n), &n, |b, _| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut current = parties.lock().unwrap().take().unwrap();
                    let start = Instant::now();
                    for _ in 0..iters {
                        counter += 1;
                        current = round(current, counter).await;
                    }
                    let elapsed = start.elapsed();
                    *parties.lock().unwrap() = Some(current);
                    elapsed
                })
            });
        });
        drop(parties);
        drop(sim);
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
