//! Groups: creation by a client, metadata, sender-key fan-out both ways.

mod common;

use common::*;
use wa_sim::{NewGroup, SimEvent};
use wa_wasm::binary::{Jid, Node};
use wa_wasm::message::{Message, SenderKeyDistribution};
use wa_wasm::signal::{SenderKeyName, group};

#[tokio::test]
async fn client_creates_a_group_and_sends_with_sender_keys() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 40).await;
    let create = Node::new("iq")
        .attr("id", client.id())
        .attr("to", Jid::group(""))
        .attr("type", "set")
        .attr("xmlns", "w:g2")
        .children([Node::new("create")
            .attr("subject", "Trip")
            .attr("key", "k1")
            .children([
                Node::new("participant").attr("jid", Jid::pn(ALICE)),
                Node::new("participant").attr("jid", Jid::pn(BOB)),
            ])]);
    let answer = client.query(create).await;
    let group_node = answer.child("group").unwrap();
    let group_jid = Jid::group(group_node.str_attr("id").unwrap());
    assert_eq!(group_node.str_attr("subject"), Some("Trip"));
    assert_eq!(group_node.children_by_tag("participant").count(), 3);

    let query = Node::new("iq")
        .attr("id", client.id())
        .attr("to", group_jid.clone())
        .attr("type", "get")
        .attr("xmlns", "w:g2")
        .children([Node::new("query").attr("request", "interactive")]);
    let answer = client.query(query).await;
    assert_eq!(
        answer.child("group").unwrap().str_attr("addressing_mode"),
        Some("pn")
    );

    // Our sender key, distributed pairwise to every member device, then one skmsg.
    let me = creds.me.clone().unwrap();
    let name = SenderKeyName::new(group_jid.to_string(), address(&me));
    let created = group::create_distribution(&creds.signal, &name, &mut creds.rng).unwrap();
    creds.signal.apply(created.changes);
    let devices = [
        Jid::pn(ALICE),
        Jid::pn(BOB),
        Jid::pn(BOB).with_device(1),
        Jid::pn(ME),
    ];
    ensure_sessions(&mut client, &mut creds, &devices).await;
    let skdm = Message {
        sender_key_distribution: Some(SenderKeyDistribution {
            group_id: group_jid.to_string(),
            distribution: created.value.serialized().to_vec(),
        }),
        ..Message::default()
    };
    let participants: Vec<Node> = devices
        .iter()
        .map(|d| {
            Node::new("to")
                .attr("jid", d.clone())
                .children([encrypt_for(&mut creds, d, &skdm)])
        })
        .collect();
    let padded = wa_wasm::message::pad(&Message::text("hello all").encode(), &mut creds.rng);
    let skmsg = group::group_encrypt(&creds.signal, &name, &padded, &mut creds.rng).unwrap();
    creds.signal.apply(skmsg.changes);
    let seq = sim.last_event_seq();
    client.send(
        &Node::new("message")
            .attr("id", "3EB0GROUP1")
            .attr("to", group_jid.clone())
            .attr("type", "text")
            .children([
                Node::new("participants").children(participants),
                Node::new("enc")
                    .attr("v", "2")
                    .attr("type", "skmsg")
                    .bytes(skmsg.value.serialized().to_vec()),
                Node::new("device-identity").bytes(creds.account.clone().unwrap()),
            ]),
    );
    let ack = client.expect("ack", |n| n.tag == "ack").await;
    assert!(ack.str_attr("error").is_none());
    event(&sim, seq, "fan-out", |e| {
        matches!(e, SimEvent::MessageFromClient { copies: 4, .. })
    })
    .await;
    for phone in [ALICE, BOB, ME] {
        let received = sim.received(phone);
        assert!(!received.is_empty(), "{phone} got nothing");
        assert!(
            received
                .iter()
                .all(|m| m.text.as_deref() == Some("hello all") && m.chat == group_jid.to_string())
        );
    }
    assert_eq!(sim.received(BOB).len(), 2);
    // Group receipts name the group and the participant.
    let receipt = client.expect("receipt", |n| n.tag == "receipt").await;
    assert_eq!(receipt.required_jid("from").unwrap(), group_jid);
    assert!(receipt.has_attr("participant"));
}

#[tokio::test]
async fn contact_group_messages_carry_a_distribution_first() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 41).await;
    let info = sim
        .create_group(NewGroup {
            subject: "Family".to_owned(),
            creator: ALICE.to_owned(),
            participants: vec![ME.to_owned(), BOB.to_owned()],
        })
        .unwrap();
    let group_jid: Jid = info.jid.parse().unwrap();
    sim.send_text(ALICE, &info.jid, "first").unwrap();
    let stanza = next_message(&mut client).await;
    assert_eq!(stanza.required_jid("from").unwrap(), group_jid);
    assert_eq!(stanza.required_jid("participant").unwrap(), Jid::pn(ALICE));
    let types: Vec<&str> = stanza
        .children_by_tag("enc")
        .map(|e| e.str_attr("type").unwrap())
        .collect();
    assert_eq!(types, ["pkmsg", "skmsg"]);
    let messages = decrypt_stanza(&mut creds, &stanza);
    assert!(messages[0].sender_key_distribution.is_some());
    assert_eq!(messages[1].text.as_deref(), Some("first"));
    send_receipt(&mut client, &stanza, None);

    sim.send_text(ALICE, &info.jid, "second").unwrap();
    let stanza = next_message(&mut client).await;
    let types: Vec<&str> = stanza
        .children_by_tag("enc")
        .map(|e| e.str_attr("type").unwrap())
        .collect();
    assert_eq!(types, ["skmsg"], "the distribution is sent once per device");
    assert_eq!(
        decrypt_stanza(&mut creds, &stanza)[0].text.as_deref(),
        Some("second")
    );
    // Bob's simulated devices got both too, and the group lists everyone.
    assert_eq!(sim.received(BOB).len(), 4);
    assert_eq!(sim.groups()[0].participants.len(), 3);
}
