#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use wa_wasm::client::policy::{Disposition, RetryReason, StopKind};
use wa_wasm::pairing::{
    LinkCode, PairingError, primary_open_bundle, unwrap_ephemeral, wrap_ephemeral,
};
use wa_wasm::payload::PayloadKind;
use wa_wasm::store::keys;

use super::*;

fn reason(update: &ConnectionUpdate) -> &str {
    update.reason_name().unwrap_or("-")
}

#[test]
fn qr_link_end_to_end_then_login() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    assert_eq!(
        run.states(),
        [ConnectionState::Connecting, ConnectionState::Handshaking]
    );
    // The registration payload carries our keys.
    let payload = run.server.conn.as_ref().unwrap().payload.clone().unwrap();
    let creds = run.client.credentials().unwrap().clone();
    let PayloadKind::Registration(registration) = payload.kind else {
        panic!("a registration payload");
    };
    assert_eq!(registration.identity_key, creds.identity_key.public);
    assert_eq!(registration.registration_id, creds.registration_id);

    run.pair_device(&["ref-1", "ref-2", "ref-3"]);
    // The pair-device iq is acknowledged.
    let sent = run.sent();
    assert!(sent.iter().any(|n| n.tag == "iq"
        && n.str_attr("id") == Some("pd-1")
        && n.str_attr("type") == Some("result")));
    assert_eq!(run.client.state(), ConnectionState::WaitingForScan);
    let qr = run.qr_codes();
    assert_eq!(qr.len(), 1);
    let parsed = wa_wasm::pairing::QrData::parse(&qr[0].0).unwrap();
    assert_eq!(parsed.pairing_ref, "ref-1");
    assert_eq!(parsed.noise_key, creds.noise_key.public);
    assert_eq!(parsed.adv_secret, *creds.adv_secret.as_bytes());
    assert_eq!(parsed.platform, "1");
    assert_eq!(qr[0].1, run.now + 60_000);
    assert!(
        matches!(run.events.iter().find(|e| matches!(e, Event::Qr { .. })),
        Some(Event::Qr { svg, .. }) if svg.contains("<path"))
    );

    // The phone scans: the pairing is stored before the reply goes out.
    run.auto_persist = false;
    let success = run.server.pair_success(
        "ps-1",
        &creds.identity_key.public,
        creds.adv_secret.as_bytes(),
    );
    run.deliver(&success);
    assert_eq!(run.client.state(), ConnectionState::Pairing);
    assert!(run.sent().is_empty(), "nothing before the commit");
    assert_eq!(run.client.poll_output(), None);
    let changes = run.persists.last().unwrap().clone();
    assert!(changes.touches(Namespace::Credentials));
    assert!(changes.touches(Namespace::Identities));
    assert!(changes.touches(Namespace::LidMappings));
    run.auto_persist = true;
    run.answer_persist(changes);
    run.pump();
    let sent = run.sent();
    let reply = sent
        .iter()
        .find(|n| n.str_attr("id") == Some("ps-1"))
        .expect("pair-device-sign reply");
    run.server
        .check_device_sign(reply, &creds.identity_key.public);
    assert!(
        sent.iter().any(|n| n.tag == "ib"),
        "unified_session after pairing"
    );
    assert!(
        run.events.iter().any(
            |e| matches!(e, Event::Paired { me, .. } if me == "51987654321:12@s.whatsapp.net")
        )
    );
    let stored = run.registered_auth();
    let LoadedAuth::Registered(stored) = stored else {
        unreachable!()
    };
    assert!(stored.is_registered());
    assert_eq!(stored.lid.as_deref(), Some("98765432109876:12@lid"));
    let identity_key = keys::signal_address("98765432109876_1", 0);
    assert_eq!(
        run.store
            .get(&(Namespace::Identities, identity_key))
            .map(Vec::len),
        Some(33)
    );

    // 515: a new connection at once, with the login payload.
    run.deliver(&Node::new("stream:error").attr("code", "515"));
    assert_eq!(run.socket_log, ["connect", "disconnect", "connect"]);
    let restart = run
        .updates()
        .into_iter()
        .find(|u| u.reason.is_some())
        .unwrap()
        .clone();
    assert_eq!(restart.state, ConnectionState::Connecting);
    assert_eq!(restart.code(), Some(515));
    assert!(restart.will_reconnect);
    assert_eq!(restart.retry_in_ms, Some(0));
    assert_eq!(run.client.state(), ConnectionState::LoggingIn);
    let payload = run.server.conn.as_ref().unwrap().payload.clone().unwrap();
    let PayloadKind::Login(login) = payload.kind else {
        panic!("a login payload");
    };
    assert_eq!((login.username, login.device), (51_987_654_321, 12));
    assert!(login.passive);

    // Login: first login uploads 812 pre-keys, stored before the upload.
    run.login();
    assert_eq!(run.client.state(), ConnectionState::Open);
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::PreKeysUploaded { count: 812 }))
    );
    let pre_keys = run
        .store
        .keys()
        .filter(|(ns, _)| *ns == Namespace::PreKeys)
        .count();
    assert_eq!(pre_keys, 812);
    let LoadedAuth::Registered(stored) = run.registered_auth() else {
        unreachable!()
    };
    assert_eq!(stored.first_unuploaded_pre_key_id, 813);
    assert_eq!(stored.next_pre_key_id, 813);
    assert!(run.states().ends_with(&[
        ConnectionState::Pairing,
        ConnectionState::Connecting,
        ConnectionState::Handshaking,
        ConnectionState::LoggingIn,
        ConnectionState::Open,
    ]));
    let status = run.client.status();
    assert_eq!(status.me.as_deref(), Some("51987654321:12@s.whatsapp.net"));
    assert!(status.session_stored);
    assert_eq!(status.stats.connects, 2);
    assert_eq!(status.stats.reconnects, 1);
}

