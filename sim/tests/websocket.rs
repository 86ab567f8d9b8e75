//! The real socket: the WebSocket at /ws/chat and the HTTP control API.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wa_sim::{Sim, SimConfig};
use wa_wasm::binary::unpack;
use wa_wasm::noise::{CertVerifier, ClientHandshake, FrameDecoder};
use wa_wasm::pairing::QrData;

async fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, body) = http(addr, request.into_bytes()).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (status, body) = http(addr, request.into_bytes()).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn websocket_pairing_driven_through_the_control_api() {
    let sim = Sim::start(SimConfig {
        seed: Some(11),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    assert!(
        sim.banner()
            .starts_with(&format!("wa-sim listening ws=ws://{addr}/ws/chat root="))
    );
    let (_, info) = get(addr, "/control/info").await;
    assert_eq!(info["root"], sim.root_public_key_hex());

    let (mut socket, _) = tokio_tungstenite::connect_async(sim.ws_url().unwrap())
        .await
        .unwrap();
    let mut creds = Creds::new(70);
    let (hello, bytes) = ClientHandshake::start(&creds.noise, None, &mut creds.rng).unwrap();
    // Split the first message in two WebSocket messages: the server reassembles.
    socket
        .send(WsMessage::Binary(bytes[..3].to_vec().into()))
        .await
        .unwrap();
    socket
        .send(WsMessage::Binary(bytes[3..].to_vec().into()))
        .await
        .unwrap();
    let mut decoder = FrameDecoder::new();
    let next_frame = async |socket: &mut tokio_tungstenite::WebSocketStream<_>,
                            decoder: &mut FrameDecoder| loop {
        if let Some(frame) = decoder.next_frame() {
            return frame;
        }
        match socket.next().await.unwrap().unwrap() {
            WsMessage::Binary(b) => decoder.push(&b).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    };
    let frame = next_frame(&mut socket, &mut decoder).await;
    let root = hex::decode(info["root"].as_str().unwrap()).unwrap();
    let root = wa_wasm::crypto::PublicKey::from_slice(&root).unwrap();
    let finished = hello
        .read_server_hello(&frame)
        .unwrap()
        .verify(&CertVerifier::new(root), 1_750_000_000)
        .unwrap()
        .finish(&creds.payload())
        .unwrap();
    socket
        .send(WsMessage::Binary(finished.frame.into()))
        .await
        .unwrap();
    let mut transport = finished.transport;
    let frame = next_frame(&mut socket, &mut decoder).await;
    let pair_device = unpack(&transport.decrypt(&frame).unwrap()).unwrap();
    let first_ref = pair_device.child("pair-device").unwrap().child_nodes()[0]
        .content_bytes()
        .unwrap()
        .to_vec();

    let (_, pairings) = get(addr, "/control/pairings").await;
    assert_eq!(
        pairings[0]["current_ref"],
        String::from_utf8(first_ref.clone()).unwrap()
    );

    let (status, body) = post(addr, "/control/scan-qr", r#"{"qr":"nonsense"}"#).await;
    assert_eq!(status, 400, "{body}");
    let qr = QrData {
        pairing_ref: String::from_utf8(first_ref).unwrap(),
        noise_key: creds.noise.public,
        identity_key: *creds.identity().identity_key().public_key(),
        adv_secret: creds.adv_secret,
        platform: "1".to_owned(),
    }
    .encode();
    let (status, body) = post(
        addr,
        "/control/scan-qr",
        &serde_json::json!({ "qr": qr, "phone": ALICE }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jid"], format!("{ALICE}:1@s.whatsapp.net"));
    let frame = next_frame(&mut socket, &mut decoder).await;
    let success = unpack(&transport.decrypt(&frame).unwrap()).unwrap();
    assert!(success.child("pair-success").is_some());
    sim.shutdown();
}

#[tokio::test]
async fn control_api_accounts_messages_faults_and_events() {
    let sim = Sim::start(SimConfig {
        seed: Some(12),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    let (status, account) = post(
        addr,
        "/control/accounts",
        r#"{"phone":"15550009999","name":"Carol","devices":3}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(account["devices"].as_array().unwrap().len(), 3);
    let (status, _) = post(addr, "/control/accounts", r#"{"phone":"15550009999"}"#).await;
    assert_eq!(status, 400, "duplicate phone");
    let (_, accounts) = get(addr, "/control/accounts").await;
    assert_eq!(accounts.as_array().unwrap().len(), 4);

    let (status, group) = post(
        addr,
        "/control/groups",
        r#"{"subject":"G","creator":"15550009999","participants":["15550001001"]}"#,
    )
    .await;
    assert_eq!(status, 201);
    let (status, sent) = post(
        addr,
        "/control/messages",
        &serde_json::json!({"from": "15550009999", "to": group["jid"], "text": "hi group"})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let (_, received) = get(addr, "/control/accounts/15550001001/received").await;
    assert_eq!(received[0]["text"], "hi group");
    assert_eq!(received[0]["chat"], group["jid"]);

    let (status, _) = post(addr, "/control/faults", r#"{"kind":"drop_acks","count":2}"#).await;
    assert_eq!(status, 200);
    let (status, _) = post(addr, "/control/faults", r#"{"kind":"explode"}"#).await;
    assert_eq!(status, 422);
    let (status, _) = post(
        addr,
        "/control/unlink",
        r#"{"jid":"15550001001@s.whatsapp.net"}"#,
    )
    .await;
    assert_eq!(status, 400, "a phone is not a linked device");
    let (status, _) = post(addr, "/control/restart", "{}").await;
    assert_eq!(status, 200);
    let (_, events) = get(addr, "/control/events?since=0").await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["type"] == "restarted")
    );

    // CORS for the demo page.
    let (preflight, _) = http(
        addr,
        format!(
            "OPTIONS /control/messages HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://localhost:9\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(preflight, 200);
    let request = format!(
        "GET /control/info HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://localhost:9\r\nConnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response)
        .await
        .unwrap();
    assert!(
        response
            .to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{response}"
    );
    sim.shutdown();
}
