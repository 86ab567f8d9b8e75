//! Browser benchmarks, run in headless Chromium by `cargo xtask bench` (release
//! build, against a `wa-sim` process it starts): link and reconnect timings of
//! `WaClient`, JS heap and wasm memory with 1 and 10 linked sessions, opening
//! an IndexedDB store that holds 5,000 Signal sessions, and messaging (send
//! fan-out to 1, 10 and 256 devices, receive throughput).
//!
//! `cargo xtask bench` runs each benchmark in its own page (a name filter per
//! run). Each benchmark prints one `BENCH {json}` line that `cargo xtask bench` collects
//! into its table; nothing here asserts a timing (timings belong to benchmarks, not
//! to tests), but every step checks that it did what it measures.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "../web/sim_support.rs"]
#[allow(dead_code)]
mod sim_support;

use js_sys::{Function, Reflect};
use serde_json::{Value, json};
use sim_support::{
    Recorder, Sim, await_promise, control, new_phone, now_ms, options, sim, to_value,
};
use wa_wasm::store::{Changes, Namespace, Store, keys};
use wa_wasm::web::{IndexedDbStore, WaClient, sleep};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

const ROUNDS: usize = 5;
const EVENTS: &[&str] = &["connection", "qr", "message", "message-status"];

fn report(name: &str, value: Value) {
    console_log!("BENCH {}", json!({ "name": name, "value": value }));
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn unique(prefix: &str) -> String {
    format!(
        "bench-{prefix}-{}-{}",
        wa_wasm::web::now_unix_ms(),
        (js_sys::Math::random() * 1e9) as u64
    )
}

fn required_sim() -> Sim {
    sim().expect("WA_SIM_* not set at build time: run through `cargo xtask bench`")
}

/// Opens `session`, connects and links it to a fresh simulated phone by QR.
/// Returns the client and the milliseconds from the QR event to `open`.
async fn link_new(sim: &Sim, session: &str) -> (WaClient, Recorder, f64) {
    let phone = new_phone(sim).await;
    let recorder = Recorder::default();
    let client = WaClient::open(options(sim, session, "warn")).await.unwrap();
    recorder.attach(&client, EVENTS);
    await_promise(client.connect()).await.unwrap();
    let qr = recorder.wait_every("qr", 20_000, 1, |_| true).await;
    let qr_at = recorder.time_of("qr", |_| true).unwrap();
    control(
        sim,
        "POST",
        "/scan-qr",
        Some(json!({ "qr": qr["qr"], "phone": phone })),
    )
    .await;
    recorder
        .wait_every("connection", 30_000, 1, |data| data["state"] == "open")
        .await;
    let open_at = recorder
        .time_of("connection", |data| data["state"] == "open")
        .unwrap();
    let me = to_value(&client.status())["me"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(me.starts_with(&phone), "{me} is not on {phone}");
    (client, recorder, open_at - qr_at)
}

/// (c) scan → open and stored credentials → open, `ROUNDS` times each.
#[wasm_bindgen_test]
async fn link_and_reconnect() {
    let sim = required_sim();
    let mut link = Vec::new();
    let mut reconnect = Vec::new();
    for _ in 0..ROUNDS {
        let session = unique("link");
        let (client, _, scan_to_open) = link_new(&sim, &session).await;
        link.push(scan_to_open);
        await_promise(client.close()).await.unwrap();
        sleep(200).await;

        let started = now_ms();
        let recorder = Recorder::default();
        let client = WaClient::open(options(&sim, &session, "warn"))
            .await
            .unwrap();
        recorder.attach(&client, EVENTS);
        await_promise(client.connect()).await.unwrap();
        recorder
            .wait_every("connection", 30_000, 1, |data| data["state"] == "open")
            .await;
        let open_at = recorder
            .time_of("connection", |data| data["state"] == "open")
            .unwrap();
        assert!(
            recorder.all("qr").is_empty(),
            "stored credentials showed a QR"
        );
        reconnect.push(open_at - started);
        await_promise(client.logout()).await.unwrap();
        await_promise(client.close()).await.unwrap();
        await_promise(WaClient::remove_session(session))
            .await
            .unwrap();
    }
    report(
        "link",
        json!({ "scan_to_open_ms": median(link.clone()), "samples": link }),
    );
    report(
        "reconnect",
        json!({ "reconnect_to_open_ms": median(reconnect.clone()), "samples": reconnect }),
    );
}

/// Runs the garbage collector, which Chromium exposes with
/// `--js-flags=--expose-gc` (see `webdriver.json`).
async fn collect_garbage() {
    let gc: Function = Reflect::get(&js_sys::global(), &"gc".into())
        .unwrap()
        .dyn_into()
        .expect("window.gc is missing: Chromium needs --js-flags=--expose-gc");
    gc.call0(&JsValue::NULL).unwrap();
    sleep(100).await;
}

/// JS heap in use (`performance.memory`, precise with
/// `--enable-precise-memory-info`) and the wasm linear memory, in bytes.
async fn memory() -> (f64, f64) {
    collect_garbage().await;
    let performance = Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let heap = Reflect::get(&performance, &"memory".into())
        .and_then(|memory| Reflect::get(&memory, &"usedJSHeapSize".into()))
        .ok()
        .and_then(|used| used.as_f64())
        .expect("performance.memory is Chromium's; run in Chromium");
    let wasm_memory = wasm_bindgen::memory();
    let buffer = Reflect::get(&wasm_memory, &"buffer".into()).unwrap();
    let wasm = Reflect::get(&buffer, &"byteLength".into())
        .unwrap()
        .as_f64()
        .unwrap();
    (heap, wasm)
}

/// (e) memory with no session, 1 and 10 linked sessions open at once. Run it
/// alone in its page (`cargo xtask bench` does): wasm memory never shrinks, so
/// an earlier benchmark in the same page would hide the growth.
#[wasm_bindgen_test]
async fn memory_per_session() {
    let sim = required_sim();
    let (heap_0, wasm_0) = memory().await;
    let mut clients = Vec::new();
    let mut sessions = Vec::new();
    let mut one = (0.0, 0.0);
    for index in 0..10 {
        let session = unique(&format!("mem{index}"));
        let (client, recorder, _) = link_new(&sim, &session).await;
        clients.push((client, recorder));
        sessions.push(session);
        if index == 0 {
            // Let the first session finish its post-login work (pre-key upload).
            sleep(1000).await;
            one = memory().await;
        }
    }
    sleep(1000).await;
    // All ten are open at once.
    for (client, _) in &clients {
        assert_eq!(to_value(&client.status())["state"], "open");
    }
    let (heap_10, wasm_10) = memory().await;
    let (heap_1, wasm_1) = one;
    let first = (heap_1 - heap_0) + (wasm_1 - wasm_0);
    let total_10 = (heap_10 - heap_0) + (wasm_10 - wasm_0);
    report(
        "memory",
        json!({
            "baseline": { "js_heap": heap_0, "wasm": wasm_0 },
            "one_session": { "js_heap": heap_1, "wasm": wasm_1 },
            "ten_sessions": { "js_heap": heap_10, "wasm": wasm_10 },
            "first_session_bytes": first,
            "extra_session_bytes": (total_10 - first) / 9.0,
        }),
    );
    for (client, _) in &clients {
        await_promise(client.logout()).await.unwrap();
        await_promise(client.close()).await.unwrap();
    }
    for session in sessions {
        await_promise(WaClient::remove_session(session))
            .await
            .unwrap();
    }
}

/// (f) open an IndexedDB store holding 5,000 Signal sessions and load them all.
#[wasm_bindgen_test]
async fn open_store_with_5000_sessions() {
    let session = unique("idb");
    let store = IndexedDbStore::open(&session).await.unwrap();
    let mut changes = Changes::new();
    for index in 0..5000u32 {
        let name = keys::signal_address(&format!("1555{index:07}"), index % 5);
        changes.put(Namespace::Sessions, name.as_str(), vec![index as u8; 1200]);
    }
    store.commit(&changes).await.unwrap();
    drop(store);
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let started = now_ms();
        let store = IndexedDbStore::open(&session).await.unwrap();
        let entries = store.entries(Namespace::Sessions).await.unwrap();
        samples.push(now_ms() - started);
        assert_eq!(entries.len(), 5000);
        assert!(entries.iter().all(|(_, value)| value.len() == 1200));
        drop(store);
    }
    IndexedDbStore::delete(&session).await.unwrap();
    report(
        "idb_5000_sessions",
        json!({ "open_ms": median(samples.clone()), "samples": samples, "record_bytes": 1200 }),
    );
}

/// Sends a text to `phone` and waits for the server's ack (`sent`).
async fn send_and_wait(client: &WaClient, recorder: &Recorder, phone: &str) {
    let sent = to_value(
        &await_promise(client.send_text(format!("+{phone}"), "benchmark text".into()))
            .await
            .unwrap(),
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    recorder
        .wait_every("message-status", 60_000, 1, |s| {
            s["id"] == id.as_str() && s["status"] == "sent"
        })
        .await;
}

/// Messaging in the page: `sendText` until the server's ack, to a contact
/// with 1, 10 and 256 devices (sessions set up by a first message, so one
/// `msg` per device; the simulator decrypting every copy is inside the
/// measurement, as in the native bench), then receive throughput: texts a
/// contact sent while the page was away, from `connect()` (login included) to
/// the last `message` event (each decrypted, stored, shown and acknowledged).
#[wasm_bindgen_test]
async fn messaging() {
    let sim = required_sim();
    let session = unique("messaging");
    let (client, recorder, _) = link_new(&sim, &session).await;
    let me = to_value(&client.status())["me"]
        .as_str()
        .unwrap()
        .to_owned();
    let me_phone = me.split([':', '@']).next().unwrap().to_owned();
    let mut fan_out = serde_json::Map::new();
    for devices in [1u16, 10, 256] {
        let account = control(
            &sim,
            "POST",
            "/accounts",
            Some(json!({ "devices": devices })),
        )
        .await;
        let phone = account["phone"].as_str().unwrap().to_owned();
        send_and_wait(&client, &recorder, &phone).await;
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            let started = now_ms();
            send_and_wait(&client, &recorder, &phone).await;
            samples.push(now_ms() - started);
        }
        let received = control(&sim, "GET", &format!("/accounts/{phone}/received"), None).await;
        assert_eq!(
            received.as_array().unwrap().len(),
            usize::from(devices) * (ROUNDS + 1),
            "every device decrypted every text"
        );
        fan_out.insert(
            devices.to_string(),
            json!({ "median_ms": median(samples.clone()), "samples": samples }),
        );
    }
    report("send_fan_out", Value::Object(fan_out));

    const COUNT: usize = 300;
    let contact = control(&sim, "POST", "/accounts", Some(json!({}))).await["phone"]
        .as_str()
        .unwrap()
        .to_owned();
    await_promise(client.disconnect()).await.unwrap();
    for i in 0..COUNT {
        control(
            &sim,
            "POST",
            "/messages",
            Some(json!({ "from": contact, "to": me_phone, "text": format!("queued {i}") })),
        )
        .await;
    }
    recorder.clear();
    // The queue drains during the login, before `open`: time from connect().
    let started = now_ms();
    await_promise(client.connect()).await.unwrap();
    let from_contact = |m: &Value| m["chat"].as_str().is_some_and(|c| c.starts_with(&contact));
    let mut waited = 0;
    while recorder
        .all("message")
        .iter()
        .filter(|m| from_contact(m))
        .count()
        < COUNT
    {
        assert!(waited < 120_000, "the queued texts did not all arrive");
        sleep(5).await;
        waited += 5;
    }
    let last = recorder
        .all("message")
        .iter()
        .filter(|m| from_contact(m))
        .count();
    assert_eq!(last, COUNT, "each text shown once");
    // The offline queue arrives in order: the last text is the last event.
    let last_text = format!("queued {}", COUNT - 1);
    let last_at = recorder
        .time_of("message", |m| m["text"] == last_text.as_str())
        .unwrap();
    let ms = last_at - started;
    report(
        "receive",
        json!({ "messages": COUNT, "ms": ms, "per_second": COUNT as f64 * 1000.0 / ms }),
    );
    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}
