use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn stream(code: Option<u16>, conflict: Option<ConflictKind>) -> CloseCause {
    CloseCause::StreamError(StreamError {
        code: code.map(StreamErrorCode::from_code),
        conflict,
    })
}

fn failure(reason: u16) -> CloseCause {
    CloseCause::Failure(LoginFailure::new(FailureReason::from_code(reason)))
}

fn transport(kind: TransportCloseKind, websocket_code: Option<u16>) -> CloseCause {
    CloseCause::Transport(TransportClose {
        kind,
        websocket_code,
    })
}

use Disposition::{RestartNow, Retry, Stop};

/// Every cause in the fact sheet, with the disposition, whether credentials
/// are wiped, and the state the application sees.
fn table() -> Vec<(CloseCause, Disposition, bool, UserVisibleState)> {
    use UserVisibleState::{Closed, LoggedOut, Reconnecting, Replaced};
    let logged_out = |reason| (Stop(StopKind::LoggedOut(reason)), true, LoggedOut);
    let retry = |reason| (Retry(reason), false, Reconnecting);
    let closed = |kind| (Stop(kind), false, Closed);
    let rows: Vec<(CloseCause, (Disposition, bool, UserVisibleState))> = vec![
        // Transport.
        (
            transport(TransportCloseKind::Error, None),
            retry(RetryReason::NetworkLost),
        ),
        (
            transport(TransportCloseKind::ClosedByPeer, Some(1006)),
            retry(RetryReason::NetworkLost),
        ),
        (
            transport(TransportCloseKind::ClosedByPeer, Some(1000)),
            retry(RetryReason::NetworkLost),
        ),
        (
            transport(TransportCloseKind::ConnectFailed, None),
            retry(RetryReason::NetworkLost),
        ),
        (
            CloseCause::KeepaliveTimeout,
            retry(RetryReason::KeepaliveTimeout),
        ),
        // Handshake.
        (
            CloseCause::HandshakeFailed(HandshakeFailure::Timeout),
            retry(RetryReason::HandshakeFailed),
        ),
        (
            CloseCause::HandshakeFailed(HandshakeFailure::Malformed),
            retry(RetryReason::HandshakeFailed),
        ),
        (
            CloseCause::HandshakeFailed(HandshakeFailure::Crypto),
            retry(RetryReason::HandshakeFailed),
        ),
        (
            CloseCause::HandshakeFailed(HandshakeFailure::UntrustedCertificate),
            closed(StopKind::UntrustedServer),
        ),
        // stream:error codes.
        (stream(Some(401), None), logged_out(LogoutReason::LoggedOut)),
        (stream(Some(403), None), closed(StopKind::Forbidden)),
        (stream(Some(405), None), closed(StopKind::Outdated)),
        (stream(Some(408), None), retry(RetryReason::ServerTimeout)),
        (
            stream(Some(428), None),
            retry(RetryReason::ConnectionClosed),
        ),
        (
            stream(Some(440), None),
            (Stop(StopKind::Replaced), false, Replaced),
        ),
        (stream(Some(500), None), retry(RetryReason::ServerError)),
        (
            stream(Some(503), None),
            retry(RetryReason::ServiceUnavailable),
        ),
        (stream(Some(515), None), (RestartNow, false, Reconnecting)),
        (
            stream(Some(413), None),
            retry(RetryReason::UnknownStreamError(Some(413))),
        ),
        (
            stream(Some(999), None),
            retry(RetryReason::UnknownStreamError(Some(999))),
        ),
        (
            stream(None, None),
            retry(RetryReason::UnknownStreamError(None)),
        ),
        (
            stream(None, Some(ConflictKind::Other)),
            retry(RetryReason::UnknownStreamError(None)),
        ),
        // Conflict children.
        (
            stream(None, Some(ConflictKind::Replaced)),
            (Stop(StopKind::Replaced), false, Replaced),
        ),
        (
            stream(Some(409), Some(ConflictKind::Replaced)),
            (Stop(StopKind::Replaced), false, Replaced),
        ),
        (
            stream(Some(401), Some(ConflictKind::DeviceRemoved)),
            logged_out(LogoutReason::DeviceRemoved),
        ),
        (
            stream(None, Some(ConflictKind::DeviceRemoved)),
            logged_out(LogoutReason::DeviceRemoved),
        ),
        (
            stream(Some(401), Some(ConflictKind::Other)),
            logged_out(LogoutReason::LoggedOut),
        ),
        // xmlstreamend.
        (CloseCause::StreamEnd, retry(RetryReason::StreamEnded)),
        // failure reasons.
        (
            failure(400),
            closed(StopKind::LoginRejected(FailureReason::Generic)),
        ),
        (failure(401), logged_out(LogoutReason::LoggedOut)),
        (
            failure(402),
            closed(StopKind::TemporarilyBanned {
                reason: None,
                expires_in: None,
            }),
        ),
        (failure(403), logged_out(LogoutReason::Locked)),
        (failure(405), closed(StopKind::Outdated)),
        (failure(406), logged_out(LogoutReason::Banned)),
        (failure(409), closed(StopKind::BadUserAgent)),
        (
            failure(413),
            closed(StopKind::LoginRejected(FailureReason::TokenExpired)),
        ),
        (
            failure(414),
            closed(StopKind::LoginRejected(FailureReason::TokenInvalid)),
        ),
        (
            failure(415),
            closed(StopKind::LoginRejected(FailureReason::NotFound)),
        ),
        (
            failure(418),
            closed(StopKind::LoginRejected(FailureReason::ClientUnknown)),
        ),
        (failure(500), retry(RetryReason::ServerError)),
        (
            failure(501),
            closed(StopKind::LoginRejected(FailureReason::Experimental)),
        ),
        (failure(503), retry(RetryReason::ServiceUnavailable)),
        (failure(499), retry(RetryReason::UnknownFailure(499))),
        // Others.
        (
            CloseCause::MultiDeviceMismatch,
            closed(StopKind::MultiDeviceMismatch),
        ),
        (CloseCause::QrRefsExhausted, closed(StopKind::QrExhausted)),
        (
            CloseCause::Local(LocalAction::Logout),
            (
                Stop(StopKind::UserRequested(LocalAction::Logout)),
                true,
                LoggedOut,
            ),
        ),
        (
            CloseCause::Local(LocalAction::ClearSession),
            (
                Stop(StopKind::UserRequested(LocalAction::ClearSession)),
                true,
                LoggedOut,
            ),
        ),
        (
            CloseCause::Local(LocalAction::Disconnect),
            closed(StopKind::UserRequested(LocalAction::Disconnect)),
        ),
        (CloseCause::StoreFailed, retry(RetryReason::StoreFailed)),
        (CloseCause::ProtocolError, retry(RetryReason::ProtocolError)),
        (CloseCause::PairingFailed, retry(RetryReason::PairingFailed)),
    ];
    rows.into_iter()
        .map(|(cause, (disposition, wipe, state))| (cause, disposition, wipe, state))
        .collect()
}

