//! Engine scenarios through the tokio driver, in virtual time, written
//! against [`Harness`] only and run twice: against wa-sim in-process
//! (`…::sim`) and against the small scripted server (`…::mini`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use core::time::Duration;

use common::NativeHarness;
use common::harness::Harness;
use common::sim::SimHarness;
use wa_wasm::client::{ConnectionState, Event};

const MINUTE: Duration = Duration::from_secs(60);

/// Runs a scenario against both servers, each in its own paused-time test.
macro_rules! both {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(start_paused = true)]
            async fn sim() {
                super::$scenario(&mut super::SimHarness::new()).await;
            }
            #[tokio::test(start_paused = true)]
            async fn mini() {
                super::$scenario(&mut super::NativeHarness::new()).await;
            }
        }
    )*};
}

both!(
    qr_link_end_to_end,
    qr_refs_rotate_and_expire,
    login_with_stored_credentials_after_a_restart,
    a_silent_server_is_detected_and_left,
    server_restart_mid_session_recovers,
    replaced_never_loops,
    device_removed_logs_out_and_never_loops,
    logout_unlinks_and_wipes,
    clear_session_from_open_and_closed,
    a_store_that_fails_never_lets_the_pairing_reply_out,
    retryable_stream_errors_recover,
    stopping_stream_errors_stay_closed,
    login_failures_end_as_documented,
);

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

async fn qr_link_end_to_end<H: Harness>(h: &mut H) {
    link(h).await;
    assert!(h.server_has_device());
    h.wait_event(MINUTE, &mut |e| {
        matches!(e, Event::PreKeysUploaded { count: 812 })
    })
    .await
    .expect("first login uploads 812 pre-keys");
    let status = h.status().await;
    assert_eq!(status.state, ConnectionState::Open);
    let me = status.me.unwrap();
    assert!(me.starts_with(&format!("{}:", h.phone())), "{me}");
    assert!(status.session_stored);
    assert_eq!(h.connections(), 2, "registration, then login after 515");
    assert!(h.stored_records() > 812);
}

async fn qr_refs_rotate_and_expire<H: Harness>(h: &mut H) {
    h.start_client().await;
    h.connect().await.unwrap();
    let mut expiries = Vec::new();
    while let Some((_, expires_at)) = h.wait_qr(2 * MINUTE).await {
        expiries.push(expires_at);
        if expiries.len() == 6 {
            break;
        }
    }
    let first_shown = expiries[0] - 60_000;
    assert_eq!(
        expiries
            .iter()
            .map(|at| at - first_shown)
            .collect::<Vec<_>>(),
        [60_000, 80_000, 100_000, 120_000, 140_000, 160_000]
    );
    let closed = h.wait_state(ConnectionState::Closed, MINUTE).await.unwrap();
    assert_eq!(closed.reason_name(), Some("qr_exhausted"));
    assert!(!closed.will_reconnect);
    h.sleep(10 * MINUTE).await;
    assert_eq!(h.connections(), 1, "no reconnect after the codes ran out");
}

async fn login_with_stored_credentials_after_a_restart<H: Harness>(h: &mut H) {
    link(h).await;
    h.start_client().await; // a reload: everything comes from the store
    let status = h.status().await;
    assert_eq!(status.state, ConnectionState::Closed);
    assert!(status.session_stored);
    h.connect().await.unwrap();
    let first = h
        .wait_event(MINUTE, &mut |e| {
            matches!(e, Event::Qr { .. })
                || matches!(e, Event::Connection(u) if u.state == ConnectionState::Open)
        })
        .await
        .unwrap();
    assert!(matches!(first, Event::Connection(_)), "no QR when linked");
    assert_eq!(h.connections(), 3);
}

async fn a_silent_server_is_detected_and_left<H: Harness>(h: &mut H) {
    link(h).await;
    h.set_silent(true);
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("keepalive_timeout"));
    h.set_silent(false);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}

