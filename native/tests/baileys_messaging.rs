//! Interop: a text and a PDF sent by this engine are decrypted by the real
//! Baileys client (linked to a contact's phone in wa-sim), and Baileys' text
//! and PDF are decrypted (and the PDF downloaded and opened) by the engine (`tests/interop/baileys_messaging.mjs`). Real
//! time, WebSocket and HTTP on loopback. Needs Node and `npm ci`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::time::Duration;
use std::path::Path;
use std::process::Stdio;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use wa_native::{Clock, Driver, WsConnector};
use wa_sim::{Sim, SimConfig};
use wa_wasm::binary::Jid;
use wa_wasm::client::{ClientConfig, ConnectionState, DocumentUpload, Event, MessageContent};
use wa_wasm::store::{MemoryStore, load_auth};

const WAIT: Duration = Duration::from_secs(60);
const ME: &str = wa_sim::DEFAULT_ME_PHONE;
const ALICE: &str = "15550001001";

fn pdf() -> Vec<u8> {
    let mut data = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    data.extend((0..20_000u32).map(|i| (i.wrapping_mul(31) % 251) as u8));
    data.extend_from_slice(b"\n%%EOF\n");
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_and_the_engine_exchange_a_text_and_a_pdf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        root.join("node_modules/baileys").exists(),
        "node_modules/baileys is not installed: run `npm ci`"
    );
    let sim = Sim::start(SimConfig {
        seed: Some(11),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let store = MemoryStore::new();
    let auth = load_auth(&store).await.unwrap();
    let config = ClientConfig::new(sim.ws_url().unwrap(), sim.root_public_key());
    let (driver, handle, mut events) = Driver::new(
        config,
        auth,
        store,
        WsConnector,
        Clock::system(),
        StdRng::seed_from_u64(5),
    );
    tokio::spawn(driver.run());
    handle.connect().await.unwrap();
    let Some(Event::Qr { code, .. }) = events
        .wait_for(WAIT, |e| matches!(e, Event::Qr { .. }))
        .await
    else {
        panic!("no QR");
    };
    sim.scan_qr(None, &code).unwrap();
    events
        .wait_for(
            WAIT,
            |e| matches!(e, Event::Connection(u) if u.state == ConnectionState::Open),
        )
        .await
        .expect("open");

    let pdf_path =
        std::env::temp_dir().join(format!("wa-native-interop-{}.pdf", std::process::id()));
    std::fs::write(&pdf_path, pdf()).unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg("tests/interop/baileys_messaging.mjs")
        .current_dir(root)
        .env("WA_SIM_WS", sim.ws_url().unwrap())
        .env("WA_SIM_CONTROL", sim.control_url().unwrap())
        .env("WA_ME", ME)
        .env("WA_CONTACT", ALICE)
        .env("WA_PDF", &pdf_path)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("Baileys answered in time")
            .unwrap()
            .expect("Baileys is still running")
    };
    assert_eq!(next_line().await, "READY");

    let alice = Jid::pn(ALICE);
    handle
        .send_text(&alice, "hello from wa-wasm")
        .await
        .unwrap();
    assert_eq!(next_line().await, "GOT_TEXT hello from wa-wasm");
    handle
        .send_document(
            &alice,
            DocumentUpload {
                data: pdf(),
                file_name: "quote.pdf".into(),
                mimetype: "application/pdf".into(),
                caption: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        next_line().await,
        format!("GOT_PDF {} quote.pdf", hex::encode(Sha256::digest(pdf())))
    );
    let sent = next_line().await;
    let id = sent.strip_prefix("SENT ").expect("Baileys sent its reply");
    let Some(Event::Message(message)) = events
        .wait_for(WAIT, |e| matches!(e, Event::Message(m) if m.id == id))
        .await
    else {
        panic!("the engine did not get Baileys' reply");
    };
    assert_eq!(message.chat, alice);
    assert_ne!(
        message.sender.device(),
        0,
        "from Baileys, a companion of Alice"
    );
    assert_eq!(
        message.content,
        MessageContent::Text("hello from Baileys".into())
    );

    // Baileys' PDF: decrypted by the engine, downloaded and opened (MAC checked).
    let sent = next_line().await;
    let id = sent
        .strip_prefix("SENT_PDF ")
        .expect("Baileys sent its PDF")
        .to_owned();
    let Some(Event::Message(message)) = events
        .wait_for(WAIT, |e| matches!(e, Event::Message(m) if m.id == id))
        .await
    else {
        panic!("the engine did not get Baileys' PDF");
    };
    let MessageContent::Document(document) = message.content else {
        panic!("not a document: {:?}", message.content);
    };
    assert_eq!(document.file_name, "reply.pdf");
    assert_eq!(document.mimetype, "application/pdf");
    let download = handle.download_document(&document).await.unwrap();
    let Some(Event::MediaDownloaded { id, result }) = events
        .wait_for(WAIT, |e| matches!(e, Event::MediaDownloaded { .. }))
        .await
    else {
        panic!("no download");
    };
    assert_eq!(id, download);
    assert_eq!(result.unwrap(), pdf());
    let _ = std::fs::remove_file(&pdf_path);
    let _ = node.start_kill();
    sim.shutdown();
}
