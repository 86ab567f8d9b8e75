//! After login: pre-keys, digest, key bundles, usync with LIDs, passive, pings, media,
//! init queries, unknown iqs, logout.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use sha2::{Digest, Sha256};
use wa_sim::{Sim, SimConfig, SimEvent};
use wa_wasm::binary::{Jid, Node};

#[tokio::test]
async fn pre_key_count_upload_digest_and_bundles() {
    let sim = local_sim();
    let mut creds = link_by_qr(&sim, 20).await;
    let (mut client, _) = login(&sim, &mut creds).await;

    let count = client.iq("encrypt", "get", vec![Node::new("count")]);
    let answer = client.query(count).await;
    assert_eq!(answer.child("count").unwrap().str_attr("value"), Some("0"));

    let upload = creds.pre_key_upload(812);
    assert_eq!(client.query(upload).await.str_attr("type"), Some("result"));
    let count = client.iq("encrypt", "get", vec![Node::new("count")]);
    let answer = client.query(count).await;
    assert_eq!(
        answer.child("count").unwrap().str_attr("value"),
        Some("812")
    );

    let digest = client.iq("encrypt", "get", vec![Node::new("digest")]);
    let answer = client.query(digest).await;
    let digest = answer.child("digest").expect("Baileys needs a digest node");
    assert_eq!(digest.child("list").unwrap().child_nodes().len(), 812);
    assert_eq!(
        digest.child_bytes("identity").unwrap(),
        creds.identity().identity_key().public_key().as_bytes()
    );

    // Bundles: Alice's phone by LID (as Baileys asks, reason=identity) and our own
    // device by phone number; each takes a one-time pre-key.
    let alice_lid = sim.account(ALICE).unwrap().lid.parse::<Jid>().unwrap();
    let me = creds.me.clone().unwrap();
    let fetch = client.iq(
        "encrypt",
        "get",
        vec![
            Node::new("key").children([
                Node::new("user")
                    .attr("jid", alice_lid.clone())
                    .attr("reason", "identity"),
                Node::new("user").attr("jid", me.clone()),
                Node::new("user").attr("jid", Jid::pn("19999999999")),
            ]),
        ],
    );
    let answer = client.query(fetch).await;
    let users: Vec<&Node> = answer
        .child("list")
        .unwrap()
        .children_by_tag("user")
        .collect();
    assert_eq!(users.len(), 3);
    assert_eq!(users[0].required_jid("jid").unwrap(), alice_lid);
    let alice = parse_bundle(users[0], 0);
    alice.verify_signature().unwrap();
    assert!(alice.pre_key.is_some());
    let own = parse_bundle(users[1], 1);
    assert_eq!(own.pre_key.unwrap().0.0, 1, "lowest uploaded pre-key first");
    assert_eq!(
        users[2].child("error").unwrap().str_attr("code"),
        Some("404")
    );
    let count = client.iq("encrypt", "get", vec![Node::new("count")]);
    let answer = client.query(count).await;
    assert_eq!(
        answer.child("count").unwrap().str_attr("value"),
        Some("811")
    );
}

#[tokio::test]
async fn low_pre_key_count_is_notified() {
    let sim = local_sim();
    let (mut client, creds) = linked_client(&sim, 21).await;
    // 30 uploaded; 26 bundles fetched for our device leave 4.
    let me = creds.me.clone().unwrap();
    let users: Vec<Node> = (0..26)
        .map(|_| Node::new("user").attr("jid", me.clone()))
        .collect();
    let fetch = client.iq("encrypt", "get", vec![Node::new("key").children(users)]);
    client.query(fetch).await;
    let notification = client
        .expect("encrypt count notification", |n| {
            n.tag == "notification" && n.str_attr("type") == Some("encrypt")
        })
        .await;
    assert_eq!(
        notification.child("count").unwrap().str_attr("value"),
        Some("4")
    );
}

#[tokio::test]
async fn usync_returns_devices_with_key_index_and_lids() {
    let sim = local_sim();
    let (mut client, creds) = linked_client(&sim, 22).await;
    let usync = client.iq(
        "usync",
        "get",
        vec![
            Node::new("usync")
                .attr("sid", "s1")
                .attr("mode", "query")
                .attr("context", "message")
                .attr("last", "true")
                .attr("index", "0")
                .children([
                    Node::new("query")
                        .children([Node::new("devices").attr("version", "2"), Node::new("lid")]),
                    Node::new("list").children([
                        Node::new("user").attr("jid", Jid::pn(BOB)),
                        Node::new("user").attr("jid", Jid::pn(ME)),
                        Node::new("user").attr("jid", Jid::pn("19999999999")),
                    ]),
                ]),
        ],
    );
    let answer = client.query(usync).await;
    let list = answer.child_path(&["usync", "list"]).unwrap();
    let users: Vec<&Node> = list.children_by_tag("user").collect();
    let devices = |user: &Node| -> Vec<(String, Option<String>)> {
        user.child_path(&["devices", "device-list"])
            .unwrap()
            .children_by_tag("device")
            .map(|d| {
                (
                    d.str_attr("id").unwrap().to_owned(),
                    d.str_attr("key-index").map(str::to_owned),
                )
            })
            .collect()
    };
    assert_eq!(
        devices(users[0]),
        [
            ("0".to_owned(), None),
            ("1".to_owned(), Some("1".to_owned()))
        ]
    );
    assert_eq!(
        users[0].child("lid").unwrap().required_jid("val").unwrap(),
        sim.account(BOB).unwrap().lid.parse::<Jid>().unwrap()
    );
    // Our own account lists the phone and this companion.
    assert_eq!(devices(users[1]).len(), 2);
    assert_eq!(
        users[1].child("lid").unwrap().required_jid("val").unwrap(),
        creds.lid.clone().unwrap().to_non_ad()
    );
    assert!(
        devices(users[2]).is_empty(),
        "unknown numbers have no devices"
    );

    // Contact protocol ("is on WhatsApp").
    let usync = client.iq(
        "usync",
        "get",
        vec![
            Node::new("usync").children([
                Node::new("query").children([Node::new("contact")]),
                Node::new("list").children([
                    Node::new("user")
                        .children([Node::new("contact").bytes(format!("+{ALICE}").into_bytes())]),
                    Node::new("user")
                        .children([Node::new("contact").bytes(b"+19999999999".to_vec())]),
                ]),
            ]),
        ],
    );
    let answer = client.query(usync).await;
    let users: Vec<&Node> = answer
        .child_path(&["usync", "list"])
        .unwrap()
        .children_by_tag("user")
        .collect();
    assert_eq!(
        users[0].child("contact").unwrap().str_attr("type"),
        Some("in")
    );
    assert_eq!(
        users[1].child("contact").unwrap().str_attr("type"),
        Some("out")
    );
}

