//! One named test per fault: what the engine ends in, what it tells the
//! application, and whether and when it reconnects. The README's fault matrix
//! lists them.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

/// What the reconnect looks like.
#[derive(Debug, Clone, Copy)]
enum Retry {
    /// No reconnect, no timer left.
    Never,
    /// A new socket at once.
    Now,
    /// After the first back-off step (1 s ± 10 %).
    Backoff,
}

fn check(
    run: &Run,
    state: ConnectionState,
    reason: &str,
    code: Option<u16>,
    retry: Retry,
    wiped: bool,
) {
    // The update that reports the close (a restart goes on to log in).
    let update = (*run
        .updates()
        .iter()
        .rev()
        .find(|u| u.reason.is_some())
        .expect("a close"))
    .clone();
    assert_eq!(update.state, state);
    assert_eq!(update.reason_name(), Some(reason));
    assert_eq!(update.code(), code);
    match retry {
        Retry::Never => {
            assert!(!update.will_reconnect);
            assert_eq!(update.retry_in_ms, None);
            assert_eq!(run.client.poll_timeout(), None);
        }
        Retry::Now => {
            assert!(update.will_reconnect);
            assert_eq!(update.retry_in_ms, Some(0));
            assert_eq!(run.client.status().stats.reconnects, 1);
        }
        Retry::Backoff => {
            assert!(update.will_reconnect);
            let delay = update.retry_in_ms.unwrap();
            assert!((900..=1100).contains(&delay), "{delay}");
            assert_eq!(
                run.client.status().reconnecting.map(|r| r.at),
                Some(run.now + delay)
            );
        }
    }
    assert_eq!(run.wipes > 0, wiped, "wipe");
    if wiped {
        assert!(!run.client.status().session_stored);
        assert!(run.store.is_empty());
    }
}

/// Linked, connected, waiting for `success`.
fn logging_in() -> Run {
    let mut linking = Run::new(LoadedAuth::Empty);
    linking.link_and_open();
    let mut run = Run::new(linking.registered_auth());
    run.connect();
    assert_eq!(run.client.state(), ConnectionState::LoggingIn);
    run
}

fn stream_error(code: &str) -> Node {
    Node::new("stream:error").attr("code", code)
}

macro_rules! fault {
    ($name:ident, $setup:expr, $inject:expr => $state:ident, $reason:literal, $code:expr, $retry:ident, wiped: $wiped:literal) => {
        #[test]
        fn $name() {
            let mut run: Run = $setup;
            let inject: fn(&mut Run) = $inject;
            inject(&mut run);
            check(
                &run,
                ConnectionState::$state,
                $reason,
                $code,
                Retry::$retry,
                $wiped,
            );
        }
    };
}

// Transport and liveness.
fault!(socket_dropped, open_run(), |r| r.drop_socket() => Reconnecting, "network_lost", Some(428), Backoff, wiped: false);
fault!(undecryptable_frame, open_run(), |r| {
    let bytes = [0u8, 0, 20].iter().copied().chain([7u8; 20]).collect::<Vec<_>>();
    r.client.handle_bytes(&bytes, r.now, &mut r.rng);
    r.pump();
} => Reconnecting, "protocol_error", Some(500), Backoff, wiped: false);
fault!(handshake_unanswered, {
    let mut run = Run::new(LoadedAuth::Empty);
    run.client.connect(run.now, &mut run.rng).unwrap();
    // The socket opens, the server never answers the ClientHello.
    let _ = run.client.poll_output();
    run.client.handle_connected(run.now, &mut run.rng);
    while let Some(output) = run.client.poll_output() {
        if let Output::Event(event) = output { run.events.push(event); }
    }
    run
}, |r| r.advance(20_000) => Reconnecting, "handshake_failed", None, Backoff, wiped: false);
fault!(login_unanswered, logging_in(), |r| r.advance(20_000) => Reconnecting, "handshake_failed", None, Backoff, wiped: false);

