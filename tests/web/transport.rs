//! The WebSocket transport's error paths, the timer and the page lifecycle
//! events. (The echo round trip comes with the simulator in the browser
//! tests.)

use std::cell::Cell;
use std::rc::Rc;

use wa_wasm::web::socket::CLOSE_ABNORMAL;
use wa_wasm::web::{
    PageEvent, PageLifecycle, SocketError, SocketEvent, SocketState, Timer, WebSocketTransport,
    inbox, is_online, is_visible, now_unix_ms, sleep,
};
use wasm_bindgen_test::wasm_bindgen_test;

/// Nothing listens on port 9 of the loopback interface (discard, never
/// served in the test environment).
const CLOSED_PORT_URL: &str = "ws://127.0.0.1:9/ws/chat";

#[wasm_bindgen_test]
async fn connecting_to_a_closed_port_reports_error_then_abnormal_close() {
    let (sender, mut events) = inbox();
    let socket = WebSocketTransport::connect(CLOSED_PORT_URL, move |event| {
        sender.push(event);
    })
    .unwrap();
    assert_eq!(socket.state(), SocketState::Connecting);
    assert_eq!(socket.send(b"early"), Err(SocketError::NotOpen));
    assert_eq!(events.next().await, Some(SocketEvent::Error));
    match events.next().await {
        Some(SocketEvent::Closed(close)) => {
            assert_eq!(close.code, CLOSE_ABNORMAL);
            assert!(!close.was_clean);
            assert!(close.is_abnormal());
        }
        other => panic!("expected a close, got {other:?}"),
    }
    assert_eq!(socket.state(), SocketState::Closed);
    assert_eq!(socket.send(b"late"), Err(SocketError::NotOpen));
    sleep(20).await;
    assert!(events.try_next().is_none());
}

#[wasm_bindgen_test]
fn invalid_urls_and_close_codes_are_typed_errors() {
    // (Chromium maps http(s) to ws(s) and resolves relative URLs, so those
    // are not errors.)
    for url in ["ftp://127.0.0.1/", "ws://[::1", "ws://127.0.0.1:99999/"] {
        match WebSocketTransport::connect(url, |_| {}) {
            Err(SocketError::InvalidUrl { url: reported, .. }) => assert_eq!(reported, url),
            other => panic!("{url}: {other:?}"),
        }
    }
    let socket = WebSocketTransport::connect(CLOSED_PORT_URL, |_| {}).unwrap();
    assert_eq!(
        socket.close_with(1006, "reserved"),
        Err(SocketError::InvalidCloseCode(1006))
    );
    assert_eq!(socket.close_with(4000, "bye"), Ok(()));
    assert_eq!(socket.state(), SocketState::Closing);
}

/// Dropping the transport detaches the callback: no event arrives after it.
#[wasm_bindgen_test]
async fn dropped_transport_delivers_nothing() {
    let delivered = Rc::new(Cell::new(0));
    let counter = Rc::clone(&delivered);
    let socket = WebSocketTransport::connect(CLOSED_PORT_URL, move |_| {
        counter.set(counter.get() + 1);
    })
    .unwrap();
    drop(socket);
    sleep(100).await;
    assert_eq!(delivered.get(), 0);
}

#[wasm_bindgen_test]
async fn timer_fires_once_rearms_and_disarms() {
    let (sender, mut fired) = inbox();
    let timer = Timer::new(move || {
        sender.push(now_unix_ms());
    });
    assert!(!timer.is_armed());
    let start = now_unix_ms();
    timer.arm(30);
    assert!(timer.is_armed());
    // Re-arming replaces the pending timeout.
    timer.arm(60);
    let at = fired.next().await.unwrap();
    assert!(at >= start + 55, "fired after {} ms", at - start);
    assert!(!timer.is_armed());
    sleep(80).await;
    assert!(fired.try_next().is_none(), "fired twice");

    // A deadline in the past fires at once; a disarmed one never.
    timer.arm_at(now_unix_ms() - 1_000, now_unix_ms());
    fired.next().await.unwrap();
    timer.arm(20);
    timer.disarm();
    assert!(!timer.is_armed());
    sleep(60).await;
    assert!(fired.try_next().is_none());
    // Dropping cancels too.
    timer.arm(20);
    drop(timer);
    sleep(60).await;
    assert!(fired.try_next().is_none());
}

#[wasm_bindgen_test]
async fn lifecycle_events_reach_the_callback_until_dropped() {
    assert!(is_online());
    assert!(is_visible());
    let (sender, mut events) = inbox();
    let lifecycle = PageLifecycle::listen(move |event| {
        sender.push(event);
    });
    let window = web_sys::window().unwrap();
    let document = window.document().unwrap();
    let fire = |target: &web_sys::EventTarget, kind: &str| {
        target
            .dispatch_event(&web_sys::Event::new(kind).unwrap())
            .unwrap();
    };
    fire(&window, "offline");
    fire(&window, "online");
    fire(&document, "freeze");
    fire(&document, "resume");
    fire(&document, "visibilitychange");
    let mut seen = Vec::new();
    while let Some(event) = events.try_next() {
        seen.push(event);
    }
    assert_eq!(
        seen,
        [
            PageEvent::Offline,
            PageEvent::Online,
            PageEvent::Frozen,
            PageEvent::Resumed,
            PageEvent::Visible
        ]
    );
    drop(lifecycle);
    fire(&window, "offline");
    assert!(events.try_next().is_none());
}