#[test]
fn qr_refs_rotate_then_expire() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    run.pair_device(&["a", "b", "c"]);
    let start = run.now;
    run.advance(59_999);
    assert_eq!(run.qr_codes().len(), 1);
    run.advance(1);
    assert_eq!(run.qr_codes().len(), 2);
    run.advance(20_000);
    let codes = run.qr_codes();
    assert_eq!(codes.len(), 3);
    assert_eq!(
        codes.iter().map(|(_, at)| at - start).collect::<Vec<_>>(),
        [60_000, 80_000, 100_000]
    );
    let refs: Vec<String> = codes
        .iter()
        .map(|(code, _)| wa_wasm::pairing::QrData::parse(code).unwrap().pairing_ref)
        .collect();
    assert_eq!(refs, ["a", "b", "c"]);
    run.advance(20_000);
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::Closed);
    assert_eq!(reason(&update), "qr_exhausted");
    assert!(!update.will_reconnect);
    assert_eq!(run.socket_log.last(), Some(&"disconnect"));
    assert_eq!(run.client.poll_timeout(), None);
}

#[test]
fn a_failed_commit_keeps_the_pairing_reply_back() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    run.pair_device(&["ref-1"]);
    run.sent();
    run.fail_commits = 1;
    let creds = run.client.credentials().unwrap().clone();
    let success = run.server.pair_success(
        "ps-1",
        &creds.identity_key.public,
        creds.adv_secret.as_bytes(),
    );
    let bytes = run.server.frame(&success);
    // Capture what the server gets before the socket closes.
    run.client.handle_bytes(&bytes, run.now, &mut run.rng);
    let mut sent_after = Vec::new();
    while let Some(output) = run.client.poll_output() {
        match output {
            Output::Persist(changes) => run.answer_persist(changes),
            Output::Send(bytes) => sent_after.push(bytes),
            Output::Event(event) => run.events.push(event),
            Output::Disconnect => run.socket_log.push("disconnect"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(sent_after.is_empty(), "the reply never left");
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::StoreFailed { .. }))
    );
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::Reconnecting);
    assert_eq!(
        update.reason.unwrap().disposition,
        Disposition::Retry(RetryReason::StoreFailed)
    );
    assert!(!run.client.status().session_stored);
    assert!(run.store.is_empty());
}

