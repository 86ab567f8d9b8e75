//! Handshake, registration vs login, QR and code linking, and the 515 restart.

mod common;

use std::time::Duration;

use common::*;
use wa_sim::{DeviceKind, Fault, FaultRequest, HandshakeStage, SimEvent};
use wa_wasm::binary::{Jid, Node};
use wa_wasm::crypto::KeyPair;
use wa_wasm::pairing::{LinkCode, QrData, companion_finish, unwrap_ephemeral, wrap_ephemeral};

#[tokio::test]
async fn qr_link_then_login_with_lid_and_offline_marker() {
    let sim = local_sim();
    let seq = sim.last_event_seq();
    let mut creds = link_by_qr(&sim, 1).await;
    let me = creds.me.clone().unwrap();
    assert_eq!(me.user(), ME);
    assert_eq!(me.device(), 1, "first companion gets device 1");
    assert!(creds.lid.as_ref().unwrap().is_lid());
    event(&sim, seq, "paired", |e| {
        matches!(e, SimEvent::Paired { .. })
    })
    .await;

    let account = sim.account(ME).unwrap();
    let device = account.devices.iter().find(|d| d.device == 1).unwrap();
    assert_eq!(device.kind, DeviceKind::Companion);
    assert_eq!(device.platform.as_deref(), Some("Test (Linux)"));

    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    let success = client.next().await.unwrap();
    assert_eq!(success.tag, "success");
    assert_eq!(
        success.required_jid("lid").unwrap(),
        creds.lid.clone().unwrap()
    );
    assert!(success.required_u64("t").unwrap() >= 1_750_000_000);
    let offline = client.next().await.unwrap();
    assert_eq!(
        offline.child("offline").unwrap().str_attr("count"),
        Some("0")
    );
    assert!(sim.account(ME).unwrap().devices[1].connected);
}

#[tokio::test]
async fn login_of_unknown_device_or_wrong_noise_key_is_401() {
    let sim = local_sim();
    let mut stranger = Creds::new(2);
    stranger.me = Some(Jid::pn(ME).with_device(9));
    let mut client = Client::connect(&sim, &mut stranger).await.unwrap();
    let failure = client.next().await.unwrap();
    assert_eq!(failure.tag, "failure");
    assert_eq!(failure.str_attr("reason"), Some("401"));
    assert!(client.closed().await.is_empty());

    let mut creds = link_by_qr(&sim, 3).await;
    creds.noise = KeyPair::generate(&mut creds.rng);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    assert_eq!(client.next().await.unwrap().str_attr("reason"), Some("401"));
}

