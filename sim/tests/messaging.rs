//! Messages both ways between a linked client and simulated phones: per-device
//! fan-out, pkmsg then msg, device identities, receipts, documents, the offline queue
//! and retry receipts on both sides.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use sha2::{Digest, Sha256};
use wa_sim::{ContactBehaviour, DocumentSpec, SendRequest, Sim, SimConfig, SimEvent};
use wa_wasm::binary::{Jid, Node};
use wa_wasm::message::{Document, Message};
use wa_wasm::pairing::SignedDeviceIdentity;

#[tokio::test]
async fn contact_text_reaches_the_client_pkmsg_then_msg() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 30).await;

    let sent = sim.send_text(ALICE, ME, "hola").unwrap();
    assert_eq!(sent.delivered_to, [creds.me.clone().unwrap().to_string()]);
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.str_attr("id"), Some(sent.id.as_str()));
    assert_eq!(stanza.required_jid("from").unwrap(), Jid::pn(ALICE));
    assert_eq!(stanza.str_attr("notify"), Some("Alice"));
    assert_eq!(
        stanza.required_jid("sender_lid").unwrap(),
        sim.account(ALICE).unwrap().lid.parse::<Jid>().unwrap()
    );
    let enc = stanza.child("enc").unwrap();
    assert_eq!(enc.str_attr("type"), Some("pkmsg"));
    assert_eq!(enc.str_attr("v"), Some("2"));
    assert!(
        stanza.child("device-identity").is_none(),
        "a phone (device 0) has no device identity"
    );
    let messages = decrypt_stanza(&mut creds, &stanza);
    assert_eq!(messages[0].text.as_deref(), Some("hola"));
    send_receipt(&mut client, &stanza, None);

    let second = sim.send_text(ALICE, ME, "¿qué tal?").unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(
        stanza.child("enc").unwrap().str_attr("type"),
        Some("pkmsg"),
        "still pkmsg until the client answers"
    );
    assert_eq!(
        decrypt_stanza(&mut creds, &stanza)[0].text.as_deref(),
        Some("¿qué tal?")
    );
    send_receipt(&mut client, &stanza, Some("read"));

    let seq = sim.last_event_seq();
    event(
        &sim,
        0,
        "read receipt",
        |e| matches!(e, SimEvent::Receipt(r) if r.id == second.id && r.kind == "read"),
    )
    .await;
    let receipts = sim.receipts(ALICE);
    assert!(
        receipts
            .iter()
            .any(|r| r.id == sent.id && r.kind == "delivery")
    );
    let _ = seq;

    // Once the client replies, Alice's session is confirmed: msg from now on.
    let alice = Jid::pn(ALICE);
    send_direct(
        &mut client,
        &mut creds,
        &alice,
        std::slice::from_ref(&alice),
        &Message::text("bien"),
    )
    .await;
    event(
        &sim,
        0,
        "alice got the reply",
        |e| matches!(e, SimEvent::MessageReceived(m) if m.text.as_deref() == Some("bien")),
    )
    .await;
    sim.send_text(ALICE, ME, "genial").unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.child("enc").unwrap().str_attr("type"), Some("msg"));
    assert_eq!(
        decrypt_stanza(&mut creds, &stanza)[0].text.as_deref(),
        Some("genial")
    );
}

#[tokio::test]
async fn companion_of_a_contact_attaches_its_device_identity() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 31).await;
    let bob_companion = Jid::pn(BOB).with_device(1);
    sim.send_text(&bob_companion.to_string(), ME, "from my laptop")
        .unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.required_jid("from").unwrap(), bob_companion);
    let identity = stanza
        .child("device-identity")
        .unwrap()
        .content_bytes()
        .unwrap();
    let signed = SignedDeviceIdentity::decode(identity).unwrap();
    let messages = decrypt_stanza(&mut creds, &stanza);
    assert_eq!(messages[0].text.as_deref(), Some("from my laptop"));
    // The account key is Bob's phone identity, and it vouches for this device's key.
    let bob_phone_identity = {
        let fetch = client.iq(
            "encrypt",
            "get",
            vec![Node::new("key").children([Node::new("user").attr("jid", Jid::pn(BOB))])],
        );
        let answer = client.query(fetch).await;
        parse_bundle(
            answer.child("list").unwrap().child_nodes().first().unwrap(),
            0,
        )
        .identity_key
    };
    assert_eq!(
        signed.account_signature_key,
        Some(*bob_phone_identity.public_key())
    );
    let device_identity = creds
        .signal
        .session_bytes(&address(&bob_companion))
        .map(|_| ());
    assert!(device_identity.is_some());
}