#[test]
fn every_cause_in_the_facts() {
    let mut rng = StdRng::seed_from_u64(1);
    for (cause, disposition, wipe, user_state) in table() {
        assert_eq!(classify(&cause), disposition, "{cause:?}");
        let decision = decide(&cause, &mut ReconnectState::default(), 0, &mut rng);
        assert_eq!(decision.disposition, disposition, "{cause:?}");
        assert_eq!(decision.wipe_credentials, wipe, "{cause:?}");
        assert_eq!(decision.user_state, user_state, "{cause:?}");
        match disposition {
            RestartNow => assert_eq!(decision.retry_in, Some(Duration::ZERO)),
            Retry(_) => {
                assert_eq!(decision.attempt, 1, "{cause:?}");
                let delay = decision.retry_in.unwrap();
                assert!(
                    (900..=1100).contains(&delay.as_millis()),
                    "{cause:?}: {delay:?}"
                );
            }
            Stop(_) => assert_eq!(decision.retry_in, None, "{cause:?}"),
        }
    }
}

#[test]
fn temporary_ban_keeps_reason_and_expiry() {
    let mut ban = LoginFailure::new(FailureReason::TemporarilyBanned);
    ban.ban_reason = Some(BanReason::from_code(102));
    ban.expire = Some(Duration::from_secs(3600));
    assert_eq!(
        classify(&CloseCause::Failure(ban)),
        Stop(StopKind::TemporarilyBanned {
            reason: Some(BanReason::BlockedByUsers),
            expires_in: Some(Duration::from_secs(3600)),
        })
    );
}