#[tokio::test]
async fn server_presents_a_chain_for_its_own_root_only() {
    let sim = local_sim();
    let mut creds = Creds::new(4);
    // Pinning WhatsApp's real root must fail against the simulator.
    let mut link = sim.connect_local();
    let (hello, bytes) =
        wa_wasm::noise::ClientHandshake::start(&creds.noise, None, &mut creds.rng).unwrap();
    link.send(bytes).unwrap();
    let mut decoder = wa_wasm::noise::FrameDecoder::new();
    decoder.push(&link.recv().await.unwrap()).unwrap();
    let received = hello
        .read_server_hello(&decoder.next_frame().unwrap())
        .unwrap();
    assert!(
        received
            .verify(&wa_wasm::noise::CertVerifier::default(), 1_750_000_000)
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn refs_rotate_and_run_out_after_160_seconds() {
    let sim = local_sim();
    let mut creds = Creds::new(5);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    let pair_device = client.next().await.unwrap();
    let refs: Vec<String> = pair_device
        .child("pair-device")
        .unwrap()
        .children_by_tag("ref")
        .map(|r| String::from_utf8(r.content_bytes().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(refs.len(), 6);
    assert_eq!(
        sim.pairings()[0].current_ref.as_deref(),
        Some(refs[0].as_str())
    );

    let qr = |r: &str| {
        QrData {
            pairing_ref: r.to_owned(),
            noise_key: creds.noise.public,
            identity_key: *creds.identity().identity_key().public_key(),
            adv_secret: creds.adv_secret,
            platform: "1".to_owned(),
        }
        .encode()
    };
    // The third ref is not shown yet.
    assert!(sim.scan_qr(None, &qr(&refs[2])).is_err());
    tokio::time::sleep(Duration::from_secs(85)).await;
    assert_eq!(
        sim.pairings()[0].current_ref.as_deref(),
        Some(refs[2].as_str())
    );
    // The first one has expired.
    assert!(sim.scan_qr(None, &qr(&refs[0])).is_err());

    let start = tokio::time::Instant::now();
    client.wait = Duration::from_secs(300);
    assert!(
        client.closed().await.is_empty(),
        "server closes without a stanza"
    );
    let total = start.elapsed() + Duration::from_secs(85);
    assert!(
        total >= Duration::from_secs(159) && total <= Duration::from_secs(162),
        "{total:?}"
    );
    assert!(sim.pairings().is_empty());
}

#[tokio::test(start_paused = true)]
async fn configurable_timings() {
    let sim = wa_sim::Sim::start_local(wa_sim::SimConfig {
        seed: Some(1),
        pairing: wa_sim::PairingTimings {
            first_ref: Duration::from_secs(2),
            next_ref: Duration::from_secs(1),
            ref_count: 3,
        },
        ..wa_sim::SimConfig::default()
    })
    .unwrap();
    let mut creds = Creds::new(6);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    let pair_device = client.next().await.unwrap();
    assert_eq!(
        pair_device
            .child("pair-device")
            .unwrap()
            .child_nodes()
            .len(),
        3
    );
    let start = tokio::time::Instant::now();
    client.closed().await;
    assert_eq!(start.elapsed().as_secs(), 4);
}

#[tokio::test]
async fn bad_pair_device_sign_is_refused() {
    let sim = local_sim();
    let seq = sim.last_event_seq();
    let mut creds = Creds::new(8);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    let pair_device = client.next().await.unwrap();
    let first = pair_device.child("pair-device").unwrap().child_nodes()[0]
        .content_bytes()
        .unwrap()
        .to_vec();
    let qr = QrData {
        pairing_ref: String::from_utf8(first).unwrap(),
        noise_key: creds.noise.public,
        identity_key: *creds.identity().identity_key().public_key(),
        adv_secret: creds.adv_secret,
        platform: "1".to_owned(),
    };
    sim.scan_qr(Some(ALICE), &qr.encode()).unwrap();
    let success = client.next().await.unwrap();
    client.send(
        &Node::new("iq")
            .attr("type", "result")
            .attr("id", success.str_attr("id").unwrap())
            .children([Node::new("pair-device-sign")
                .children([Node::new("device-identity").bytes(vec![1, 2, 3])])]),
    );
    let failed = event(&sim, seq, "pairing failed", |e| {
        matches!(e, SimEvent::PairingFailed { .. })
    })
    .await;
    assert!(format!("{failed:?}").contains("pair-device-sign rejected"));
    assert!(
        sim.account(ALICE)
            .unwrap()
            .devices
            .iter()
            .all(|d| d.kind == DeviceKind::Simulated)
    );
}

#[tokio::test]
async fn pairing_code_links_through_the_phone() {
    let sim = local_sim();
    let mut creds = Creds::new(9);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    client.next().await.unwrap(); // pair-device

    // Companion: code, wrapped ephemeral, companion_hello.
    let code = LinkCode::generate(&mut creds.rng);
    let ephemeral = KeyPair::generate(&mut creds.rng);
    let wrapped = wrap_ephemeral(&code, &ephemeral.public, &mut creds.rng);
    let hello = client.iq(
        "md",
        "set",
        vec![
            Node::new("link_code_companion_reg")
                .attr("jid", Jid::pn(BOB))
                .attr("stage", "companion_hello")
                .attr("should_show_push_notification", "true")
                .children([
                    Node::new("link_code_pairing_wrapped_companion_ephemeral_pub")
                        .bytes(wrapped.to_vec()),
                    Node::new("companion_server_auth_key_pub")
                        .bytes(creds.noise.public.as_bytes().to_vec()),
                    Node::new("companion_platform_id").bytes(b"1".to_vec()),
                    Node::new("companion_platform_display").bytes(b"Chrome (Linux)".to_vec()),
                    Node::new("link_code_pairing_nonce").bytes(b"0".to_vec()),
                ]),
        ],
    );
    let answer = client.query(hello).await;
    let pairing_ref = answer
        .child_path(&["link_code_companion_reg", "link_code_pairing_ref"])
        .unwrap()
        .content_bytes()
        .unwrap()
        .to_vec();
    assert_eq!(sim.pairings()[0].code_phone.as_deref(), Some(BOB));

    // The user types the code on Bob's phone.
    assert!(sim.enter_pairing_code(BOB, "not-a-code").is_err());
    sim.enter_pairing_code(BOB, &code.display()).unwrap();
    let notification = client
        .expect("primary hello", |n| n.tag == "notification")
        .await;
    let reg = notification.child("link_code_companion_reg").unwrap();
    assert_eq!(
        reg.child_bytes("link_code_pairing_ref").unwrap(),
        pairing_ref
    );
    let primary_ephemeral = unwrap_ephemeral(
        &code,
        reg.child_bytes("link_code_pairing_wrapped_primary_ephemeral_pub")
            .unwrap(),
    )
    .unwrap();
    let primary_identity =
        wa_wasm::crypto::PublicKey::from_slice(reg.child_bytes("primary_identity_pub").unwrap())
            .unwrap();
    let identity = creds.identity();
    let identity_pair = KeyPair {
        private: identity.private_key().clone(),
        public: *identity.identity_key().public_key(),
    };
    let finish = companion_finish(
        &ephemeral.private,
        &primary_ephemeral,
        &identity_pair,
        &primary_identity,
        &mut creds.rng,
    )
    .unwrap();
    creds.adv_secret = finish.adv_secret;
    let finish_iq = client.iq(
        "md",
        "set",
        vec![
            Node::new("link_code_companion_reg")
                .attr("jid", Jid::pn(BOB))
                .attr("stage", "companion_finish")
                .children([
                    Node::new("link_code_pairing_wrapped_key_bundle")
                        .bytes(finish.wrapped_key_bundle),
                    Node::new("companion_identity_public")
                        .bytes(identity_pair.public.as_bytes().to_vec()),
                    Node::new("link_code_pairing_ref").bytes(pairing_ref),
                ]),
        ],
    );
    assert_eq!(
        client.query(finish_iq).await.str_attr("type"),
        Some("result")
    );
    finish_pairing(&mut client, &mut creds).await;
    assert_eq!(creds.me.as_ref().unwrap().user(), BOB);
    assert_eq!(
        creds.me.as_ref().unwrap().device(),
        2,
        "Bob already has device 1"
    );
    let (_client, _) = login(&sim, &mut creds).await;
}

#[tokio::test]
async fn handshake_faults_close_at_each_step() {
    let sim = local_sim();
    for step in [
        HandshakeStage::ClientHello,
        HandshakeStage::ServerHello,
        HandshakeStage::ClientFinish,
    ] {
        sim.inject(FaultRequest {
            fault: Fault::CloseAtHandshake { step },
            target: None,
        })
        .unwrap();
        let mut creds = Creds::new(10);
        match Client::connect(&sim, &mut creds).await {
            Err(_) => assert_ne!(step, HandshakeStage::ClientFinish),
            Ok(mut client) => {
                assert_eq!(step, HandshakeStage::ClientFinish);
                assert!(client.closed().await.is_empty());
            }
        }
    }
    // The next connection is normal again.
    let mut creds = Creds::new(11);
    let mut client = Client::connect(&sim, &mut creds).await.unwrap();
    assert!(client.next().await.unwrap().child("pair-device").is_some());
}

#[tokio::test(start_paused = true)]
async fn silent_client_is_cut_after_the_handshake_timeout() {
    let sim = local_sim();
    let mut link = sim.connect_local();
    let start = tokio::time::Instant::now();
    assert_eq!(link.recv().await, None);
    assert_eq!(start.elapsed().as_secs(), 20);
}