#[tokio::test]
async fn client_text_fans_out_per_device_with_receipts() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 32).await;
    let bob = Jid::pn(BOB);
    let devices = [bob.clone(), bob.clone().with_device(1), Jid::pn(ME)];
    let seq = sim.last_event_seq();
    let id = send_direct(
        &mut client,
        &mut creds,
        &bob,
        &devices,
        &Message::text("hi Bob"),
    )
    .await;
    event(&sim, seq, "routed", |e| {
        matches!(e, SimEvent::MessageFromClient { copies: 3, .. })
    })
    .await;
    let received = sim.received(BOB);
    assert_eq!(received.len(), 2, "both of Bob's devices decrypted it");
    assert!(
        received
            .iter()
            .all(|m| m.text.as_deref() == Some("hi Bob") && m.id == id)
    );
    assert!(received.iter().all(|m| m.chat == Jid::pn(ME).to_string()));
    let mine = sim.received(ME);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].from_own_device);
    assert_eq!(
        mine[0].chat,
        bob.to_string(),
        "the phone sees the sent message in Bob's chat"
    );

    // Delivery receipts from each of Bob's devices, a `sender` receipt from our phone.
    let mut from = Vec::new();
    for _ in 0..3 {
        let receipt = client
            .expect("receipt", |n| {
                n.tag == "receipt" && n.str_attr("id") == Some(id.as_str())
            })
            .await;
        from.push((
            receipt.required_jid("from").unwrap().to_string(),
            receipt.str_attr("type").map(str::to_owned),
        ));
        client.send(
            &Node::new("ack")
                .attr("class", "receipt")
                .attr("id", id.as_str())
                .attr("to", receipt.required_jid("from").unwrap()),
        );
    }
    from.sort();
    assert_eq!(
        from,
        [
            (format!("{ME}@s.whatsapp.net"), Some("sender".to_owned())),
            (format!("{BOB}:1@s.whatsapp.net"), None),
            (format!("{BOB}@s.whatsapp.net"), None),
        ]
    );
    // Acked receipts are not redelivered.
    let ping = client.iq("w:p", "get", vec![]);
    client.query(ping).await;
    assert_eq!(sim.account(ME).unwrap().devices[1].queued, 0);
}

