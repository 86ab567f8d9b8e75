//! Engine scenarios through the tokio driver, in virtual time, against the
//! scripted in-process server. Written against [`Harness`] only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use core::time::Duration;

use common::NativeHarness;
use common::harness::Harness;
use wa_wasm::binary::Node;
use wa_wasm::client::{ConnectionState, Event};
use wa_wasm::store::Namespace;

const MINUTE: Duration = Duration::from_secs(60);

/// Links by QR and waits for `open`.
async fn link<H: Harness>(h: &mut H) {
    h.start_client().await;
    h.connect().await.unwrap();
    let (qr, _) = h.wait_qr(MINUTE).await.expect("a QR code");
    h.scan(&qr);
    h.wait_event(MINUTE, &mut |e| matches!(e, Event::Paired { .. }))
        .await
        .expect("paired");
    h.wait_state(ConnectionState::Open, MINUTE)
        .await
        .expect("open after the 515 restart");
}

#[tokio::test(start_paused = true)]
async fn qr_link_end_to_end() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    assert!(h.server_has_device());
    let status = h.status().await;
    assert_eq!(status.state, ConnectionState::Open);
    assert_eq!(status.me.as_deref(), Some("51987654321:12@s.whatsapp.net"));
    assert!(status.session_stored);
    assert_eq!(h.connections(), 2, "registration, then login after 515");
    assert_eq!(h.server.with(|s| s.pre_keys), 812);
    assert!(h.stored_records() > 812);
}

#[tokio::test(start_paused = true)]
async fn qr_refs_rotate_and_expire() {
    let mut h = NativeHarness::new();
    h.server.with(|s| s.refs = 3);
    h.start_client().await;
    h.connect().await.unwrap();
    let mut expiries = Vec::new();
    for _ in 0..3 {
        let (_, expires_at) = h.wait_qr(2 * MINUTE).await.unwrap();
        expiries.push(expires_at);
    }
    let first_shown = expiries[0] - 60_000;
    assert_eq!(
        expiries
            .iter()
            .map(|at| at - first_shown)
            .collect::<Vec<_>>(),
        [60_000, 80_000, 100_000]
    );
    let closed = h.wait_state(ConnectionState::Closed, MINUTE).await.unwrap();
    assert_eq!(closed.reason_name(), Some("qr_exhausted"));
    assert!(!closed.will_reconnect);
    h.sleep(10 * MINUTE).await;
    assert_eq!(h.connections(), 1);
}

#[tokio::test(start_paused = true)]
async fn login_with_stored_credentials_after_a_restart() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.start_client().await; // a reload: everything comes from the store
    assert_eq!(h.status().await.state, ConnectionState::Closed);
    assert!(h.status().await.session_stored);
    h.connect().await.unwrap();
    let open = h
        .wait_event(MINUTE, &mut |e| {
            matches!(e, Event::Qr { .. })
                || matches!(e, Event::Connection(u) if u.state == ConnectionState::Open)
        })
        .await
        .unwrap();
    assert!(matches!(open, Event::Connection(_)), "no QR when linked");
    assert_eq!(h.connections(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_is_detected_and_left() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.set_silent(true);
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("keepalive_timeout"));
    h.set_silent(false);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn server_restart_mid_session_recovers() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.set_server_down(true);
    h.drop_connection();
    let first = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(first.reason_name(), Some("network_lost"));
    // While down, attempts back off.
    let mut attempts = vec![first.attempt];
    for _ in 0..3 {
        let update = h
            .wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        attempts.push(update.attempt);
    }
    assert_eq!(attempts, [1, 2, 3, 4]);
    h.set_server_down(false);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    assert_eq!(h.status().await.stats.reconnects, 5);
}

#[tokio::test(start_paused = true)]
async fn replaced_and_removed_never_loop() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    let connections = h.connections();
    h.server_send(
        Node::new("stream:error").children([Node::new("conflict").attr("type", "replaced")]),
    );
    let update = h
        .wait_state(ConnectionState::Replaced, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.code(), Some(440));
    h.sleep(60 * MINUTE).await;
    assert_eq!(h.connections(), connections);
    assert!(h.status().await.session_stored);

    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.server_send(
        Node::new("stream:error")
            .attr("code", "401")
            .children([Node::new("conflict").attr("type", "device_removed")]),
    );
    h.wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    h.sleep(60 * MINUTE).await;
    assert_eq!(h.connections(), 2);
    assert_eq!(h.stored_records(), 0);
}

#[tokio::test(start_paused = true)]
async fn logout_unlinks_and_wipes() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.logout().await;
    let update = h
        .wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("logout"));
    assert!(!h.server_has_device());
    assert_eq!(h.stored_records(), 0);
    // Again, on a closed client: no error, still logged out.
    h.logout().await;
    h.wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    h.clear_session().await;
    h.wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_store_that_fails_never_lets_the_pairing_reply_out() {
    let mut h = NativeHarness::new();
    h.store.fail_commits_touching(Some(Namespace::Credentials));
    h.start_client().await;
    h.connect().await.unwrap();
    let (qr, _) = h.wait_qr(MINUTE).await.unwrap();
    h.scan(&qr);
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("store_failed"));
    assert!(!h.server_has_device(), "the reply never reached the server");
    assert!(h.server.with(|s| {
        s.received
            .iter()
            .all(|n| n.child("pair-device-sign").is_none())
    }));
    assert_eq!(h.stored_records(), 0);
    // Storage recovers: the next attempt shows a new QR and links.
    h.store.heal();
    let (qr, _) = h.wait_qr(MINUTE).await.unwrap();
    h.scan(&qr);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}