/// Codes built with `Other(n)` for a named `n` classify like the named variant.
#[test]
fn codes_classify_by_number() {
    for code in [401, 403, 405, 408, 428, 440, 500, 503, 515, 777] {
        let named = stream(Some(code), None);
        let raw = CloseCause::StreamError(StreamError {
            code: Some(StreamErrorCode::Other(code)),
            conflict: None,
        });
        assert_eq!(classify(&named), classify(&raw), "{code}");
        assert_eq!(StreamErrorCode::from_code(code).code(), code);
    }
    for code in [
        400, 401, 402, 403, 405, 406, 409, 413, 414, 415, 418, 500, 501, 503, 9,
    ] {
        let raw = CloseCause::Failure(LoginFailure::new(FailureReason::Other(code)));
        assert_eq!(classify(&failure(code)), classify(&raw), "{code}");
        assert_eq!(FailureReason::from_code(code).code(), code);
    }
    for code in [101, 102, 103, 104, 106, 105] {
        assert_eq!(BanReason::from_code(code).code(), code);
    }
}

#[test]
fn status_codes_follow_baileys() {
    assert_eq!(CloseCause::StreamEnd.status_code(), Some(428));
    assert_eq!(CloseCause::KeepaliveTimeout.status_code(), Some(408));
    assert_eq!(CloseCause::QrRefsExhausted.status_code(), Some(408));
    assert_eq!(CloseCause::ProtocolError.status_code(), Some(500));
    assert_eq!(CloseCause::StoreFailed.status_code(), None);
    assert_eq!(
        stream(None, Some(ConflictKind::Replaced)).status_code(),
        Some(440)
    );
    assert_eq!(stream(Some(515), None).status_code(), Some(515));
    assert_eq!(stream(None, None).status_code(), Some(500));
    assert_eq!(failure(402).status_code(), Some(402));
    assert_eq!(CloseCause::MultiDeviceMismatch.status_code(), Some(411));
    assert_eq!(
        CloseCause::Local(LocalAction::Disconnect).status_code(),
        None
    );
}

#[test]
fn user_state_names() {
    let names: Vec<&str> = [
        UserVisibleState::Reconnecting,
        UserVisibleState::Closed,
        UserVisibleState::LoggedOut,
        UserVisibleState::Replaced,
    ]
    .iter()
    .map(|state| state.as_str())
    .collect();
    assert_eq!(names, ["reconnecting", "closed", "logged_out", "replaced"]);
}

#[test]
fn fibonacci_sequence() {
    let first: Vec<u64> = (0..12).map(fibonacci).collect();
    assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]);
    assert_eq!(fibonacci(93), 12_200_160_415_121_876_738);
    assert_eq!(fibonacci(94), u64::MAX);
    assert_eq!(fibonacci(u32::MAX), u64::MAX);
}

#[test]
fn delays_without_jitter_follow_fibonacci_and_cap() {
    let config = BackoffConfig {
        jitter_percent: 0,
        ..BackoffConfig::default()
    };
    let mut backoff = Backoff::new(config);
    let mut rng = StdRng::seed_from_u64(2);
    let seconds: Vec<u64> = (0..12)
        .map(|_| backoff.next_delay(&mut rng).unwrap().as_secs())
        .collect();
    assert_eq!(seconds, [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 60, 60]);
    assert_eq!(backoff.attempts(), 12);
    backoff.reset();
    assert_eq!(backoff.next_delay(&mut rng), Some(Duration::from_secs(1)));
}