#[tokio::test]
async fn documents_both_ways_through_the_media_server() {
    let sim = Sim::start(SimConfig {
        seed: Some(9),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    let (mut client, mut creds) = linked_client(&sim, 33).await;

    // Contact → client.
    let pdf = b"%PDF-1.7 ticket".to_vec();
    sim.send(SendRequest {
        from: ALICE.to_owned(),
        to: ME.to_owned(),
        text: None,
        document: Some(DocumentSpec {
            file_name: "ticket.pdf".to_owned(),
            mimetype: None,
            data_base64: STANDARD.encode(&pdf),
            caption: Some("your ticket".to_owned()),
        }),
    })
    .unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.str_attr("type"), Some("media"));
    assert_eq!(
        stanza.child("enc").unwrap().str_attr("mediatype"),
        Some("document")
    );
    let document = decrypt_stanza(&mut creds, &stanza)[0]
        .document
        .clone()
        .unwrap();
    assert_eq!(document.file_name, "ticket.pdf");
    assert_eq!(document.caption.as_deref(), Some("your ticket"));
    let (_, blob) = http(
        addr,
        format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
            document.direct_path
        )
        .into_bytes(),
    )
    .await;
    let key: [u8; 32] = document.media_key.clone().try_into().unwrap();
    let opened = wa_wasm::media::decrypt(
        &blob,
        &key,
        wa_wasm::media::MediaType::Document,
        Some(&document.file_enc_sha256),
    )
    .unwrap();
    assert_eq!(opened, pdf);

    // Client → contact: upload, then send the document message.
    let key = [5u8; 32];
    let sealed =
        wa_wasm::media::encrypt(b"invoice body", &key, wa_wasm::media::MediaType::Document);
    let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&sealed.data));
    let mut upload = format!(
        "POST /mms/document/{token}?auth=x&token={token} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        sealed.data.len()
    )
    .into_bytes();
    upload.extend_from_slice(&sealed.data);
    let answer: serde_json::Value = serde_json::from_slice(&http(addr, upload).await.1).unwrap();
    let message = Message::document(Document {
        mimetype: "application/pdf".to_owned(),
        file_name: "invoice.pdf".to_owned(),
        title: "invoice.pdf".to_owned(),
        file_sha256: sealed.file_sha256.to_vec(),
        file_enc_sha256: sealed.file_enc_sha256.to_vec(),
        file_length: sealed.file_length,
        media_key: key.to_vec(),
        direct_path: answer["direct_path"].as_str().unwrap().to_owned(),
        url: answer["url"].as_str().unwrap().to_owned(),
        ..Document::default()
    });
    let alice = Jid::pn(ALICE);
    let seq = sim.last_event_seq();
    send_direct(
        &mut client,
        &mut creds,
        &alice,
        std::slice::from_ref(&alice),
        &message,
    )
    .await;
    let received = event(
        &sim,
        seq,
        "document received",
        |e| matches!(e, SimEvent::MessageReceived(m) if m.document.is_some()),
    )
    .await;
    let SimEvent::MessageReceived(received) = received else {
        unreachable!()
    };
    let document = received.document.unwrap();
    assert_eq!(document.file_name, "invoice.pdf");
    assert_eq!(
        STANDARD.decode(document.data_base64.unwrap()).unwrap(),
        b"invoice body"
    );
    sim.shutdown();
}

#[tokio::test]
async fn offline_queue_is_delivered_on_reconnect_until_acknowledged() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 34).await;
    client.close();
    // Wait until the server saw the close.
    event(&sim, 0, "closed", |e| {
        matches!(
            e,
            SimEvent::ConnectionClosed {
                device: Some(_),
                ..
            }
        )
    })
    .await;
    let first = sim.send_text(ALICE, ME, "one").unwrap();
    let second = sim.send_text(BOB, ME, "two").unwrap();
    assert_eq!(sim.account(ME).unwrap().devices[1].queued, 2);

    let (mut client, offline) = login(&sim, &mut creds).await;
    assert_eq!(offline.len(), 2);
    assert!(offline.iter().all(|n| n.str_attr("offline").is_some()));
    assert_eq!(offline[0].str_attr("id"), Some(first.id.as_str()));
    assert_eq!(
        decrypt_stanza(&mut creds, &offline[0])[0].text.as_deref(),
        Some("one")
    );
    // Only the first is acknowledged (receipt) before the link drops.
    send_receipt(&mut client, &offline[0], None);
    let ping = client.iq("w:p", "get", vec![]);
    client.query(ping).await;
    let seq = sim.last_event_seq();
    client.close();
    event(&sim, seq, "closed again", |e| {
        matches!(
            e,
            SimEvent::ConnectionClosed {
                device: Some(_),
                ..
            }
        )
    })
    .await;

    let (_client, offline) = login(&sim, &mut creds).await;
    assert_eq!(offline.len(), 1, "the acknowledged one is gone");
    assert_eq!(offline[0].str_attr("id"), Some(second.id.as_str()));
    assert_eq!(
        decrypt_stanza(&mut creds, &offline[0])[0].text.as_deref(),
        Some("two")
    );
}

