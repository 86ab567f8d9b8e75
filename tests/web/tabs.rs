//! One tab per session: the Web Lock and the BroadcastChannel, with two
//! requesters (or two channels) in one page standing in for two tabs.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wa_wasm::web::lock::is_locked;
use wa_wasm::web::{
    ChannelError, Incoming, LockEnd, RemoteError, SessionChannel, SessionLock, Wire, inbox, sleep,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::idb_store::unique_session;

#[wasm_bindgen_test]
async fn only_one_owner_and_the_next_waiter_takes_over() {
    let session = unique_session("lock");
    assert!(!is_locked(&session).await.unwrap());
    let first = SessionLock::acquire(&session).await.unwrap();
    assert!(first.is_held());
    assert!(is_locked(&session).await.unwrap());
    assert!(SessionLock::try_acquire(&session).await.unwrap().is_none());

    // A second "tab" queues; it gets the lock only once the first releases.
    let granted = Rc::new(RefCell::new(None));
    let waiter = {
        let session = session.clone();
        let granted = Rc::clone(&granted);
        async move {
            let lock = SessionLock::acquire(&session).await.unwrap();
            *granted.borrow_mut() = Some(lock);
        }
    };
    wasm_bindgen_futures::spawn_local(waiter);
    sleep(50).await;
    assert!(granted.borrow().is_none(), "granted while held");
    first.release();
    for _ in 0..50 {
        if granted.borrow().is_some() {
            break;
        }
        sleep(10).await;
    }
    let second = granted.borrow_mut().take().expect("the waiter took over");
    assert!(second.is_held());
    assert!(is_locked(&session).await.unwrap());
    drop(second);
    sleep(10).await;
    assert!(!is_locked(&session).await.unwrap());
    // Free again: try_acquire succeeds.
    let third = SessionLock::try_acquire(&session).await.unwrap();
    assert!(third.is_some());
}

#[wasm_bindgen_test]
async fn stealing_tells_the_previous_owner() {
    let session = unique_session("steal");
    let mut owner = SessionLock::acquire(&session).await.unwrap();
    let thief = SessionLock::steal(&session).await.unwrap();
    assert_eq!(owner.lost().await, LockEnd::Stolen);
    assert!(!owner.is_held());
    assert!(thief.is_held());
    // The old owner dropping its handle does not free the thief's lock.
    drop(owner);
    sleep(10).await;
    assert!(SessionLock::try_acquire(&session).await.unwrap().is_none());
    // A waiter gets it once the thief releases.
    let (sender, mut receiver) = inbox();
    {
        let session = session.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sender.push(SessionLock::acquire(&session).await.unwrap());
        });
    }
    sleep(20).await;
    assert!(receiver.try_next().is_none());
    thief.release();
    let next = receiver.next().await.unwrap();
    assert!(next.is_held());
}

/// A wait given up (its future dropped) leaves the queue: it never takes the
/// lock later.
#[wasm_bindgen_test]
async fn abandoned_wait_leaves_the_queue() {
    let session = unique_session("abandon");
    let owner = SessionLock::acquire(&session).await.unwrap();
    {
        let mut wait = Box::pin(SessionLock::acquire(&session));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(wait.as_mut().poll(cx).is_pending()))
                .await;
        assert!(polled, "granted while held");
    }
    drop(owner);
    sleep(20).await;
    assert!(!is_locked(&session).await.unwrap());
    assert!(SessionLock::try_acquire(&session).await.unwrap().is_some());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum State {
    Connection { state: String },
    Message { text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Command {
    SendText { to: String, text: String },
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sent {
    id: String,
}

/// The test payloads cross the channel through their serde form.
macro_rules! wire_via_serde {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            fn to_js(&self) -> JsValue {
                js_sys::JSON::parse(&serde_json::to_string(self).unwrap()).unwrap()
            }
            fn from_js(value: &JsValue) -> Result<Self, String> {
                let text = js_sys::JSON::stringify(value).map_err(|_| "not JSON".to_owned())?;
                serde_json::from_str(&String::from(text)).map_err(|e| e.to_string())
            }
        }
    )*};
}
wire_via_serde!(State, Command, Sent);

type Channel = SessionChannel<State, Command, Sent>;