#[test]
fn keepalive_detects_a_dead_socket_and_pings_when_alive() {
    let mut run = open_run();
    run.server.auto_pong = false;
    // The first ping comes 20–30 s after the handshake.
    run.advance(30_000);
    let pings: Vec<Node> = run
        .sent()
        .into_iter()
        .filter(|n| n.str_attr("xmlns") == Some("w:p"))
        .collect();
    assert_eq!(pings.len(), 1);
    run.deliver(&result(pings[0].str_attr("id").unwrap()));
    assert_eq!(run.client.state(), ConnectionState::Open);
    // Next ping, unanswered and nothing else received: dead within 10 s.
    let next = run.client.poll_timeout().unwrap();
    assert!((run.now + 20_000..=run.now + 30_000).contains(&next));
    run.advance_to(next);
    assert_eq!(run.sent().len(), 1);
    run.advance(9_999);
    assert_eq!(run.client.state(), ConnectionState::Open);
    run.advance(1);
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::Reconnecting);
    assert_eq!(reason(&update), "keepalive_timeout");
    assert_eq!(update.code(), Some(408));
    assert!(update.will_reconnect);
    let retry = update.retry_in_ms.unwrap();
    assert!((900..=1100).contains(&retry), "{retry}");
    // The reconnect happens by itself and logs in again.
    run.server.auto_pong = true;
    run.advance(retry);
    assert_eq!(run.client.state(), ConnectionState::LoggingIn);
    run.login_with_count(100);
    assert_eq!(run.client.state(), ConnectionState::Open);
}

#[test]
fn conflict_and_logged_out_never_loop() {
    let mut run = open_run();
    run.deliver(
        &Node::new("stream:error").children([Node::new("conflict").attr("type", "replaced")]),
    );
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::Replaced);
    assert_eq!(update.code(), Some(440));
    assert!(!update.will_reconnect);
    assert_eq!(run.client.poll_timeout(), None);
    let connects = run.client.status().stats.connects;
    run.advance(3_600_000);
    assert_eq!(run.client.status().stats.connects, connects);
    assert_eq!(run.wipes, 0);

    let mut run = open_run();
    run.deliver(
        &Node::new("stream:error")
            .attr("code", "401")
            .children([Node::new("conflict").attr("type", "device_removed")]),
    );
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::LoggedOut);
    assert_eq!(reason(&update), "device_removed");
    assert_eq!(run.wipes, 1);
    assert!(run.store.is_empty());
    assert_eq!(run.client.poll_timeout(), None);
    assert!(!run.client.status().session_stored);
    assert_eq!(run.client.status().me, None);
}

#[test]
fn login_failures_end_as_documented() {
    for (code, state, name, wiped) in [
        ("401", ConnectionState::LoggedOut, "logged_out", true),
        ("405", ConnectionState::Closed, "client_outdated", false),
        ("402", ConnectionState::Closed, "temporarily_banned", false),
        (
            "503",
            ConnectionState::Reconnecting,
            "service_unavailable",
            false,
        ),
    ] {
        let mut linking = Run::new(LoadedAuth::Empty);
        linking.link_and_open();
        let mut run = Run::new(linking.registered_auth());
        run.connect();
        run.deliver(&Node::new("failure").attr("reason", code));
        let update = run.last_update().clone();
        assert_eq!(update.state, state, "{code}");
        assert_eq!(reason(&update), name, "{code}");
        assert_eq!(update.code(), code.parse().ok(), "{code}");
        assert_eq!(run.wipes == 1, wiped, "{code}");
    }
}

#[test]
fn logout_unlinks_when_open_and_only_wipes_otherwise() {
    let mut run = open_run();
    run.client.logout(run.now, &mut run.rng);
    run.pump();
    let sent = run.sent();
    let request = sent
        .iter()
        .find(|n| n.child("remove-companion-device").is_some())
        .expect("unlink request");
    assert_eq!(
        request
            .child("remove-companion-device")
            .and_then(|n| n.attr_text("jid"))
            .as_deref(),
        Some("51987654321:12@s.whatsapp.net")
    );
    assert_eq!(run.wipes, 0);
    run.deliver(&result(request.str_attr("id").unwrap()));
    assert_eq!(run.client.state(), ConnectionState::LoggedOut);
    assert_eq!(run.wipes, 1);
    assert_eq!(run.socket_log.last(), Some(&"disconnect"));
    assert_eq!(reason(run.last_update()), "logout");

    // The server never answers: the logout still completes.
    let mut run = open_run();
    run.client.logout(run.now, &mut run.rng);
    run.pump();
    run.advance(5_000);
    assert_eq!(run.client.state(), ConnectionState::LoggedOut);
    assert_eq!(run.wipes, 1);

    // Already closed: no socket, no request, just the wipe.
    let mut run = open_run();
    run.client.disconnect(run.now, &mut run.rng);
    run.pump();
    assert_eq!(run.client.state(), ConnectionState::Closed);
    assert!(run.client.status().session_stored);
    let log_len = run.socket_log.len();
    run.client.logout(run.now, &mut run.rng);
    run.pump();
    assert_eq!(run.socket_log.len(), log_len);
    assert_eq!(run.client.state(), ConnectionState::LoggedOut);
    assert_eq!(run.wipes, 1);
    // Connecting again starts a new link.
    run.connect();
    assert_eq!(run.client.state(), ConnectionState::Handshaking);
    let payload = run.server.conn.as_ref().unwrap().payload.clone().unwrap();
    assert!(matches!(payload.kind, PayloadKind::Registration(_)));
}