#[tokio::test]
async fn client_retry_receipt_gets_a_resend_with_fresh_keys() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 35).await;
    let sent = sim.send_text(ALICE, ME, "lost").unwrap();
    let stanza = next_message(&mut client).await;
    // Pretend it failed: first retry without keys.
    let registration =
        wa_wasm::signal::store::IdentityStore::local_registration_id(&creds.signal).value();
    let retry = |count: u32, keys: Option<Node>| {
        let mut children = vec![
            Node::new("retry")
                .attr("count", count)
                .attr("id", sent.id.as_str())
                .attr("t", stanza.str_attr("t").unwrap())
                .attr("v", "1"),
            Node::new("registration").bytes(registration.to_be_bytes().to_vec()),
        ];
        children.extend(keys);
        Node::new("receipt")
            .attr("id", sent.id.as_str())
            .attr("to", Jid::pn(ALICE))
            .attr("type", "retry")
            .children(children)
    };
    client.send(&retry(1, None));
    let resend = next_message(&mut client).await;
    assert_eq!(resend.str_attr("id"), Some(sent.id.as_str()));
    assert_eq!(resend.child("enc").unwrap().str_attr("count"), Some("1"));

    // Second retry with a fresh bundle: Alice builds a new session from it.
    let identity = creds.identity();
    let pre_key =
        wa_wasm::signal::PreKey::generate(wa_wasm::signal::PreKeyId(9000), &mut creds.rng);
    creds.signal.add_pre_key(&pre_key);
    let keys = Node::new("keys").children([
        Node::new("type").bytes(vec![5]),
        Node::new("identity").bytes(identity.identity_key().public_key().as_bytes().to_vec()),
        Node::new("key").children([
            Node::new("id").bytes(vec![0, 0x23, 0x28]),
            Node::new("value").bytes(pre_key.key_pair.public.as_bytes().to_vec()),
        ]),
        Node::new("skey").children([
            Node::new("id").bytes(vec![0, 0, 1]),
            Node::new("value").bytes(creds.signed.key_pair.public.as_bytes().to_vec()),
            Node::new("signature").bytes(creds.signed.signature.to_vec()),
        ]),
        Node::new("device-identity").bytes(creds.account.clone().unwrap()),
    ]);
    client.send(&retry(2, Some(keys)));
    let resend = next_message(&mut client).await;
    let enc = resend.child("enc").unwrap();
    assert_eq!(enc.str_attr("count"), Some("2"));
    assert_eq!(enc.str_attr("type"), Some("pkmsg"));
    let pkmsg =
        wa_wasm::signal::PreKeySignalMessage::from_bytes(enc.content_bytes().unwrap()).unwrap();
    assert_eq!(pkmsg.pre_key_id(), Some(wa_wasm::signal::PreKeyId(9000)));
    assert_eq!(
        decrypt_stanza(&mut creds, &resend)[0].text.as_deref(),
        Some("lost")
    );
    assert_eq!(
        sim.receipts(ALICE)
            .iter()
            .filter(|r| r.kind == "retry")
            .count(),
        2
    );
}