#[test]
fn max_attempts_gives_up_then_starts_over() {
    let config = ReconnectConfig {
        backoff: BackoffConfig {
            max_attempts: Some(3),
            ..BackoffConfig::default()
        },
        ..ReconnectConfig::default()
    };
    let mut state = ReconnectState::new(config);
    let mut rng = StdRng::seed_from_u64(3);
    for attempt in 1..=3 {
        let decision = decide(&CloseCause::KeepaliveTimeout, &mut state, 0, &mut rng);
        assert_eq!(decision.attempt, attempt);
        assert!(decision.retry_in.is_some());
    }
    let decision = decide(&CloseCause::KeepaliveTimeout, &mut state, 0, &mut rng);
    assert_eq!(decision.disposition, Stop(StopKind::GaveUp));
    assert_eq!(decision.attempt, 3);
    assert_eq!(decision.retry_in, None);
    assert_eq!(decision.user_state, UserVisibleState::Closed);
    assert!(!decision.wipe_credentials);
    // A later connect starts a fresh sequence.
    let decision = decide(&CloseCause::KeepaliveTimeout, &mut state, 0, &mut rng);
    assert_eq!(decision.attempt, 1);
}

#[test]
fn repeated_restarts_are_backed_off_until_a_login() {
    let mut state = ReconnectState::default();
    let mut rng = StdRng::seed_from_u64(4);
    let restart = stream(Some(515), None);
    for _ in 0..3 {
        assert_eq!(
            decide(&restart, &mut state, 0, &mut rng).disposition,
            RestartNow
        );
    }
    let looped = decide(&restart, &mut state, 0, &mut rng);
    assert_eq!(looped.disposition, Retry(RetryReason::RestartLoop));
    assert_eq!(looped.attempt, 1);
    state.opened_at(10);
    assert_eq!(
        decide(&restart, &mut state, 20, &mut rng).disposition,
        RestartNow
    );
}