async fn server_restart_mid_session_recovers<H: Harness>(h: &mut H) {
    link(h).await;
    h.restart_server().await;
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("network_lost"));
    assert!(update.will_reconnect);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    assert!(h.status().await.session_stored);
}

async fn replaced_never_loops<H: Harness>(h: &mut H) {
    link(h).await;
    let connections = h.connections();
    h.stream_error(440);
    let update = h
        .wait_state(ConnectionState::Replaced, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.code(), Some(440));
    assert!(!update.will_reconnect);
    h.sleep(60 * MINUTE).await;
    assert_eq!(h.connections(), connections);
    assert!(h.status().await.session_stored);
}

async fn device_removed_logs_out_and_never_loops<H: Harness>(h: &mut H) {
    link(h).await;
    h.stream_error(401);
    let update = h
        .wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("device_removed"));
    h.sleep(60 * MINUTE).await;
    assert_eq!(h.connections(), 2);
    assert_eq!(h.stored_records(), 0);
    assert!(!h.status().await.session_stored);
}

async fn logout_unlinks_and_wipes<H: Harness>(h: &mut H) {
    link(h).await;
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
}

async fn clear_session_from_open_and_closed<H: Harness>(h: &mut H) {
    link(h).await;
    h.clear_session().await;
    let update = h
        .wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("session_cleared"));
    assert_eq!(h.stored_records(), 0);
    // No network: the server still lists the device.
    assert!(h.server_has_device());
    h.clear_session().await;
    h.wait_state(ConnectionState::LoggedOut, MINUTE)
        .await
        .unwrap();
    // A new link starts from scratch.
    h.connect().await.unwrap();
    h.wait_qr(MINUTE).await.expect("a new QR code");
}

async fn a_store_that_fails_never_lets_the_pairing_reply_out<H: Harness + FailingStore>(h: &mut H) {
    h.fail_credential_commits(true);
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
    assert_eq!(h.stored_records(), 0);
    // Storage recovers: the next attempt shows a new QR and links.
    h.fail_credential_commits(false);
    let (qr, _) = h.wait_qr(MINUTE).await.unwrap();
    h.scan(&qr);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    assert!(h.server_has_device());
}

async fn retryable_stream_errors_recover<H: Harness>(h: &mut H) {
    link(h).await;
    for (code, reason) in [
        (408, "server_timeout"),
        (428, "connection_closed"),
        (500, "server_error"),
        (503, "service_unavailable"),
        (599, "stream_error"),
    ] {
        h.stream_error(code);
        let update = h
            .wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        assert_eq!(update.reason_name(), Some(reason), "{code}");
        assert_eq!(update.code(), Some(code), "{code}");
        h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    }
    // 515 restarts at once, without a `reconnecting` state.
    h.stream_error(515);
    let update = h
        .wait_state(ConnectionState::Connecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.retry_in_ms, Some(0));
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}

async fn stopping_stream_errors_stay_closed<H: Harness>(h: &mut H) {
    link(h).await;
    for (code, reason) in [(403, "forbidden"), (405, "client_outdated")] {
        h.stream_error(code);
        let update = h.wait_state(ConnectionState::Closed, MINUTE).await.unwrap();
        assert_eq!(update.reason_name(), Some(reason), "{code}");
        let connections = h.connections();
        h.sleep(10 * MINUTE).await;
        assert_eq!(h.connections(), connections, "{code}: no reconnect");
        assert!(h.status().await.session_stored, "{code}: kept");
        h.connect().await.unwrap();
        h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    }
}