#[tokio::test]
async fn contact_that_cannot_decrypt_asks_for_a_retry() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 36).await;
    sim.set_behaviour(
        ALICE,
        ContactBehaviour {
            corrupt_next: 1,
            ..ContactBehaviour::default()
        },
    )
    .unwrap();
    let alice = Jid::pn(ALICE);
    let seq = sim.last_event_seq();
    let id = send_direct(
        &mut client,
        &mut creds,
        &alice,
        std::slice::from_ref(&alice),
        &Message::text("first"),
    )
    .await;
    event(&sim, seq, "decrypt failure", |e| {
        matches!(e, SimEvent::DecryptFailed { .. })
    })
    .await;
    let retry = client
        .expect("retry receipt", |n| {
            n.tag == "receipt" && n.str_attr("type") == Some("retry")
        })
        .await;
    assert_eq!(retry.str_attr("id"), Some(id.as_str()));
    assert_eq!(retry.child("retry").unwrap().str_attr("count"), Some("1"));
    assert_eq!(retry.child_bytes("registration").unwrap().len(), 4);
    assert!(
        retry.child("keys").is_none(),
        "keys only from the second retry"
    );

    // Re-send to that device only, with count=1.
    let enc = encrypt_for(&mut creds, &alice, &Message::text("first")).attr("count", "1");
    client.send(
        &Node::new("message")
            .attr("id", id.as_str())
            .attr("to", alice.clone())
            .attr("type", "text")
            .attr("device_fanout", "false")
            .children([
                enc,
                Node::new("device-identity").bytes(creds.account.clone().unwrap()),
            ]),
    );
    let received = event(
        &sim,
        seq,
        "decrypted on retry",
        |e| matches!(e, SimEvent::MessageReceived(m) if m.retry_count == 1),
    )
    .await;
    let SimEvent::MessageReceived(received) = received else {
        unreachable!()
    };
    assert_eq!(received.text.as_deref(), Some("first"));
}

#[tokio::test]
async fn dropped_messages_get_no_receipt() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 37).await;
    sim.set_behaviour(
        ALICE,
        ContactBehaviour {
            drop_next: 1,
            ..ContactBehaviour::default()
        },
    )
    .unwrap();
    let alice = Jid::pn(ALICE);
    send_direct(
        &mut client,
        &mut creds,
        &alice,
        std::slice::from_ref(&alice),
        &Message::text("void"),
    )
    .await;
    let id = send_direct(
        &mut client,
        &mut creds,
        &alice,
        std::slice::from_ref(&alice),
        &Message::text("seen"),
    )
    .await;
    let receipt = client.expect("receipt", |n| n.tag == "receipt").await;
    assert_eq!(
        receipt.str_attr("id"),
        Some(id.as_str()),
        "no receipt for the dropped one"
    );
    let texts: Vec<Option<String>> = sim.received(ALICE).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, [Some("seen".to_owned())]);
}

#[tokio::test]
async fn lid_addressed_messages_and_receipts_to_lids() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 38).await;
    sim.set_behaviour(
        ALICE,
        ContactBehaviour {
            lid_addressing: true,
            ..ContactBehaviour::default()
        },
    )
    .unwrap();
    let alice_lid: Jid = sim.account(ALICE).unwrap().lid.parse().unwrap();
    let sent = sim.send_text(ALICE, ME, "via lid").unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.required_jid("from").unwrap(), alice_lid);
    assert_eq!(stanza.required_jid("sender_pn").unwrap(), Jid::pn(ALICE));
    assert!(!stanza.has_attr("sender_lid"));
    assert_eq!(
        decrypt_stanza(&mut creds, &stanza)[0].text.as_deref(),
        Some("via lid")
    );
    send_receipt(&mut client, &stanza, None);
    event(
        &sim,
        0,
        "receipt addressed to the LID",
        |e| matches!(e, SimEvent::Receipt(r) if r.id == sent.id),
    )
    .await;
    // The client answers the LID; the server routes it to Alice's phone.
    let seq = sim.last_event_seq();
    send_direct(
        &mut client,
        &mut creds,
        &alice_lid,
        std::slice::from_ref(&alice_lid),
        &Message::text("back via lid"),
    )
    .await;
    event(
        &sim,
        seq,
        "Alice decrypts",
        |e| matches!(e, SimEvent::MessageReceived(m) if m.text.as_deref() == Some("back via lid")),
    )
    .await;
    let receipt = client.expect("receipt", |n| n.tag == "receipt").await;
    client.send(
        &Node::new("ack")
            .attr("class", "receipt")
            .attr("id", receipt.str_attr("id").unwrap())
            .attr("to", receipt.required_jid("from").unwrap()),
    );
    let ping = client.iq("w:p", "get", vec![]);
    client.query(ping).await;
    assert_eq!(sim.account(ME).unwrap().devices[1].queued, 0);
}