#[wasm_bindgen_test]
async fn owner_broadcasts_and_answers_follower_commands() {
    let session = unique_session("channel");
    let (owner_in, mut owner_inbox) = inbox();
    let owner = Rc::new(
        Channel::open(&session, move |incoming| {
            owner_in.push(incoming);
        })
        .unwrap(),
    );
    let (follower_in, mut follower_inbox) = inbox();
    let follower = Channel::open(&session, move |incoming| {
        follower_in.push(incoming);
    })
    .unwrap();
    assert_ne!(owner.tab_id(), follower.tab_id());

    // A follower says hello; the owner answers with its state.
    follower.hello().unwrap();
    match owner_inbox.next().await.unwrap() {
        Incoming::Hello { from } => assert_eq!(&from, follower.tab_id()),
        other => panic!("{other:?}"),
    }
    let state = State::Connection {
        state: "open".into(),
    };
    owner.broadcast(state.clone()).unwrap();
    owner
        .broadcast(State::Message {
            text: "hola".into(),
        })
        .unwrap();
    assert_eq!(
        follower_inbox.next().await.unwrap(),
        Incoming::Event {
            from: owner.tab_id().clone(),
            event: state
        }
    );
    assert!(matches!(
        follower_inbox.next().await.unwrap(),
        Incoming::Event {
            event: State::Message { .. },
            ..
        }
    ));

    // The owner serves commands: reply to SendText, error to Fail.
    let serving = {
        let owner = Rc::clone(&owner);
        async move {
            while let Some(incoming) = owner_inbox.next().await {
                if let Incoming::Command { request, command } = incoming {
                    let result = match command {
                        Command::SendText { to, text } => Ok(Sent {
                            id: format!("{to}:{}", text.len()),
                        }),
                        Command::Fail => Err(RemoteError {
                            code: "not_connected".into(),
                            message: "the session is closed".into(),
                        }),
                    };
                    owner.reply(&request, result).unwrap();
                }
            }
        }
    };
    wasm_bindgen_futures::spawn_local(serving);
    let sent = follower
        .request(
            Command::SendText {
                to: "15551234567".into(),
                text: "hi".into(),
            },
            2_000,
        )
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            id: "15551234567:2".into()
        }
    );
    let failed = follower.request(Command::Fail, 2_000).await.unwrap_err();
    assert_eq!(
        failed,
        ChannelError::Remote(RemoteError {
            code: "not_connected".into(),
            message: "the session is closed".into()
        })
    );
    assert_eq!(follower.pending_requests(), 0);
    // Replies go only to the tab that asked: a third tab sees none of them.
    let (third_in, mut third_inbox) = inbox();
    let third = Channel::open(&session, move |incoming| {
        third_in.push(incoming);
    })
    .unwrap();
    follower
        .request(
            Command::SendText {
                to: "1".into(),
                text: String::new(),
            },
            2_000,
        )
        .await
        .unwrap();
    match third_inbox.next().await.unwrap() {
        Incoming::Command { .. } => {}
        other => panic!("{other:?}"),
    }
    sleep(20).await;
    assert!(third_inbox.try_next().is_none());
    drop(third);
    owner.close();
}

#[wasm_bindgen_test]
async fn requests_without_an_owner_time_out_or_are_failed() {
    let session = unique_session("no-owner");
    let follower = Rc::new(Channel::open(&session, |_| {}).unwrap());
    let started = js_sys::Date::now();
    let error = follower.request(Command::Fail, 100).await.unwrap_err();
    assert_eq!(error, ChannelError::Timeout { after_ms: 100 });
    assert!(js_sys::Date::now() - started >= 90.0);
    assert_eq!(follower.pending_requests(), 0);

    // The shell fails pending requests when the owner changes.
    let (sender, mut results) = inbox();
    {
        let follower = Rc::clone(&follower);
        wasm_bindgen_futures::spawn_local(async move {
            sender.push(follower.request(Command::Fail, 60_000).await);
        });
    }
    sleep(10).await;
    assert_eq!(follower.pending_requests(), 1);
    follower.fail_pending("the owner tab closed");
    assert_eq!(
        results.next().await.unwrap(),
        Err(ChannelError::Abandoned("the owner tab closed".into()))
    );
    follower.close();
    assert_eq!(
        follower.request(Command::Fail, 100).await,
        Err(ChannelError::Closed)
    );
}

#[wasm_bindgen_test]
async fn undecodable_messages_are_reported_not_dropped_silently() {
    let session = unique_session("undecodable");
    let (sender, mut received) = inbox();
    let _listener = Channel::open(&session, move |incoming| {
        sender.push(incoming);
    })
    .unwrap();
    let raw =
        web_sys::BroadcastChannel::new(&wa_wasm::web::channel::channel_name(&session)).unwrap();
    raw.post_message(&"{\"future\":{}}".into()).unwrap();
    raw.post_message(&wasm_bindgen::JsValue::from_f64(1.0))
        .unwrap();
    for _ in 0..2 {
        assert!(matches!(
            received.next().await.unwrap(),
            Incoming::Undecodable { .. }
        ));
    }
    raw.close();
}