async fn login_failures_end_as_documented<H: Harness>(h: &mut H) {
    link(h).await;
    for (reason, state, name) in [
        (503, ConnectionState::Reconnecting, "service_unavailable"),
        (500, ConnectionState::Reconnecting, "server_error"),
        (405, ConnectionState::Closed, "client_outdated"),
        (401, ConnectionState::LoggedOut, "logged_out"),
    ] {
        h.fail_next_login(reason);
        h.drop_connection();
        h.wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        let update = h
            .wait_event(
                MINUTE,
                &mut |e| matches!(e, Event::Connection(u) if u.reason.is_some()),
            )
            .await
            .unwrap();
        let Event::Connection(update) = update else {
            unreachable!()
        };
        assert_eq!(update.state, state, "{reason}");
        assert_eq!(update.reason_name(), Some(name), "{reason}");
        match state {
            ConnectionState::Reconnecting => {
                h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
            }
            ConnectionState::Closed => {
                h.connect().await.unwrap();
                h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
            }
            _ => assert_eq!(h.stored_records(), 0),
        }
    }
}

/// Harnesses whose client store can be made to fail.
trait FailingStore {
    fn fail_credential_commits(&mut self, fail: bool);
}

impl FailingStore for NativeHarness {
    fn fail_credential_commits(&mut self, fail: bool) {
        self.store
            .fail_commits_touching(fail.then_some(wa_wasm::store::Namespace::Credentials));
    }
}

impl FailingStore for SimHarness {
    fn fail_credential_commits(&mut self, fail: bool) {
        self.store
            .fail_commits_touching(fail.then_some(wa_wasm::store::Namespace::Credentials));
    }
}

// Faults only the simulator injects.

#[tokio::test(start_paused = true)]
async fn sim_corrupt_frame_is_a_protocol_error() {
    let mut h = SimHarness::new();
    link(&mut h).await;
    h.inject(wa_sim::Fault::CorruptNextFrame);
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("protocol_error"));
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sim_truncated_frame_is_a_lost_connection() {
    let mut h = SimHarness::new();
    link(&mut h).await;
    h.inject(wa_sim::Fault::TruncateNextFrame);
    let update = h
        .wait_state(ConnectionState::Reconnecting, MINUTE)
        .await
        .unwrap();
    assert_eq!(update.reason_name(), Some("network_lost"));
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sim_close_during_the_handshake_is_retried() {
    for step in [
        wa_sim::HandshakeStage::ClientHello,
        wa_sim::HandshakeStage::ServerHello,
        wa_sim::HandshakeStage::ClientFinish,
    ] {
        let mut h = SimHarness::new();
        link(&mut h).await;
        h.inject(wa_sim::Fault::CloseAtHandshake { step });
        h.drop_connection();
        h.wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        let update = h
            .wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        assert_eq!(update.attempt, 2, "{step:?}");
        h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn sim_pairing_code_links() {
    let mut h = SimHarness::new();
    h.start_client().await;
    h.connect().await.unwrap();
    h.wait_qr(MINUTE).await.unwrap();
    h.request_pairing_code(wa_sim::DEFAULT_ME_PHONE)
        .await
        .unwrap();
    let code = match h
        .wait_event(MINUTE, &mut |e| matches!(e, Event::PairingCode { .. }))
        .await
        .unwrap()
    {
        Event::PairingCode { code, .. } => code,
        _ => unreachable!(),
    };
    h.sim
        .enter_pairing_code(wa_sim::DEFAULT_ME_PHONE, &code)
        .unwrap();
    h.wait_state(ConnectionState::Open, 2 * MINUTE)
        .await
        .unwrap();
    assert!(h.server_has_device());
}

#[tokio::test(start_paused = true)]
async fn mini_backs_off_while_the_server_is_down() {
    let mut h = NativeHarness::new();
    link(&mut h).await;
    h.server.with(|s| s.down = true);
    h.drop_connection();
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let update = h
            .wait_state(ConnectionState::Reconnecting, MINUTE)
            .await
            .unwrap();
        assert_eq!(update.reason_name(), Some("network_lost"));
        attempts.push(update.attempt);
    }
    assert_eq!(attempts, [1, 2, 3, 4]);
    h.server.with(|s| s.down = false);
    h.wait_state(ConnectionState::Open, MINUTE).await.unwrap();
    assert_eq!(h.status().await.stats.reconnects, 5);
}