#[test]
fn clear_session_from_every_state() {
    type Setup = fn() -> Run;
    let setups: [(&str, Setup); 7] = [
        ("idle", || Run::new(LoadedAuth::Empty)),
        ("connecting", || {
            let mut run = Run::new(LoadedAuth::Empty);
            run.client.connect(run.now, &mut run.rng).unwrap();
            run
        }),
        ("handshaking", || {
            let mut run = Run::new(LoadedAuth::Empty);
            run.connect();
            run
        }),
        ("qr", || {
            let mut run = Run::new(LoadedAuth::Empty);
            run.connect();
            run.pair_device(&["r"]);
            run
        }),
        ("open", open_run),
        ("reconnecting", || {
            let mut run = open_run();
            run.drop_socket();
            run
        }),
        ("replaced", || {
            let mut run = open_run();
            run.deliver(&Node::new("stream:error").attr("code", "440"));
            run
        }),
    ];
    for (name, setup) in setups {
        for logout in [false, true] {
            let mut run = setup();
            run.pump();
            let had_socket = run.socket_open;
            if logout && run.client.state() != ConnectionState::Open {
                run.client.logout(run.now, &mut run.rng);
            } else {
                run.client.clear_session(run.now, &mut run.rng);
            }
            run.pump();
            assert_eq!(run.client.state(), ConnectionState::LoggedOut, "{name}");
            assert_eq!(run.wipes, 1, "{name}");
            assert!(!run.socket_open, "{name}");
            if had_socket {
                assert_eq!(run.socket_log.last(), Some(&"disconnect"), "{name}");
            }
            assert_eq!(run.client.poll_timeout(), None, "{name}");
            assert!(!run.client.status().session_stored, "{name}");
        }
    }
}

