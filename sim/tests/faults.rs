//! Fault injection, unlinking, replacement, restarts and bad input.

mod common;

use std::time::Duration;

use common::*;
use wa_sim::{Fault, FaultRequest, Sim, SimConfig, SimEvent};
use wa_wasm::binary::{Jid, Node};
use wa_wasm::message::Message;

fn fault(fault: Fault, target: Option<&Jid>) -> FaultRequest {
    FaultRequest {
        fault,
        target: target.map(ToString::to_string),
    }
}

#[tokio::test]
async fn stream_errors_with_every_code() {
    let sim = local_sim();
    let mut creds = link_by_qr(&sim, 50).await;
    let me = creds.me.clone().unwrap();
    for code in [401, 403, 405, 408, 428, 440, 500, 503, 515] {
        let (mut client, _) = login(&sim, &mut creds).await;
        sim.inject(fault(Fault::StreamError { code }, Some(&me)))
            .unwrap();
        let error = client.next().await.unwrap();
        assert_eq!(error.tag, "stream:error");
        match code {
            401 => {
                assert_eq!(error.str_attr("code"), Some("401"));
                assert_eq!(
                    error.child("conflict").unwrap().str_attr("type"),
                    Some("device_removed")
                );
            }
            440 => {
                assert_eq!(error.str_attr("code"), None);
                assert_eq!(
                    error.child("conflict").unwrap().str_attr("type"),
                    Some("replaced")
                );
            }
            code => assert_eq!(error.str_attr("code"), Some(code.to_string().as_str())),
        }
        assert!(client.closed().await.is_empty(), "closed after {code}");
    }
}

#[tokio::test]
async fn failure_at_next_login_then_normal() {
    let sim = local_sim();
    let mut creds = link_by_qr(&sim, 51).await;
    let me = creds.me.clone().unwrap();
    for reason in [403, 405, 500, 503] {
        sim.inject(fault(Fault::FailureAtNextLogin { reason }, Some(&me)))
            .unwrap();
        let mut client = Client::connect(&sim, &mut creds).await.unwrap();
        let failure = client.next().await.unwrap();
        assert_eq!(failure.tag, "failure");
        assert_eq!(
            failure.str_attr("reason"),
            Some(reason.to_string().as_str())
        );
        assert!(client.closed().await.is_empty());
    }
    login(&sim, &mut creds).await;
}

#[tokio::test(start_paused = true)]
async fn dropped_and_delayed_acks() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 52).await;
    let alice = Jid::pn(ALICE);
    ensure_sessions(&mut client, &mut creds, std::slice::from_ref(&alice)).await;

    let send = |client: &mut Client, creds: &mut Creds, id: &str| {
        let enc = encrypt_for(creds, &alice, &Message::text(id));
        client.send(
            &Node::new("message")
                .attr("id", id)
                .attr("to", alice.clone())
                .attr("type", "text")
                .children([
                    Node::new("participants")
                        .children([Node::new("to").attr("jid", alice.clone()).children([enc])]),
                    Node::new("device-identity").bytes(creds.account.clone().unwrap()),
                ]),
        );
    };
    sim.inject(fault(Fault::DropAcks { count: 1 }, None))
        .unwrap();
    send(&mut client, &mut creds, "M1");
    send(&mut client, &mut creds, "M2");
    let ack = client.expect("ack", |n| n.tag == "ack").await;
    assert_eq!(ack.str_attr("id"), Some("M2"), "the first ack was dropped");

    sim.inject(fault(
        Fault::DelayAcks {
            ms: 5_000,
            count: 1,
        },
        None,
    ))
    .unwrap();
    let start = tokio::time::Instant::now();
    send(&mut client, &mut creds, "M3");
    let ack = client
        .expect("ack", |n| n.tag == "ack" && n.str_attr("id") == Some("M3"))
        .await;
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(ack.str_attr("class"), Some("message"));
    assert_eq!(
        sim.received(ALICE).len(),
        3,
        "the messages themselves went through"
    );
}

#[tokio::test]
async fn corrupted_and_truncated_frames() {
    let sim = local_sim();
    let (mut client, _creds) = linked_client(&sim, 53).await;
    sim.inject(fault(Fault::CorruptNextFrame, None)).unwrap();
    let ping = client.iq("w:p", "get", vec![]);
    client.send(&ping);
    let frame = client.next_frame().await.unwrap();
    assert!(
        !client.try_decrypt(&frame),
        "the corrupted frame fails authentication"
    );

    let (mut client, _creds) = linked_client(&sim, 54).await;
    sim.inject(fault(Fault::TruncateNextFrame, None)).unwrap();
    let ping = client.iq("w:p", "get", vec![]);
    client.send(&ping);
    assert_eq!(
        client.next_frame().await,
        None,
        "half a frame, then the socket closes"
    );
}

#[tokio::test(start_paused = true)]
async fn black_hole_then_recovery() {
    let sim = local_sim();
    let (mut client, creds) = linked_client(&sim, 55).await;
    let me = creds.me.clone().unwrap();
    sim.inject(fault(Fault::BlackHole, Some(&me))).unwrap();
    client.wait = Duration::from_secs(60);
    let ping = client.iq("w:p", "get", vec![]);
    client.send(&ping);
    let silent = tokio::time::timeout(Duration::from_secs(30), client.next()).await;
    assert!(silent.is_err(), "no answer while black-holed");
    sim.inject(fault(Fault::Clear, None)).unwrap();
    let ping = client.iq("w:p", "get", vec![]);
    assert_eq!(client.query(ping).await.str_attr("type"), Some("result"));
}

