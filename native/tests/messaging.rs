//! Messaging through the tokio driver against wa-sim in-process, in virtual
//! time: receiving from contacts with several devices, sending with per-device
//! fan-out, receipts, the offline queue, reloads between decryption and ack,
//! retries both ways, LID addressing and re-installed contacts.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use core::time::Duration;

use common::harness::Harness;
use common::sim::SimHarness;
use wa_sim::{ContactBehaviour, Fault, SimEvent};
use wa_wasm::binary::Jid;
use wa_wasm::client::{
    ConnectionState, Event, IncomingMessage, MessageContent, MessageStatus, ReceiptKind,
    SendFailure, Stats,
};
use wa_wasm::store::Namespace;

const MINUTE: Duration = Duration::from_secs(60);
const ME: &str = wa_sim::DEFAULT_ME_PHONE;
const ALICE: &str = "15550001001";
const BOB: &str = "15550001002";

/// Links by QR and waits until the pre-keys are uploaded.
async fn linked() -> SimHarness {
    let mut h = SimHarness::new();
    link(&mut h).await;
    h
}

async fn link(h: &mut SimHarness) {
    h.start_client().await;
    h.connect().await.unwrap();
    let (qr, _) = h.wait_qr(MINUTE).await.expect("a QR code");
    h.scan(&qr);
    h.wait_state(ConnectionState::Open, MINUTE)
        .await
        .expect("open");
    h.wait_event(MINUTE, &mut |e| matches!(e, Event::PreKeysUploaded { .. }))
        .await
        .expect("pre-keys uploaded");
}

/// Reloads the client from its store and connects (messages queued while
/// it was away may arrive before `open`).
async fn reload(h: &mut SimHarness) {
    h.start_client().await;
    h.connect().await.unwrap();
}

async fn next_message(h: &mut SimHarness) -> IncomingMessage {
    match h
        .wait_event(MINUTE, &mut |e| matches!(e, Event::Message(_)))
        .await
    {
        Some(Event::Message(message)) => *message,
        other => panic!("no message: {other:?}"),
    }
}

fn text(message: &IncomingMessage) -> &str {
    match &message.content {
        MessageContent::Text(text) => text,
        other => panic!("not a text: {other:?}"),
    }
}