#[test]
fn a_stop_resets_the_sequence() {
    let mut state = ReconnectState::default();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..5 {
        decide(&CloseCause::StreamEnd, &mut state, 0, &mut rng);
    }
    assert_eq!(state.backoff().attempts(), 5);
    decide(
        &CloseCause::Local(LocalAction::Disconnect),
        &mut state,
        0,
        &mut rng,
    );
    assert_eq!(state.backoff().attempts(), 0);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_cause() -> impl Strategy<Value = CloseCause> {
        prop_oneof![
            (0..3u8, proptest::option::of(1000..4999u16)).prop_map(|(kind, code)| {
                let kind = match kind {
                    0 => TransportCloseKind::ConnectFailed,
                    1 => TransportCloseKind::Error,
                    _ => TransportCloseKind::ClosedByPeer,
                };
                transport(kind, code)
            }),
            Just(CloseCause::KeepaliveTimeout),
            Just(CloseCause::StreamEnd),
            Just(CloseCause::HandshakeFailed(HandshakeFailure::Timeout)),
            (proptest::option::of(prop_oneof![
                Just(401u16),
                Just(403),
                Just(405),
                Just(408),
                Just(428),
                Just(440),
                Just(500),
                Just(503),
                Just(515),
                0..1000u16
            ]))
            .prop_map(|code| stream(code, None)),
            prop_oneof![
                Just(400u16),
                Just(401),
                Just(402),
                Just(403),
                Just(405),
                Just(406),
                Just(409),
                Just(500),
                Just(503),
                0..1000u16
            ]
            .prop_map(failure),
        ]
    }

    fn never_retried() -> impl Strategy<Value = CloseCause> {
        prop_oneof![
            Just(stream(Some(440), None)),
            Just(stream(Some(401), None)),
            Just(stream(None, Some(ConflictKind::Replaced))),
            Just(stream(Some(401), Some(ConflictKind::DeviceRemoved))),
            Just(failure(401)),
        ]
    }

    fn bounds(backoff: &Backoff, attempt: u32) -> (u128, u128) {
        let base = backoff.base_delay(attempt).as_millis();
        (base * 9 / 10, base * 11 / 10)
    }

    proptest! {
        /// Delays stay within ±10 % of the capped Fibonacci delay.
        #[test]
        fn delays_are_jittered_fibonacci(
            seed in any::<u64>(),
            first_ms in 1..5_000u64,
            cap_ms in 1..600_000u64,
            count in 1..120u32,
        ) {
            let config = BackoffConfig {
                first_delay: Duration::from_millis(first_ms),
                max_delay: Duration::from_millis(cap_ms),
                ..BackoffConfig::default()
            };
            let mut backoff = Backoff::new(config);
            let mut rng = StdRng::seed_from_u64(seed);
            for attempt in 1..=count {
                let delay = backoff.next_delay(&mut rng).unwrap().as_millis();
                let expected = u128::from(fibonacci(attempt))
                    .saturating_mul(u128::from(first_ms))
                    .min(u128::from(cap_ms));
                prop_assert_eq!(backoff.base_delay(attempt).as_millis(), expected);
                let (low, high) = bounds(&backoff, attempt);
                prop_assert!(low <= delay && delay <= high, "attempt {}: {} not in [{}, {}]", attempt, delay, low, high);
            }
        }

        /// 440, 401 and their conflict forms never lead to a retry, however
        /// often they repeat and whatever came before.
        #[test]
        fn replaced_and_logged_out_never_retry(
            seed in any::<u64>(),
            events in proptest::collection::vec(
                (prop_oneof![any_cause(), never_retried()], proptest::option::of(0..200_000u64)),
                1..60,
            ),
            terminal in proptest::collection::vec(never_retried(), 1..20),
        ) {
            let mut state = ReconnectState::default();
            let mut rng = StdRng::seed_from_u64(seed);
            let mut now = 0u64;
            for (cause, open_for) in events.iter().map(|(c, o)| (c, *o)) {
                if let Some(open_for) = open_for {
                    state.opened_at(now);
                    now += open_for;
                }
                let decision = decide(cause, &mut state, now, &mut rng);
                let final_cause = matches!(classify(cause), Stop(StopKind::Replaced | StopKind::LoggedOut(_)));
                if final_cause {
                    prop_assert!(matches!(decision.disposition, Stop(_)), "{:?} gave {:?}", cause, decision);
                    prop_assert_eq!(decision.retry_in, None);
                }
                now += decision.retry_in.map_or(1, |delay| u64::try_from(delay.as_millis()).unwrap());
            }
            for cause in &terminal {
                let decision = decide(cause, &mut state, now, &mut rng);
                prop_assert_eq!(decision.retry_in, None);
                prop_assert!(matches!(
                    decision.user_state,
                    UserVisibleState::Replaced | UserVisibleState::LoggedOut
                ));
            }
        }

        /// A connection that stayed open for the stable period resets the
        /// sequence; a shorter one does not.
        #[test]
        fn stable_period_resets(
            seed in any::<u64>(),
            failures in 1..40u32,
            open_for in 0..180_000u64,
            start in 0..1_000_000_000_000u64,
        ) {
            let mut state = ReconnectState::default();
            let mut rng = StdRng::seed_from_u64(seed);
            let mut now = start;
            for _ in 0..failures {
                let decision = decide(&CloseCause::KeepaliveTimeout, &mut state, now, &mut rng);
                now += u64::try_from(decision.retry_in.unwrap().as_millis()).unwrap();
            }
            state.opened_at(now);
            let decision = decide(&CloseCause::KeepaliveTimeout, &mut state, now + open_for, &mut rng);
            let expected_attempt = if open_for >= 60_000 { 1 } else { failures + 1 };
            prop_assert_eq!(decision.attempt, expected_attempt);
            let (low, high) = bounds(state.backoff(), expected_attempt);
            let delay = decision.retry_in.unwrap().as_millis();
            prop_assert!(low <= delay && delay <= high);
        }
    }
}