#[tokio::test]
async fn passive_ping_init_queries_and_unknown_iq() {
    let sim = local_sim();
    let (mut client, _creds) = linked_client(&sim, 23).await;
    let active = client.iq("passive", "set", vec![Node::new("active")]);
    assert_eq!(client.query(active).await.str_attr("type"), Some("result"));
    let ping = client.iq("w:p", "get", vec![Node::new("ping")]);
    assert_eq!(client.query(ping).await.str_attr("type"), Some("result"));
    let bare_ping = client.iq("w:p", "get", vec![]);
    assert_eq!(
        client.query(bare_ping).await.str_attr("type"),
        Some("result")
    );
    let props = client.iq("abt", "get", vec![Node::new("props").attr("protocol", "1")]);
    assert!(client.query(props).await.child("props").is_some());
    let privacy = client.iq("privacy", "get", vec![Node::new("privacy")]);
    assert!(client.query(privacy).await.child("privacy").is_some());

    let seq = sim.last_event_seq();
    let unknown = client.iq("w:nonsense", "get", vec![Node::new("whatever")]);
    let answer = client.query(unknown).await;
    assert_eq!(answer.str_attr("type"), Some("error"));
    assert_eq!(answer.child("error").unwrap().str_attr("code"), Some("501"));
    event(&sim, seq, "rejection logged", |e| {
        matches!(e, SimEvent::StanzaRejected { .. })
    })
    .await;
    // Still up.
    client.send(
        &Node::new("presence")
            .attr("type", "available")
            .attr("name", "Test"),
    );
    client.send(&Node::new("ib").children([Node::new("unified_session").attr("id", "1")]));
    let ping = client.iq("w:p", "get", vec![Node::new("ping")]);
    assert_eq!(client.query(ping).await.str_attr("type"), Some("result"));
}

#[tokio::test]
async fn logout_removes_the_companion() {
    let sim = local_sim();
    let (mut client, mut creds) = linked_client(&sim, 24).await;
    let me = creds.me.clone().unwrap();
    let seq = sim.last_event_seq();
    let remove = client.iq(
        "md",
        "set",
        vec![
            Node::new("remove-companion-device")
                .attr("jid", me.clone())
                .attr("reason", "user_initiated"),
        ],
    );
    assert_eq!(client.query(remove).await.str_attr("type"), Some("result"));
    event(&sim, seq, "unlinked", |e| {
        matches!(e, SimEvent::Unlinked { .. })
    })
    .await;
    assert_eq!(sim.account(ME).unwrap().devices.len(), 1);
    client.close();
    let mut again = Client::connect(&sim, &mut creds).await.unwrap();
    assert_eq!(again.next().await.unwrap().str_attr("reason"), Some("401"));
}

#[tokio::test]
async fn media_conn_upload_and_download_over_http() {
    let sim = Sim::start(SimConfig {
        seed: Some(3),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    let (mut client, _creds) = linked_client(&sim, 25).await;
    let conn = client.iq("w:m", "set", vec![Node::new("media_conn")]);
    let answer = client.query(conn).await;
    let media = answer.child("media_conn").unwrap();
    let host = media
        .child("host")
        .unwrap()
        .str_attr("hostname")
        .unwrap()
        .to_owned();
    assert_eq!(host, addr.to_string());
    let auth = media.str_attr("auth").unwrap().to_owned();

    let blob = wa_wasm::media::encrypt(b"%PDF", &[4; 32], wa_wasm::media::MediaType::Document);
    let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&blob.data));
    let mut request = format!(
        "POST /mms/document/{token}?auth={auth}&token={token} HTTP/1.1\r\nHost: {host}\r\n\
         Origin: https://web.whatsapp.com\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        blob.data.len()
    )
    .into_bytes();
    request.extend_from_slice(&blob.data);
    let (status, body) = http(addr, request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let direct_path = json["direct_path"].as_str().unwrap().to_owned();
    assert!(json["url"].as_str().unwrap().ends_with(&direct_path));

    let (status, body) = http(
        addr,
        format!("GET {direct_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, blob.data);

    // A token that is not the hash of the body is refused.
    let mut bad = format!(
        "POST /mms/document/AAAA?auth={auth} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Length: 3\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    bad.extend_from_slice(b"abc");
    assert_eq!(http(addr, bad).await.0, 400);
    sim.shutdown();
}