// stream:error codes.
fault!(stream_error_515_restarts_at_once, open_run(), |r| r.deliver(&stream_error("515")) => Connecting, "restart_required", Some(515), Now, wiped: false);
fault!(stream_error_401, open_run(), |r| r.deliver(&stream_error("401")) => LoggedOut, "logged_out", Some(401), Never, wiped: true);
fault!(stream_error_403, open_run(), |r| r.deliver(&stream_error("403")) => Closed, "forbidden", Some(403), Never, wiped: false);
fault!(stream_error_405, open_run(), |r| r.deliver(&stream_error("405")) => Closed, "client_outdated", Some(405), Never, wiped: false);
fault!(stream_error_408, open_run(), |r| r.deliver(&stream_error("408")) => Reconnecting, "server_timeout", Some(408), Backoff, wiped: false);
fault!(stream_error_428, open_run(), |r| r.deliver(&stream_error("428")) => Reconnecting, "connection_closed", Some(428), Backoff, wiped: false);
fault!(stream_error_440, open_run(), |r| r.deliver(&stream_error("440")) => Replaced, "replaced", Some(440), Never, wiped: false);
fault!(stream_error_500, open_run(), |r| r.deliver(&stream_error("500")) => Reconnecting, "server_error", Some(500), Backoff, wiped: false);
fault!(stream_error_503, open_run(), |r| r.deliver(&stream_error("503")) => Reconnecting, "service_unavailable", Some(503), Backoff, wiped: false);
fault!(stream_error_unknown_code, open_run(), |r| r.deliver(&stream_error("599")) => Reconnecting, "stream_error", Some(599), Backoff, wiped: false);
fault!(stream_error_without_code, open_run(), |r| r.deliver(&Node::new("stream:error")) => Reconnecting, "stream_error", Some(500), Backoff, wiped: false);
fault!(conflict_replaced, open_run(), |r| r.deliver(&Node::new("stream:error").children([Node::new("conflict").attr("type", "replaced")])) => Replaced, "replaced", Some(440), Never, wiped: false);
fault!(conflict_device_removed, open_run(), |r| r.deliver(&stream_error("401").children([Node::new("conflict").attr("type", "device_removed")])) => LoggedOut, "device_removed", Some(401), Never, wiped: true);
fault!(stream_end, open_run(), |r| r.deliver(&Node::new("xmlstreamend")) => Reconnecting, "stream_ended", Some(428), Backoff, wiped: false);
fault!(downgrade_webclient, open_run(), |r| r.deliver(&Node::new("ib").children([Node::new("downgrade_webclient")])) => Closed, "multi_device_mismatch", Some(411), Never, wiped: false);

// Login failures.
fn failure(reason: &str) -> Node {
    Node::new("failure").attr("reason", reason)
}
fault!(failure_400, logging_in(), |r| r.deliver(&failure("400")) => Closed, "login_rejected", Some(400), Never, wiped: false);
fault!(failure_401, logging_in(), |r| r.deliver(&failure("401")) => LoggedOut, "logged_out", Some(401), Never, wiped: true);
fault!(failure_402, logging_in(), |r| r.deliver(&failure("402").attr("code", "101").attr("expire", "3600")) => Closed, "temporarily_banned", Some(402), Never, wiped: false);
fault!(failure_403, logging_in(), |r| r.deliver(&failure("403")) => LoggedOut, "locked", Some(403), Never, wiped: true);
fault!(failure_405, logging_in(), |r| r.deliver(&failure("405")) => Closed, "client_outdated", Some(405), Never, wiped: false);
fault!(failure_406, logging_in(), |r| r.deliver(&failure("406")) => LoggedOut, "banned", Some(406), Never, wiped: true);
fault!(failure_409, logging_in(), |r| r.deliver(&failure("409")) => Closed, "bad_user_agent", Some(409), Never, wiped: false);
fault!(failure_415, logging_in(), |r| r.deliver(&failure("415")) => Closed, "login_rejected", Some(415), Never, wiped: false);
fault!(failure_500, logging_in(), |r| r.deliver(&failure("500")) => Reconnecting, "server_error", Some(500), Backoff, wiped: false);
fault!(failure_503, logging_in(), |r| r.deliver(&failure("503")) => Reconnecting, "service_unavailable", Some(503), Backoff, wiped: false);
fault!(failure_unknown_reason, logging_in(), |r| r.deliver(&failure("499")) => Reconnecting, "login_failure", Some(499), Backoff, wiped: false);

// Local actions.
fault!(user_disconnect, open_run(), |r| { r.client.disconnect(r.now, &mut r.rng); r.pump(); } => Closed, "disconnected", None, Never, wiped: false);
fault!(user_clear_session, open_run(), |r| { r.client.clear_session(r.now, &mut r.rng); r.pump(); } => LoggedOut, "session_cleared", None, Never, wiped: true);

#[test]
fn restarts_without_a_login_are_backed_off() {
    let mut run = logging_in();
    // Three quick restarts are allowed; the fourth in a row backs off.
    for _ in 0..3 {
        run.deliver(&stream_error("515"));
        assert_eq!(
            run.client.state(),
            ConnectionState::LoggingIn,
            "restarted at once"
        );
    }
    run.deliver(&stream_error("515"));
    check(
        &run,
        ConnectionState::Reconnecting,
        "restart_loop",
        Some(515),
        Retry::Backoff,
        false,
    );
}