#[test]
fn pairing_code_links_like_a_qr_scan() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    run.pair_device(&["r1", "r2"]);
    run.sent();
    assert_eq!(
        run.client.request_pairing_code("12", run.now, &mut run.rng),
        Err(ClientError::InvalidPhoneNumber("fewer than 7 digits"))
    );
    run.client
        .request_pairing_code("+51 987 654 321", run.now, &mut run.rng)
        .unwrap();
    run.pump();
    let hello = run.sent().pop().unwrap();
    let registration = hello.child("link_code_companion_reg").unwrap();
    assert_eq!(registration.str_attr("stage"), Some("companion_hello"));
    assert_eq!(
        registration.attr_text("jid").as_deref(),
        Some("51987654321@s.whatsapp.net")
    );
    assert_eq!(
        registration
            .child("companion_platform_display")
            .and_then(Node::content_str),
        Some("Chrome (Linux)")
    );
    let wrapped_companion = registration
        .child_bytes("link_code_pairing_wrapped_companion_ephemeral_pub")
        .unwrap()
        .to_vec();
    run.deliver(
        &result(hello.str_attr("id").unwrap()).children([Node::new("link_code_companion_reg")
            .children([Node::new("link_code_pairing_ref").bytes(b"code-ref".to_vec())])]),
    );
    let code = run
        .events
        .iter()
        .find_map(|e| match e {
            Event::PairingCode { code, .. } => Some(code.clone()),
            _ => None,
        })
        .expect("pairing code");
    assert_eq!(code.len(), 9);
    // QR codes stopped; no expiry closes the connection while the code is valid.
    let qr_before = run.qr_codes().len();
    run.advance(100_000);
    assert_eq!(run.qr_codes().len(), qr_before);
    assert_eq!(run.client.state(), ConnectionState::WaitingForScan);
    run.sent();

    // The phone: types the code, sends its wrapped ephemeral and identity.
    let mut phone_rng = StdRng::seed_from_u64(77);
    let link_code = LinkCode::parse(&code).unwrap();
    let companion_ephemeral = unwrap_ephemeral(&link_code, &wrapped_companion).unwrap();
    let primary_ephemeral = KeyPair::generate(&mut phone_rng);
    let wrapped_primary = wrap_ephemeral(&link_code, &primary_ephemeral.public, &mut phone_rng);
    run.deliver(
        &Node::new("notification")
            .attr("from", Jid::server_jid())
            .attr("id", "n-1")
            .attr("type", "link_code_companion_reg")
            .children([Node::new("link_code_companion_reg")
                .attr("stage", "primary_hello")
                .children([
                    Node::new("link_code_pairing_ref").bytes(b"code-ref".to_vec()),
                    Node::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .bytes(wrapped_primary.to_vec()),
                    Node::new("primary_identity_pub")
                        .bytes(run.server.account.public.as_bytes().to_vec()),
                ])]),
    );
    let sent = run.sent();
    assert!(
        sent.iter()
            .any(|n| n.tag == "ack" && n.str_attr("id") == Some("n-1"))
    );
    let finish = sent
        .iter()
        .find(|n| n.child("link_code_companion_reg").is_some())
        .expect("companion_finish");
    let bundle = finish
        .child_path(&[
            "link_code_companion_reg",
            "link_code_pairing_wrapped_key_bundle",
        ])
        .and_then(Node::content_bytes)
        .unwrap();
    let (companion_identity, adv_secret) = primary_open_bundle(
        &primary_ephemeral.private,
        &companion_ephemeral,
        &run.server.account,
        bundle,
    )
    .unwrap();
    let creds = run.client.credentials().unwrap().clone();
    assert_eq!(companion_identity, creds.identity_key.public);
    assert_eq!(adv_secret, *creds.adv_secret.as_bytes());
    run.deliver(&result(finish.str_attr("id").unwrap()));
    // From here on, exactly like a QR scan, with the new adv secret.
    let success = run
        .server
        .pair_success("ps-2", &companion_identity, &adv_secret);
    run.deliver(&success);
    let reply = run
        .sent()
        .into_iter()
        .find(|n| n.str_attr("id") == Some("ps-2"))
        .expect("reply");
    run.server.check_device_sign(&reply, &companion_identity);
    run.deliver(&Node::new("stream:error").attr("code", "515"));
    run.login();
    assert_eq!(run.client.state(), ConnectionState::Open);
}

#[test]
fn a_forged_pair_success_is_refused() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    run.pair_device(&["r"]);
    run.sent();
    let creds = run.client.credentials().unwrap().clone();
    let success = run
        .server
        .pair_success("ps-1", &creds.identity_key.public, &[0u8; 32]);
    run.deliver(&success);
    let sent = run.sent();
    let error = sent
        .iter()
        .find(|n| n.str_attr("id") == Some("ps-1"))
        .unwrap();
    assert_eq!(error.str_attr("type"), Some("error"));
    assert_eq!(
        error.child("error").and_then(|e| e.str_attr("code")),
        Some("401")
    );
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::PairingFailed {
            error: PairingError::HmacMismatch
        }
    )));
    assert!(run.persists.is_empty());
    assert_eq!(reason(run.last_update()), "pairing_failed");
}

#[test]
fn queries_time_out_and_unknown_stanzas_are_harmless() {
    let mut run = open_run();
    let id = run
        .client
        .query(
            Node::new("iq")
                .attr("type", "get")
                .attr("xmlns", "abt")
                .children([Node::new("props")]),
            run.now,
        )
        .unwrap();
    run.pump();
    run.deliver(&Node::new("mystery").attr("x", "1"));
    run.deliver(
        &Node::new("iq")
            .attr("type", "get")
            .attr("id", "s1")
            .children([Node::new("odd")]),
    );
    assert_eq!(run.client.state(), ConnectionState::Open);
    // Pings keep the socket alive while the query waits.
    run.advance(60_000);
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::QueryResult { id: got, result: Err(IqError::Timeout { timeout_ms: 60_000 }) } if *got == id
    )));
    assert_eq!(run.client.state(), ConnectionState::Open);
    let error = run.client.query(Node::new("iq"), run.now);
    assert!(error.is_ok());
    run.client.disconnect(run.now, &mut run.rng);
    run.pump();
    assert!(matches!(
        run.client.query(Node::new("iq"), run.now),
        Err(ClientError::NotOpen(ConnectionState::Closed))
    ));
}

