//! Messaging at the engine's edge, against the scripted server: what a send
//! asks for (usync, bundles), that its stanza waits for the commit, and that
//! the recipient can decrypt it; recipients typed by people.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use wa_wasm::message::{self, Message};
use wa_wasm::signal::store::InMemorySignalStore;
use wa_wasm::signal::{
    CiphertextMessage, IdentityKeyPair, PreKey, PreKeyId, ProtocolAddress, RegistrationId,
    SignedPreKey, SignedPreKeyId, session,
};

use super::*;

/// A contact device's keys and the `<user>` of a key-fetch answer for it.
fn device_bundle(jid: &Jid, seed: u64) -> (InMemorySignalStore, Node) {
    let mut rng = StdRng::seed_from_u64(seed);
    let identity = IdentityKeyPair::generate(&mut rng);
    let signed = SignedPreKey::generate(SignedPreKeyId(3), &identity, 0, &mut rng);
    let one_time = PreKey::generate(PreKeyId(77), &mut rng);
    let registration = RegistrationId::generate(&mut rng);
    let mut store = InMemorySignalStore::new(identity.clone(), registration);
    store.add_signed_pre_key(&signed);
    store.add_pre_key(&one_time);
    let user = Node::new("user").attr("jid", jid.clone()).children([
        Node::new("registration").bytes(registration.value().to_be_bytes().to_vec()),
        Node::new("type").bytes(vec![5]),
        Node::new("identity").bytes(identity.identity_key().public_key().as_bytes().to_vec()),
        Node::new("skey").children([
            Node::new("id").bytes(vec![0, 0, 3]),
            Node::new("value").bytes(signed.key_pair.public.as_bytes().to_vec()),
            Node::new("signature").bytes(signed.signature.to_vec()),
        ]),
        Node::new("key").children([
            Node::new("id").bytes(vec![0, 0, 77]),
            Node::new("value").bytes(one_time.key_pair.public.as_bytes().to_vec()),
        ]),
    ]);
    (store, user)
}

fn devices_user(jid: &Jid, ids: &[u16]) -> Node {
    Node::new("user")
        .attr("jid", jid.clone())
        .children([Node::new("devices").children([Node::new("device-list")
            .children(ids.iter().map(|id| Node::new("device").attr("id", *id)))])])
}

#[test]
fn a_sent_text_waits_for_its_commit_and_decrypts_on_the_other_side() {
    let mut run = open_run();
    let me: Jid = run.client.status().me.unwrap().parse().unwrap();
    let alice = run.client.parse_recipient("+1 555-000-1001").unwrap();
    assert_eq!(alice, Jid::pn("15550001001"));
    let id = run
        .client
        .send_text(&alice, "hola", run.now, &mut run.rng)
        .unwrap();
    run.pump();

    let usync = run
        .sent()
        .into_iter()
        .find(|n| n.str_attr("xmlns") == Some("usync"))
        .expect("a device-list query");
    let own = Jid::pn(me.user());
    run.deliver(
        &result(usync.str_attr("id").unwrap()).children([Node::new("usync").children([
            Node::new("list").children([
                devices_user(&alice, &[0]),
                devices_user(&own, &[0, me.device()]),
            ]),
        ])]),
    );

    let fetch = run
        .sent()
        .into_iter()
        .find(|n| n.str_attr("xmlns") == Some("encrypt"))
        .expect("a bundle fetch");
    let asked: Vec<String> = fetch
        .child("key")
        .unwrap()
        .children_by_tag("user")
        .map(|u| {
            u.str_attr("jid")
                .map(str::to_owned)
                .unwrap_or_else(|| u.jid_attr("jid").unwrap().to_string())
        })
        .collect();
    assert_eq!(
        asked.len(),
        2,
        "Alice and our phone, not ourselves: {asked:?}"
    );
    let (mut alice_store, alice_user) = device_bundle(&alice, 1);
    let (_, phone_user) = device_bundle(&own, 2);
    let before = run.persists.len();
    run.auto_persist = false;
    run.deliver(
        &result(fetch.str_attr("id").unwrap())
            .children([Node::new("list").children([alice_user, phone_user])]),
    );

    // The stanza waits behind the commits of the sessions and the outbox entry.
    let mut stored = Changes::new();
    let mut answered = before;
    let stanza = loop {
        let sent = run.sent();
        if let Some(stanza) = sent.into_iter().find(|n| n.tag == "message") {
            break stanza;
        }
        assert!(
            answered < run.persists.len(),
            "a message or a persist to answer"
        );
        let changes = run.persists[answered].clone();
        answered += 1;
        stored.merge(changes.clone());
        run.answer_persist(changes);
        run.pump();
    };
    assert!(answered > before, "at least one commit came first");
    assert!(stored.touches(Namespace::Sessions));
    assert!(stored.touches(Namespace::Outbox));
    assert_eq!(stanza.str_attr("id"), Some(id.as_str()));
    assert!(
        stanza.child("device-identity").is_some(),
        "pkmsgs carry our device identity"
    );
    let to_alice = stanza
        .child("participants")
        .unwrap()
        .children_by_tag("to")
        .find(|t| t.jid_attr("jid").is_some_and(|j| j.user() == alice.user()))
        .unwrap();
    let enc = to_alice.child("enc").unwrap();
    assert_eq!(enc.str_attr("type"), Some("pkmsg"));
    let ciphertext = CiphertextMessage::parse("pkmsg", enc.content_bytes().unwrap())
        .unwrap()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let opened = session::decrypt(
        &alice_store,
        &ProtocolAddress::new(me.user(), u32::from(me.device())),
        &ciphertext,
        &mut rng,
    )
    .unwrap();
    alice_store.apply(opened.changes);
    let content = Message::decode(message::unpad(&opened.value).unwrap()).unwrap();
    assert_eq!(content.text.as_deref(), Some("hola"));

    // The server's ack makes it `sent`.
    run.deliver(
        &Node::new("ack")
            .attr("class", "message")
            .attr("id", id.as_str())
            .attr("from", alice.clone()),
    );
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::MessageStatus(u) if u.id == id && u.status == MessageStatus::Sent
    )));
}

#[test]
fn recipients_and_texts_are_checked_before_anything_is_sent() {
    let mut run = Run::with_config(LoadedAuth::Empty, |config| {
        config.default_country_code = Some("51".into());
    });
    assert_eq!(
        run.client.parse_recipient("987 654 321"),
        Ok(Jid::pn("51987654321"))
    );
    assert!(matches!(
        run.client.parse_recipient("12"),
        Err(ClientError::Address(addressing::AddressError::TooShort(_)))
    ));
    let alice = Jid::pn("15550001001");
    assert!(matches!(
        run.client.send_text(&alice, "hola", run.now, &mut run.rng),
        Err(ClientError::NotOpen(_))
    ));
    let mut open = open_run();
    assert!(matches!(
        open.client
            .send_text(&alice, " \n", open.now, &mut open.rng),
        Err(ClientError::Address(addressing::AddressError::EmptyMessage))
    ));
    open.pump();
    assert!(open.sent().is_empty());
}