#[tokio::test]
async fn close_now_unlink_and_replacement() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 56).await;
    sim.inject(fault(Fault::CloseNow, None)).unwrap();
    assert!(client.closed().await.is_empty());

    // A second login of the same device replaces the first (440, conflict replaced).
    let (mut first, _) = login(&sim, &mut creds).await;
    let (mut second, _) = login(&sim, &mut creds).await;
    let error = first.next().await.unwrap();
    assert_eq!(
        error.child("conflict").unwrap().str_attr("type"),
        Some("replaced")
    );
    assert!(first.closed().await.is_empty());

    // The phone unlinks the device.
    let me = creds.me.clone().unwrap();
    sim.unlink(&me.to_string()).unwrap();
    let error = second.next().await.unwrap();
    assert_eq!(error.str_attr("code"), Some("401"));
    assert_eq!(
        error.child("conflict").unwrap().str_attr("type"),
        Some("device_removed")
    );
    assert!(second.closed().await.is_empty());
    let mut again = Client::connect(&sim, &mut creds).await.unwrap();
    assert_eq!(again.next().await.unwrap().str_attr("reason"), Some("401"));
    assert!(
        sim.unlink(&Jid::pn(ALICE).to_string()).is_err(),
        "phones cannot be unlinked"
    );
}

#[tokio::test]
async fn restart_keeps_accounts_devices_and_queues() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 57).await;
    let root = sim.root_public_key();
    sim.restart().await.unwrap();
    assert!(
        client.closed().await.is_empty(),
        "restart drops every socket"
    );
    assert_eq!(sim.root_public_key(), root);
    sim.send_text(ALICE, ME, "after restart").unwrap();
    let (_client, offline) = login(&sim, &mut creds).await;
    assert_eq!(
        decrypt_stanza(&mut creds, &offline[0])[0].text.as_deref(),
        Some("after restart")
    );
}

#[tokio::test]
async fn state_file_survives_a_new_process() {
    let dir = std::env::temp_dir().join(format!("wa-sim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let _ = std::fs::remove_file(&path);
    let config = SimConfig {
        seed: Some(5),
        state_path: Some(path.clone()),
        ..SimConfig::default()
    };
    let sim = Sim::start_local(config.clone()).unwrap();
    let (mut client, mut creds) = linked_client(&sim, 58).await;
    sim.send_text(BOB, ME, "kept").unwrap();
    let _ = next_message(&mut client).await;
    client.close();
    let root = sim.root_public_key();
    sim.shutdown();
    sim.save().unwrap();

    let revived = Sim::start_local(SimConfig {
        seed: Some(6),
        ..config
    })
    .unwrap();
    assert_eq!(revived.root_public_key(), root, "same root after a restart");
    let (mut client, offline) = login(&revived, &mut creds).await;
    assert_eq!(
        offline.len(),
        1,
        "the unacknowledged message is still queued"
    );
    assert_eq!(
        decrypt_stanza(&mut creds, &offline[0])[0].text.as_deref(),
        Some("kept")
    );
    send_receipt(&mut client, &offline[0], None);
    // Bob's session with us survived too: the next message decrypts on it.
    revived.send_text(BOB, ME, "still here").unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(
        decrypt_stanza(&mut creds, &stanza)[0].text.as_deref(),
        Some("still here")
    );
    revived.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_input_is_answered_and_the_server_stays_up() {
    let sim = local_sim();
    let seq = sim.last_event_seq();

    // Not a WA stream at all.
    let mut link = sim.connect_local();
    link.send(b"GET / HTTP/1.1\r\n\r\n".to_vec()).unwrap();
    assert_eq!(link.recv().await, None);

    // A frame that does not decrypt.
    let (mut client, _) = linked_client(&sim, 59).await;
    client.send_raw(vec![
        0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ]);
    assert!(client.closed().await.is_empty());

    // A frame that decrypts to garbage: stream error, then close.
    let (mut client, _) = linked_client(&sim, 60).await;
    client.send_plaintext(&[0, 0xf8, 0xff, 0xff]);
    let error = client.next().await.unwrap();
    assert_eq!(error.tag, "stream:error");
    assert!(error.child("xml-not-well-formed").is_some());
    assert!(client.closed().await.is_empty());

    // Malformed stanzas get typed answers and the connection stays up.
    let (mut client, _) = linked_client(&sim, 61).await;
    client.send(&Node::new("message").attr("id", "X1"));
    let ack = client.expect("error ack", |n| n.tag == "ack").await;
    assert_eq!(ack.str_attr("error"), Some("400"));
    client.send(&Node::new("weird-stanza"));
    client.send(
        &Node::new("message")
            .attr("id", "X2")
            .attr("to", Jid::pn("19999999999"))
            .children([Node::new("participants")]),
    );
    let ack = client.expect("error ack", |n| n.tag == "ack").await;
    assert_eq!(ack.str_attr("error"), Some("404"));
    let upload = Node::new("iq")
        .attr("id", "bad-keys")
        .attr("type", "set")
        .attr("xmlns", "encrypt")
        .children([Node::new("list")
            .children([Node::new("key").children([Node::new("id").bytes(vec![1])])])]);
    assert_eq!(client.query(upload).await.str_attr("type"), Some("error"));
    let ping = client.iq("w:p", "get", vec![]);
    assert_eq!(client.query(ping).await.str_attr("type"), Some("result"));
    // An iq without an id: stream error.
    client.send(&Node::new("iq").attr("type", "get").attr("xmlns", "w:p"));
    let error = client
        .expect("stream error", |n| n.tag == "stream:error")
        .await;
    assert!(error.child("bad-request").is_some());

    let rejections = sim
        .events_since(seq)
        .into_iter()
        .filter(|r| matches!(r.event, SimEvent::StanzaRejected { .. }))
        .count();
    assert!(rejections >= 3, "{rejections}");
    // And new clients are still served.
    let (_client, _creds) = linked_client(&sim, 62).await;
}