#[test]
fn few_pre_keys_left_uploads_a_batch() {
    let mut run = open_run();
    run.deliver(
        &Node::new("notification")
            .attr("from", Jid::server_jid())
            .attr("id", "n-9")
            .attr("type", "encrypt")
            .children([Node::new("count").attr("value", "3")]),
    );
    let sent = run.sent();
    assert!(
        sent.iter()
            .any(|n| n.tag == "ack" && n.str_attr("class") == Some("notification"))
    );
    let upload = sent
        .iter()
        .find(|n| n.child("list").is_some())
        .expect("upload");
    let keys = upload.child("list").unwrap().children_by_tag("key").count();
    assert_eq!(keys, 50);
    let first_id = upload
        .child_path(&["list", "key", "id"])
        .map(|n| n.required_be_uint().unwrap());
    assert_eq!(first_id, Some(813));
    run.deliver(&result(upload.str_attr("id").unwrap()));
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::PreKeysUploaded { count: 50 }))
    );
}

#[test]
fn an_untrusted_server_is_not_retried() {
    let mut run = Run::with_config(LoadedAuth::Empty, |config| {
        config.server_root = wa_wasm::noise::WA_ROOT_PUBLIC_KEY;
    });
    run.connect();
    let update = run.last_update().clone();
    assert_eq!(update.state, ConnectionState::Closed);
    assert_eq!(
        update.reason.unwrap().disposition,
        Disposition::Stop(StopKind::UntrustedServer)
    );
    assert_eq!(run.socket_log, ["connect", "disconnect"]);
}

#[test]
fn transport_loss_backs_off_and_recovers() {
    let mut run = open_run();
    run.drop_socket();
    let first = run.last_update().clone();
    assert_eq!(first.state, ConnectionState::Reconnecting);
    assert_eq!(first.attempt, 1);
    let status = run.client.status();
    assert_eq!(status.reconnecting.map(|r| r.attempt), Some(1));
    assert_eq!(
        status.last_disconnect.unwrap().reason.name(),
        "network_lost"
    );
    // The server stays down: connect attempts fail, delays grow.
    run.server_down = true;
    let mut delays = vec![first.retry_in_ms.unwrap()];
    for attempt in 2..=5 {
        run.advance(*delays.last().unwrap());
        let update = run.last_update().clone();
        assert_eq!(update.state, ConnectionState::Reconnecting);
        assert_eq!(update.attempt, attempt);
        delays.push(update.retry_in_ms.unwrap());
    }
    run.server_down = false;
    // Fibonacci seconds with ±10 % jitter: 1 1 2 3 5.
    for (delay, base) in delays.iter().zip([1_000u64, 1_000, 2_000, 3_000, 5_000]) {
        assert!(delay.abs_diff(base) <= base / 10, "{delays:?}");
    }
    run.advance(*delays.last().unwrap());
    run.login_with_count(100);
    assert_eq!(run.client.state(), ConnectionState::Open);
    assert_eq!(run.client.status().stats.reconnects, 5);
}

#[test]
fn clearing_the_session_while_the_pairing_is_stored_voids_it() {
    let mut run = Run::new(LoadedAuth::Empty);
    run.connect();
    run.pair_device(&["ref-1"]);
    run.sent();
    run.auto_persist = false;
    let creds = run.client.credentials().unwrap().clone();
    let success = run.server.pair_success(
        "ps-1",
        &creds.identity_key.public,
        creds.adv_secret.as_bytes(),
    );
    run.deliver(&success);
    assert_eq!(run.client.state(), ConnectionState::Pairing);
    // The user clears the session before the store answers.
    run.client.clear_session(run.now, &mut run.rng);
    let changes = run.persists.last().unwrap().clone();
    run.auto_persist = true;
    run.answer_persist(changes);
    run.pump();
    // Stored, then wiped, in that order; the reply never left.
    assert_eq!(run.wipes, 1);
    assert!(run.store.is_empty());
    assert!(run.sent().iter().all(|n| n.str_attr("id") != Some("ps-1")));
    assert_eq!(run.client.state(), ConnectionState::LoggedOut);
    assert!(!run.client.status().session_stored);
    assert!(run.client.credentials().is_none());
}