async fn status(h: &mut SimHarness, id: &str, wanted: fn(&MessageStatus) -> bool) -> MessageStatus {
    match h
        .wait_event(
            MINUTE,
            &mut |e| matches!(e, Event::MessageStatus(u) if u.id == id && wanted(&u.status)),
        )
        .await
    {
        Some(Event::MessageStatus(update)) => update.status,
        other => panic!("no status for {id}: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn texts_from_a_contact_arrive_once_and_are_acknowledged() {
    let mut h = linked().await;
    let first = h.sim.send_text(ALICE, ME, "hola").unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(message.id, first.id);
    assert_eq!(message.chat, Jid::pn(ALICE));
    assert_eq!(message.sender, Jid::pn(ALICE));
    assert!(!message.from_me);
    assert_eq!(message.push_name.as_deref(), Some("Alice"));
    assert_eq!(text(&message), "hola");
    let second = h.sim.send_text(ALICE, ME, "¿qué tal?").unwrap();
    assert_eq!(text(&next_message(&mut h).await), "¿qué tal?");
    // Delivery receipts reached Alice for both.
    h.sim
        .wait_for_event(
            0,
            MINUTE,
            "receipt",
            |e| matches!(e, SimEvent::Receipt(r) if r.id == second.id),
        )
        .await
        .unwrap();
    let receipts = h.sim.receipts(ALICE);
    assert!(
        receipts
            .iter()
            .any(|r| r.id == first.id && r.kind == "delivery")
    );
    assert!(
        receipts
            .iter()
            .any(|r| r.id == second.id && r.kind == "delivery")
    );
    assert!(h.stored_records_in(Namespace::Sessions) >= 1);
    assert!(h.stored_records_in(Namespace::ProcessedMessages) >= 2);

    // Both marked read with one receipt.
    h.handle()
        .mark_read(
            &Jid::pn(ALICE),
            None,
            &[first.id.clone(), second.id.clone()],
        )
        .await
        .unwrap();
    h.sim
        .wait_for_event(
            0,
            MINUTE,
            "read receipt",
            |e| matches!(e, SimEvent::Receipt(r) if r.id == second.id && r.kind == "read"),
        )
        .await
        .unwrap();
    let receipts = h.sim.receipts(ALICE);
    assert!(
        receipts
            .iter()
            .any(|r| r.id == first.id && r.kind == "read")
    );
}

#[tokio::test(start_paused = true)]
async fn a_contact_with_two_devices_and_our_phone_copy() {
    let mut h = linked().await;
    let laptop = Jid::pn(BOB).with_device(1);
    h.sim
        .send_text(&laptop.to_string(), ME, "from my laptop")
        .unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(message.sender, laptop);
    assert_eq!(message.chat, Jid::pn(BOB));
    assert_eq!(text(&message), "from my laptop");
    h.sim.send_text(BOB, ME, "from my phone").unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(message.sender, Jid::pn(BOB));
    assert_eq!(text(&message), "from my phone");
    // Our own phone writes to Alice: we get the device-sent copy.
    h.sim.send_text(ME, ALICE, "note to Alice").unwrap();
    let message = next_message(&mut h).await;
    assert!(message.from_me);
    assert_eq!(message.chat, Jid::pn(ALICE));
    assert_eq!(text(&message), "note to Alice");
}

#[tokio::test(start_paused = true)]
async fn sending_fans_out_to_every_device_with_statuses() {
    let mut h = linked().await;
    behave(
        &h,
        BOB,
        ContactBehaviour {
            auto_read: true,
            ..ContactBehaviour::default()
        },
    );
    let bob = h.handle().parse_recipient("+1 555-000-1002").await.unwrap();
    assert_eq!(bob, Jid::pn(BOB));
    let id = h.handle().send_text(&bob, "hi Bob").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Sent).await;
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    status(&mut h, &id, |s| *s == MessageStatus::Read).await;
    let received = h.sim.received(BOB);
    assert_eq!(received.len(), 2, "Bob's phone and laptop: {received:?}");
    assert!(
        received
            .iter()
            .all(|m| m.id == id && m.text.as_deref() == Some("hi Bob"))
    );
    let mine = h.sim.received(ME);
    assert_eq!(mine.len(), 1, "our phone gets the device-sent copy");
    assert!(mine[0].from_own_device);
    assert_eq!(mine[0].chat, Jid::pn(BOB).to_string());

    // A second message reuses the sessions (no bundle fetch) and still arrives.
    let again = h.handle().send_text(&bob, "second").await.unwrap();
    status(&mut h, &again, |s| *s == MessageStatus::Delivered).await;
    assert_eq!(
        h.sim
            .received(BOB)
            .iter()
            .filter(|m| m.text.as_deref() == Some("second"))
            .count(),
        2
    );
    // Bob answers: his reply decrypts on the session we started.
    h.sim.send_text(BOB, ME, "hi back").unwrap();
    assert_eq!(text(&next_message(&mut h).await), "hi back");
}

#[tokio::test(start_paused = true)]
async fn unknown_numbers_and_bad_input_fail_clearly() {
    let mut h = linked().await;
    let nobody = Jid::pn("15559999999");
    let id = h.handle().send_text(&nobody, "hello?").await.unwrap();
    let failed = status(&mut h, &id, |s| matches!(s, MessageStatus::Failed(_))).await;
    assert_eq!(
        failed,
        MessageStatus::Failed(SendFailure::NotOnWhatsApp(nobody))
    );
    assert!(h.handle().send_text(&Jid::pn(ALICE), "  ").await.is_err());
    assert!(h.handle().parse_recipient("12").await.is_err());

    let query = h
        .handle()
        .is_on_whatsapp(&["+1 555 000 1001", "15559999999"])
        .await
        .unwrap();
    let answer = h
        .wait_event(
            MINUTE,
            &mut |e| matches!(e, Event::OnWhatsApp { id, .. } if *id == query),
        )
        .await
        .unwrap();
    let Event::OnWhatsApp { result, .. } = answer else {
        unreachable!()
    };
    let result = result.unwrap();
    assert_eq!(result.len(), 2);
    assert!(result[0].exists);
    assert_eq!(result[0].jid, Jid::pn(ALICE));
    assert!(result[0].lid.is_some());
    assert!(!result[1].exists);
}

async fn stats(h: &mut SimHarness) -> Stats {
    h.status().await.stats
}

#[tokio::test(start_paused = true)]
async fn the_offline_queue_arrives_in_order_on_the_next_open() {
    let mut h = linked().await;
    h.handle().disconnect().await.unwrap();
    h.wait_state(ConnectionState::Closed, MINUTE).await.unwrap();
    let mut sent = Vec::new();
    for n in 0..5 {
        let from = if n % 2 == 0 { ALICE } else { BOB };
        sent.push(
            h.sim
                .send_text(from, ME, &format!("offline {n}"))
                .unwrap()
                .id,
        );
    }
    reload(&mut h).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_message(&mut h).await);
    }
    assert_eq!(got.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), sent);
    assert_eq!(text(&got[4]), "offline 4");
    h.sleep(MINUTE).await;
    assert!(
        h.wait_event(Duration::from_secs(1), &mut |e| matches!(
            e,
            Event::Message(_)
        ))
        .await
        .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_commit_then_a_reload_loses_nothing_and_shows_it_once() {
    let mut h = linked().await;
    h.sim.send_text(ALICE, ME, "warm up").unwrap();
    next_message(&mut h).await;
    h.store
        .fail_commits_touching(Some(Namespace::ProcessedMessages));
    let lost = h.sim.send_text(ALICE, ME, "not yet stored").unwrap();
    h.wait_event(MINUTE, &mut |e| matches!(e, Event::StoreFailed { .. }))
        .await
        .expect("the decryption's commit failed");
    // Reload from what the store holds: the decryption was never stored.
    h.store.heal();
    reload(&mut h).await;
    let message = next_message(&mut h).await;
    assert_eq!(message.id, lost.id);
    assert_eq!(text(&message), "not yet stored");
    h.sim.send_text(ALICE, ME, "after").unwrap();
    assert_eq!(text(&next_message(&mut h).await), "after");
    assert_eq!(
        stats(&mut h).await.retries_sent,
        0,
        "the ratchet never diverged"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_between_commit_and_ack_shows_it_exactly_once() {
    let mut h = linked().await;
    h.sim.send_text(BOB, ME, "warm up").unwrap();
    next_message(&mut h).await;
    // The decryption is stored, but the page dies before the ack leaves
    // (the store reports a failure after writing everything).
    h.store.tear_next_commit_after(usize::MAX);
    let sent = h.sim.send_text(BOB, ME, "only once").unwrap();
    h.wait_event(MINUTE, &mut |e| matches!(e, Event::StoreFailed { .. }))
        .await
        .expect("the commit reported a failure");
    h.store.heal();
    reload(&mut h).await;
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    h.sim.send_text(BOB, ME, "next").unwrap();
    let next = next_message(&mut h).await;
    assert_eq!(
        text(&next),
        "next",
        "the redelivered {} was not surfaced",
        sent.id
    );
    let stats = stats(&mut h).await;
    assert_eq!(stats.duplicates, 1, "{stats:?}");
    assert_eq!(stats.retries_sent, 0, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_corrupted_message_is_asked_for_again_and_arrives() {
    let mut h = linked().await;
    behave(
        &h,
        ALICE,
        ContactBehaviour {
            corrupt_outgoing_next: 1,
            ..ContactBehaviour::default()
        },
    );
    let sent = h.sim.send_text(ALICE, ME, "garbled then fine").unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(message.id, sent.id);
    assert_eq!(text(&message), "garbled then fine");
    assert_eq!(stats(&mut h).await.retries_sent, 1);
    let receipts = h.sim.receipts(ALICE);
    assert!(
        receipts
            .iter()
            .any(|r| r.id == sent.id && r.kind == "retry")
    );
    // The new session works both ways.
    h.sim.send_text(ALICE, ME, "and again").unwrap();
    assert_eq!(text(&next_message(&mut h).await), "and again");
    let id = h
        .handle()
        .send_text(&Jid::pn(ALICE), "got it")
        .await
        .unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
}

#[tokio::test(start_paused = true)]
async fn a_contact_that_cannot_decrypt_gets_the_message_again() {
    let mut h = linked().await;
    behave(
        &h,
        ALICE,
        ContactBehaviour {
            corrupt_next: 1,
            ..ContactBehaviour::default()
        },
    );
    let id = h
        .handle()
        .send_text(&Jid::pn(ALICE), "second try")
        .await
        .unwrap();
    h.wait_event(MINUTE, &mut |e| {
        matches!(e, Event::Receipt(r) if r.ids.contains(&id) && r.kind == ReceiptKind::Retry)
    })
    .await
    .expect("a retry receipt");
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    let received = h.sim.received(ALICE);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text.as_deref(), Some("second try"));
    assert!(received[0].retry_count >= 1);
    assert_eq!(stats(&mut h).await.retries_answered, 1);
}

#[tokio::test(start_paused = true)]
async fn lid_addressing_keeps_one_session_per_contact() {
    let mut h = linked().await;
    h.sim.send_text(ALICE, ME, "by phone number").unwrap();
    let first = next_message(&mut h).await;
    assert_eq!(first.sender, Jid::pn(ALICE));
    let sessions = h.stored_records_in(Namespace::Sessions);
    behave(
        &h,
        ALICE,
        ContactBehaviour {
            lid_addressing: true,
            ..ContactBehaviour::default()
        },
    );
    h.sim.send_text(ALICE, ME, "by LID").unwrap();
    let second = next_message(&mut h).await;
    assert_eq!(
        second.sender,
        Jid::pn(ALICE),
        "the LID maps to the same contact"
    );
    assert_eq!(second.chat, Jid::pn(ALICE));
    assert_eq!(text(&second), "by LID");
    assert_eq!(
        h.stored_records_in(Namespace::Sessions),
        sessions,
        "no second session"
    );
    assert_eq!(stats(&mut h).await.retries_sent, 0, "no Bad MAC");
    // Sending to the LID form reaches Alice on the same session.
    let lid: Jid = h.sim.account(ALICE).unwrap().lid.parse().unwrap();
    let id = h.handle().send_text(&lid, "to your LID").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    assert!(
        h.sim
            .received(ALICE)
            .iter()
            .any(|m| m.text.as_deref() == Some("to your LID"))
    );
}

#[tokio::test(start_paused = true)]
async fn sessions_survive_a_reload() {
    let mut h = linked().await;
    h.sim.send_text(BOB, ME, "before").unwrap();
    next_message(&mut h).await;
    let id = h.handle().send_text(&Jid::pn(BOB), "reply").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    reload(&mut h).await;
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    h.sim.send_text(BOB, ME, "after reload").unwrap();
    assert_eq!(text(&next_message(&mut h).await), "after reload");
    let id = h
        .handle()
        .send_text(&Jid::pn(BOB), "still here")
        .await
        .unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    assert_eq!(stats(&mut h).await.retries_sent, 0);
}

#[tokio::test(start_paused = true)]
async fn a_contact_that_reinstalls_is_trusted_again_both_ways() {
    let mut h = linked().await;
    h.sim.send_text(ALICE, ME, "old phone").unwrap();
    next_message(&mut h).await;
    let id = h.handle().send_text(&Jid::pn(ALICE), "hi").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;

    // We write first after the re-install: the old session fails on the new
    // phone, which asks again with its new keys; we start over and re-send.
    h.sim.reinstall(ALICE).unwrap();
    let id = h
        .handle()
        .send_text(&Jid::pn(ALICE), "are you there?")
        .await
        .unwrap();
    h.wait_event(
        MINUTE,
        &mut |e| matches!(e, Event::IdentityChanged { jid } if jid.user() == ALICE),
    )
    .await
    .expect("the new identity is reported");
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    assert!(
        h.sim
            .received(ALICE)
            .iter()
            .any(|m| m.text.as_deref() == Some("are you there?"))
    );

    // And a second re-install where the contact writes first.
    h.sim.reinstall(ALICE).unwrap();
    h.sim.send_text(ALICE, ME, "new phone again").unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(text(&message), "new phone again");
    let id = h
        .handle()
        .send_text(&Jid::pn(ALICE), "welcome back")
        .await
        .unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
}

/// A small PDF-looking file.
fn pdf() -> Vec<u8> {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend((0..5000u32).map(|i| (i % 251) as u8));
    data
}

#[tokio::test(start_paused = true)]
async fn documents_go_up_and_come_down_with_their_mac_checked() {
    use base64::Engine as _;
    let mut h = linked().await;
    let upload = wa_wasm::client::DocumentUpload {
        data: pdf(),
        file_name: "quote.pdf".into(),
        mimetype: "application/pdf".into(),
        caption: Some("our quote".into()),
    };
    let id = h
        .handle()
        .send_document(&Jid::pn(BOB), upload)
        .await
        .unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
    let received = h.sim.received(BOB);
    let document = received[0].document.as_ref().expect("a document");
    assert_eq!(document.file_name, "quote.pdf");
    assert_eq!(document.caption.as_deref(), Some("our quote"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(document.data_base64.as_ref().unwrap())
            .unwrap(),
        pdf(),
        "Bob's devices opened the upload"
    );

    // Alice sends a document: it arrives as such and downloads intact.
    h.sim
        .send(wa_sim::SendRequest {
            from: ALICE.into(),
            to: ME.into(),
            text: Some("invoice".into()),
            document: Some(wa_sim::DocumentSpec {
                file_name: "invoice.pdf".into(),
                mimetype: None,
                data_base64: base64::engine::general_purpose::STANDARD.encode(pdf()),
                caption: None,
            }),
        })
        .unwrap();
    let message = next_message(&mut h).await;
    let MessageContent::Document(document) = message.content else {
        panic!("not a document: {:?}", message.content);
    };
    assert_eq!(document.file_name, "invoice.pdf");
    assert_eq!(document.caption.as_deref(), Some("invoice"));
    let download = h.handle().download_document(&document).await.unwrap();
    let Some(Event::MediaDownloaded { id, result }) = h
        .wait_event(MINUTE, &mut |e| matches!(e, Event::MediaDownloaded { .. }))
        .await
    else {
        panic!("no download");
    };
    assert_eq!(id, download);
    assert_eq!(result.unwrap(), pdf());

    // A tampered MAC is refused.
    let mut tampered = (*document).clone();
    tampered.media_key[0] ^= 1;
    h.handle().download_document(&tampered).await.unwrap();
    let Some(Event::MediaDownloaded { result, .. }) = h
        .wait_event(MINUTE, &mut |e| matches!(e, Event::MediaDownloaded { .. }))
        .await
    else {
        panic!("no download");
    };
    assert!(matches!(
        result,
        Err(wa_wasm::client::DownloadError::Media(
            wa_wasm::media::MediaError::MacMismatch
        ))
    ));
}

fn group_of(h: &SimHarness, members: &[&str]) -> Jid {
    let group = h
        .sim
        .create_group(wa_sim::NewGroup {
            subject: "Sales".into(),
            creator: ALICE.into(),
            participants: members.iter().map(|m| (*m).to_owned()).collect(),
        })
        .unwrap();
    group.jid.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn groups_are_listed_and_messages_go_both_ways_with_sender_keys() {
    let mut h = linked().await;
    let group = group_of(&h, &[ME, BOB]);
    let query = h.handle().groups().await.unwrap();
    let Some(Event::Groups { result, .. }) = h
        .wait_event(
            MINUTE,
            &mut |e| matches!(e, Event::Groups { id, .. } if *id == query),
        )
        .await
    else {
        panic!("no groups");
    };
    let groups = result.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].jid, group);
    assert_eq!(groups[0].subject, "Sales");
    let mut members: Vec<String> = groups[0]
        .participants
        .iter()
        .map(|p| p.jid.user().to_owned())
        .collect();
    members.sort();
    assert_eq!(members, [ME, ALICE, BOB]);

    let first = h.handle().send_text(&group, "hello team").await.unwrap();
    status(&mut h, &first, |s| *s == MessageStatus::Sent).await;
    h.sleep(Duration::from_secs(1)).await;
    for (who, devices) in [(ALICE, 1), (BOB, 2)] {
        let got: Vec<_> = h
            .sim
            .received(who)
            .into_iter()
            .filter(|m| m.id == first)
            .collect();
        assert_eq!(got.len(), devices, "{who}: {got:?}");
        assert!(
            got.iter()
                .all(|m| m.text.as_deref() == Some("hello team") && m.chat == group.to_string())
        );
    }
    // The second message needs no distribution: only the group ciphertext.
    let second = h.handle().send_text(&group, "again").await.unwrap();
    status(&mut h, &second, |s| *s == MessageStatus::Sent).await;
    h.sleep(Duration::from_secs(1)).await;
    assert_eq!(
        h.sim
            .received(BOB)
            .iter()
            .filter(|m| m.id == second)
            .count(),
        2
    );

    // Bob writes to the group: his sender key arrives pairwise, then skmsg.
    h.sim.send_text(BOB, &group.to_string(), "hi all").unwrap();
    let message = next_message(&mut h).await;
    assert_eq!(message.chat, group);
    assert_eq!(message.sender, Jid::pn(BOB));
    assert_eq!(text(&message), "hi all");
    h.sim
        .send_text(BOB, &group.to_string(), "and more")
        .unwrap();
    assert_eq!(text(&next_message(&mut h).await), "and more");

    // Bob leaves: our sender key is replaced, Bob cannot read what follows.
    let removal = wa_wasm::binary::Node::new("iq")
        .attr("type", "set")
        .attr("xmlns", "w:g2")
        .attr("to", group.clone())
        .children([wa_wasm::binary::Node::new("remove")
            .children([wa_wasm::binary::Node::new("participant").attr("jid", Jid::pn(BOB))])]);
    h.handle().query(removal).await.unwrap();
    h.wait_event(MINUTE, &mut |e| {
        matches!(e, Event::QueryResult { result: Ok(_), .. })
    })
    .await
    .unwrap();
    let third = h
        .handle()
        .send_text(&group, "after Bob left")
        .await
        .unwrap();
    status(&mut h, &third, |s| *s == MessageStatus::Sent).await;
    h.sleep(Duration::from_secs(1)).await;
    assert!(
        h.sim.received(ALICE).iter().any(|m| m.id == third),
        "Alice got the new key"
    );
    assert!(!h.sim.received(BOB).iter().any(|m| m.id == third));
}

#[tokio::test(start_paused = true)]
async fn a_group_of_256_members_gets_one_send() {
    let mut h = linked().await;
    let mut members = vec![ME.to_owned(), BOB.to_owned()];
    while members.len() < 255 {
        let account = h
            .sim
            .create_account(wa_sim::NewAccount {
                phone: None,
                name: None,
                devices: Some(1),
            })
            .unwrap();
        members.push(account.phone);
    }
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let group = group_of(&h, &refs);
    let seq = h.sim.last_event_seq();
    let id = h.handle().send_text(&group, "to everyone").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Sent).await;
    let routed = h
        .sim
        .wait_for_event(
            seq,
            MINUTE,
            "routed",
            |e| matches!(e, SimEvent::MessageFromClient { id: routed, .. } if *routed == id),
        )
        .await
        .unwrap();
    let SimEvent::MessageFromClient { copies, .. } = routed.event else {
        unreachable!()
    };
    // 256 members: Alice, Bob (2 devices), 253 others, and our own phone.
    assert_eq!(copies, 257);
    h.sleep(Duration::from_secs(1)).await;
    for member in [&members[2], &members[254], &ALICE.to_owned()] {
        assert!(
            h.sim
                .received(member)
                .iter()
                .any(|m| m.id == id && m.text.as_deref() == Some("to everyone")),
            "{member}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn two_engines_exchange_an_image_and_texts() {
    let mut ours = linked().await;
    let mut alice = ours.another(ALICE, 900);
    link(&mut alice).await;
    let photo: Vec<u8> = (0..30_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let upload = wa_wasm::client::ImageUpload {
        data: photo.clone(),
        mimetype: "image/jpeg".into(),
        caption: Some("the shop".into()),
        size: Some((640, 480)),
    };
    let id = ours
        .handle()
        .send_image(&Jid::pn(ALICE), upload)
        .await
        .unwrap();
    let message = next_message(&mut alice).await;
    assert_eq!(message.id, id);
    assert_eq!(message.chat, Jid::pn(ME));
    let MessageContent::Image(image) = message.content else {
        panic!("not an image: {:?}", message.content);
    };
    assert_eq!(image.caption.as_deref(), Some("the shop"));
    assert_eq!((image.width, image.height), (Some(640), Some(480)));
    let download = alice.handle().download_image(&image).await.unwrap();
    let Some(Event::MediaDownloaded { id: got, result }) = alice
        .wait_event(MINUTE, &mut |e| matches!(e, Event::MediaDownloaded { .. }))
        .await
    else {
        panic!("no download");
    };
    assert_eq!(got, download);
    assert_eq!(result.unwrap(), photo);
    status(&mut ours, &id, |s| *s == MessageStatus::Delivered).await;

    // Alice's engine answers ours.
    let reply = alice
        .handle()
        .send_text(&Jid::pn(ME), "nice photo")
        .await
        .unwrap();
    let message = next_message(&mut ours).await;
    assert_eq!(message.id, reply);
    assert_eq!(message.chat, Jid::pn(ALICE));
    assert_eq!(text(&message), "nice photo");
    status(&mut alice, &reply, |s| *s == MessageStatus::Delivered).await;
}

#[tokio::test(start_paused = true)]
async fn a_send_whose_records_cannot_be_stored_is_not_sent() {
    let mut h = linked().await;
    h.store.fail_commits_touching(Some(Namespace::Outbox));
    let id = h
        .handle()
        .send_text(&Jid::pn(ALICE), "never")
        .await
        .unwrap();
    let failed = status(&mut h, &id, |s| matches!(s, MessageStatus::Failed(_))).await;
    assert_eq!(failed, MessageStatus::Failed(SendFailure::NotStored));
    h.store.heal();
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    h.sleep(Duration::from_secs(5)).await;
    assert!(h.sim.received(ALICE).is_empty(), "nothing left unstored");
    let id = h.handle().send_text(&Jid::pn(ALICE), "now").await.unwrap();
    status(&mut h, &id, |s| *s == MessageStatus::Delivered).await;
}

#[tokio::test(start_paused = true)]
async fn a_group_member_that_cannot_decrypt_gets_it_again() {
    let mut h = linked().await;
    let group = group_of(&h, &[ME]);
    behave(
        &h,
        ALICE,
        ContactBehaviour {
            corrupt_next: 1,
            ..ContactBehaviour::default()
        },
    );
    let id = h.handle().send_text(&group, "for the group").await.unwrap();
    h.wait_event(MINUTE, &mut |e| {
        matches!(e, Event::Receipt(r) if r.ids.contains(&id) && r.kind == ReceiptKind::Retry)
    })
    .await
    .expect("a retry receipt");
    h.sleep(Duration::from_secs(1)).await;
    let got: Vec<_> = h
        .sim
        .received(ALICE)
        .into_iter()
        .filter(|m| m.id == id)
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].chat, group.to_string());
    assert_eq!(got[0].text.as_deref(), Some("for the group"));
    // The sender key goes to Alice again with the next message.
    let next = h.handle().send_text(&group, "next").await.unwrap();
    status(&mut h, &next, |s| *s == MessageStatus::Sent).await;
    h.sleep(Duration::from_secs(1)).await;
    assert!(h.sim.received(ALICE).iter().any(|m| m.id == next));
}

/// Sets how `phone`'s simulated devices behave.
fn behave(h: &SimHarness, phone: &str, behaviour: ContactBehaviour) {
    h.sim.set_behaviour(phone, behaviour).unwrap();
}

/// How many of `phone`'s simulated devices decrypted message `id`.
fn copies(h: &SimHarness, phone: &str, id: &str) -> usize {
    h.sim.received(phone).iter().filter(|m| m.id == id).count()
}

/// Every status event for `id` until none came for `quiet`.
async fn statuses(h: &mut SimHarness, id: &str, quiet: Duration) -> Vec<MessageStatus> {
    let mut seen = Vec::new();
    while let Some(Event::MessageStatus(update)) = h
        .wait_event(
            quiet,
            &mut |e| matches!(e, Event::MessageStatus(u) if u.id == id),
        )
        .await
    {
        seen.push(update.status);
    }
    seen
}

/// Makes `phone`'s devices drop the next `count` messages without a receipt.
fn silent(h: &SimHarness, phone: &str, count: u32) {
    behave(
        h,
        phone,
        ContactBehaviour {
            drop_next: count,
            ..ContactBehaviour::default()
        },
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_ack_changes_nothing_and_nothing_is_sent_twice() {
    let mut h = linked().await;
    h.inject(Fault::DelayAcks {
        ms: 5_000,
        count: 1,
    });
    let alice = Jid::pn(ALICE);
    let id = h.handle().send_text(&alice, "late ack").await.unwrap();
    // Alice's receipt comes before the late ack and already proves the server
    // has it: `sent` then `delivered`, once each, and the late ack adds nothing.
    assert_eq!(
        statuses(&mut h, &id, MINUTE).await,
        [MessageStatus::Sent, MessageStatus::Delivered]
    );
    assert_eq!(copies(&h, ALICE, &id), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lost_ack_sends_the_same_stanza_again_which_the_server_does_not_deliver_twice() {
    let mut h = linked().await;
    silent(&h, ALICE, 1);
    h.inject(Fault::DropAcks { count: 1 });
    let alice = Jid::pn(ALICE);
    let id = h.handle().send_text(&alice, "lost ack").await.unwrap();
    // No ack and no receipt: after the deadline the engine sends the very same
    // stanza; the server acknowledges the repeat and does not deliver it again.
    assert_eq!(statuses(&mut h, &id, MINUTE).await, [MessageStatus::Sent]);
    assert_eq!(
        copies(&h, ALICE, &id),
        0,
        "Alice's phone dropped the one delivery"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_never_acknowledged_fails_after_three_sends() {
    let mut h = linked().await;
    silent(&h, ALICE, 1);
    h.inject(Fault::DropAcks { count: 10 });
    let alice = Jid::pn(ALICE);
    let id = h.handle().send_text(&alice, "no ack").await.unwrap();
    assert_eq!(
        statuses(&mut h, &id, 2 * MINUTE).await,
        [MessageStatus::Failed(SendFailure::NoAck(3))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_unacknowledged_when_the_socket_drops_is_sent_again_after_reconnecting() {
    let mut h = linked().await;
    silent(&h, ALICE, 1);
    h.inject(Fault::DropAcks { count: 1 });
    let alice = Jid::pn(ALICE);
    let id = h
        .handle()
        .send_text(&alice, "before the drop")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.inject(Fault::CloseNow);
    // Reconnected (well before the 20 s ack deadline), the engine sends what
    // was not acknowledged again at once, and this time the ack comes.
    assert_eq!(
        statuses(&mut h, &id, Duration::from_secs(10)).await,
        [MessageStatus::Sent]
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_sent_just_before_the_page_closed_goes_out_on_the_next_load() {
    let mut h = linked().await;
    let alice = Jid::pn(ALICE);
    // A first text sets up Alice's device list and session.
    let first = h.handle().send_text(&alice, "first").await.unwrap();
    status(&mut h, &first, |s| *s == MessageStatus::Delivered).await;
    // The message, and its stanza until a later commit deletes it.
    assert_eq!(h.stored_records_in(Namespace::Outbox), 2);
    // The socket swallows everything from here on: the message never reaches
    // the server, and the page is closed before any ack could come.
    h.inject(Fault::BlackHole);
    let id = h
        .handle()
        .send_text(&alice, "sent as the page closed")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(copies(&h, ALICE, &id), 0);
    assert_eq!(
        h.stored_records_in(Namespace::Outbox),
        3,
        "two messages and the unacknowledged stanza (the first one's went with this commit)"
    );
    h.inject(Fault::Clear);
    reload(&mut h).await;
    assert_eq!(
        statuses(&mut h, &id, Duration::from_secs(10)).await,
        [MessageStatus::Sent, MessageStatus::Delivered]
    );
    assert_eq!(copies(&h, ALICE, &id), 1, "arrives once");
    // Acknowledged, its stored stanza goes with the next commit: after one
    // more send, three messages and only that send's stanza are stored.
    let third = h.handle().send_text(&alice, "third").await.unwrap();
    status(&mut h, &third, |s| *s == MessageStatus::Delivered).await;
    assert_eq!(h.stored_records_in(Namespace::Outbox), 4);
}
