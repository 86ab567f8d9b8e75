//! `WaClient` against a `wa-sim` process: linking by QR, coming back with
//! stored credentials, the simulator restarting, 401 and 440 from the
//! server, two clients of one session (one socket, hand-over), options and
//! errors.
//!
//! `cargo xtask test` starts `wa-sim --port 0` and passes its addresses at
//! compile time (`WA_SIM_WS`, `WA_SIM_ROOT`, `WA_SIM_CONTROL`): a wasm test
//! cannot read the environment when it runs. Without them (a bare
//! `wasm-pack test`), the tests that need the simulator say so and pass
//! without checking anything else.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine as _;
use js_sys::{Function, Reflect, Uint8Array};
use serde_json::{Value, json};
use wa_wasm::web::{WaClient, sleep};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::idb_store::unique_session;
use crate::sim_support::{Recorder, Sim, await_promise, control, new_phone, to_js, to_value};

/// The simulator, or `None` (said on the console) when this build was not
/// given its addresses.
fn sim() -> Option<Sim> {
    let sim = crate::sim_support::sim();
    if sim.is_none() {
        wasm_bindgen_test::console_log!(
            "WA_SIM_* not set at build time: run through `cargo xtask test`; skipped"
        );
    }
    sim
}

const EVENTS: &[&str] = &[
    "connection",
    "qr",
    "paired",
    "duplicate-link",
    "tab",
    "error",
];

fn options(sim: &Sim, session: &str) -> JsValue {
    crate::sim_support::options(sim, session, "info")
}

async fn open(sim: &Sim, session: &str, recorder: &Recorder) -> WaClient {
    let client = WaClient::open(options(sim, session)).await.unwrap();
    recorder.attach(&client, EVENTS);
    client
}

/// Connects and links by QR with the phone of `phone`; returns our JID.
async fn link(sim: &Sim, client: &WaClient, recorder: &Recorder, phone: &str) -> String {
    await_promise(client.connect()).await.unwrap();
    let qr = recorder.wait("qr", 20_000, |_| true).await;
    assert!(
        qr["svg"].as_str().unwrap().starts_with("<svg")
            || qr["svg"].as_str().unwrap().contains("<svg")
    );
    let qr = qr["qr"].as_str().unwrap().to_owned();
    let scanned = control(
        sim,
        "POST",
        "/scan-qr",
        Some(json!({ "qr": qr, "phone": phone })),
    )
    .await;
    recorder.wait_state("open", 30_000).await;
    let status = to_value(&client.status());
    assert_eq!(status["state"], "open");
    assert_eq!(status["sessionStored"], true);
    let me = status["me"].as_str().unwrap().to_owned();
    assert!(me.starts_with(phone), "{me} is not on {phone}");
    assert_eq!(
        scanned["jid"].as_str().map(|jid| jid.split('@').next()),
        Some(me.split('@').next())
    );
    me
}

fn error_code(error: &JsValue) -> String {
    assert!(error.is_instance_of::<js_sys::Error>(), "not an Error");
    Reflect::get(error, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
async fn bad_options_reject_with_a_wa_error() {
    let error = WaClient::open(to_js(&json!({ "session": "" })))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_options");
    let error = WaClient::open(to_js(&json!({ "session": "x", "url": "http://nope" })))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_options");
    let error = WaClient::open(to_js(&json!({ "session": "x", "rootKey": "zz" })))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_options");
    let error = WaClient::open(to_js(&json!({ "session": "x", "colour": "red" })))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_options");
    let message = Reflect::get(&error, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(message.contains("colour"), "{message}");
    for (options, named) in [
        (json!({ "session": 7 }), "session"),
        (json!({ "session": "x", "browser": ["a", "b"] }), "browser"),
        (
            json!({ "session": "x", "version": [2, 3000, -1] }),
            "version",
        ),
        (
            json!({ "session": "x", "reconnect": { "maxAttempts": "3" } }),
            "maxAttempts",
        ),
        (
            json!({ "session": "x", "reconnect": { "jitter": 1 } }),
            "reconnect.jitter",
        ),
        (json!({ "session": "x", "logLevel": "loud" }), "logLevel"),
    ] {
        let error = WaClient::open(to_js(&options)).await.unwrap_err();
        assert_eq!(error_code(&error), "invalid_options", "{options}");
        let message = Reflect::get(&error, &"message".into())
            .unwrap()
            .as_string()
            .unwrap();
        assert!(message.contains(named), "{options}: {message}");
    }
}

#[wasm_bindgen_test]
async fn links_by_qr_then_comes_back_with_stored_credentials() {
    let Some(sim) = sim() else { return };
    let session = unique_session("link");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    assert!(client.is_owner());
    // A callback that throws is logged and changes nothing.
    let thrower = Function::new_no_args("throw new Error('callback failure on purpose')");
    client.on("connection".to_owned(), thrower);
    // Unsubscribing stops the calls.
    let calls = Rc::new(RefCell::new(0));
    let unsubscribe = {
        let calls = Rc::clone(&calls);
        let callback = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            *calls.borrow_mut() += 1;
        });
        client.on(
            "connection".to_owned(),
            callback.into_js_value().unchecked_into(),
        )
    };
    unsubscribe.call0(&JsValue::NULL).unwrap();

    let me = link(&sim, &client, &recorder, &phone).await;
    assert_eq!(*calls.borrow(), 0);
    let states = recorder.states();
    assert!(states.iter().any(|s| s == "qr"), "{states:?}");
    assert_eq!(recorder.all("paired")[0]["me"], me.as_str());

    // Connecting again while open is refused with a code.
    let error = await_promise(client.connect()).await.unwrap_err();
    assert_eq!(error_code(&error), "already_connected");

    // The index knows the link.
    let sessions = to_value(&await_promise(WaClient::sessions()).await.unwrap());
    let entry = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == session.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["me"], me.as_str());
    assert_eq!(entry["phoneNumber"], phone.as_str());

    // Reopen (as after a page reload): open again without a QR.
    await_promise(client.close()).await.unwrap();
    let again = Recorder::default();
    let client = open(&sim, &session, &again).await;
    await_promise(client.connect()).await.unwrap();
    again.wait_state("open", 20_000).await;
    assert!(again.all("qr").is_empty(), "a QR after reopening");
    assert_eq!(to_value(&client.status())["me"], me.as_str());

    await_promise(client.logout()).await.unwrap();
    assert_eq!(to_value(&client.status())["state"], "logged_out");
    assert_eq!(to_value(&client.status())["sessionStored"], false);

    // A session open in a tab cannot be removed; a closed one can.
    let error = await_promise(WaClient::remove_session(session.clone()))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "in_use");
    await_promise(client.close()).await.unwrap();
    await_promise(WaClient::remove_session(session.clone()))
        .await
        .unwrap();
    let sessions = to_value(&await_promise(WaClient::sessions()).await.unwrap());
    assert!(
        !sessions
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["name"] == session.as_str()),
        "{sessions}"
    );
}

#[wasm_bindgen_test]
async fn recovers_by_itself_when_the_simulator_restarts() {
    let Some(sim) = sim() else { return };
    let session = unique_session("restart");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    link(&sim, &client, &recorder, &phone).await;
    recorder.clear();

    control(&sim, "POST", "/restart", None).await;
    let lost = recorder.wait_state("reconnecting", 20_000).await;
    assert_eq!(lost["willReconnect"], true);
    recorder.wait_state("open", 30_000).await;
    assert!(recorder.all("qr").is_empty());
    let status = to_value(&client.status());
    assert_eq!(status["state"], "open");
    assert!(status["stats"]["reconnects"].as_u64().unwrap() >= 1);

    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn logged_out_by_the_server_wipes_then_links_again() {
    let Some(sim) = sim() else { return };
    let session = unique_session("401");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    let me = link(&sim, &client, &recorder, &phone).await;
    recorder.clear();

    control(
        &sim,
        "POST",
        "/faults",
        Some(json!({ "kind": "stream_error", "code": 401, "target": me })),
    )
    .await;
    let out = recorder.wait_state("logged_out", 20_000).await;
    assert_eq!(out["code"], 401);
    assert_eq!(out["willReconnect"], false);
    // Wait for the wipe to be stored, then check.
    for _ in 0..100 {
        if to_value(&client.status())["sessionStored"] == false {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(to_value(&client.status())["sessionStored"], false);
    assert_eq!(to_value(&client.status())["me"], Value::Null);

    // Connecting again starts a new link: a QR, not a login.
    await_promise(client.connect()).await.unwrap();
    recorder.wait("qr", 20_000, |_| true).await;
    await_promise(client.clear_session()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn replaced_by_another_connection_stops_without_a_loop() {
    let Some(sim) = sim() else { return };
    let session = unique_session("440");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    let me = link(&sim, &client, &recorder, &phone).await;
    recorder.clear();

    control(
        &sim,
        "POST",
        "/faults",
        Some(json!({ "kind": "stream_error", "code": 440, "target": me })),
    )
    .await;
    let replaced = recorder.wait_state("replaced", 20_000).await;
    assert_eq!(replaced["willReconnect"], false);
    assert_eq!(replaced["reason"], "replaced");
    // No reconnect follows.
    sleep(3_000).await;
    assert_eq!(recorder.states(), ["replaced"]);
    let connections = control(&sim, "GET", "/connections", None).await;
    assert!(
        !connections
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["device"].as_str() == Some(me.as_str())),
        "still connected: {connections}"
    );
    // The session is kept: the user decides.
    assert_eq!(to_value(&client.status())["sessionStored"], true);
    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn two_clients_share_one_socket_and_hand_over() {
    let Some(sim) = sim() else { return };
    let session = unique_session("tabs");
    let phone = new_phone(&sim).await;
    let first_events = Recorder::default();
    let first = open(&sim, &session, &first_events).await;
    let me = link(&sim, &first, &first_events, &phone).await;

    // A second client of the session (another tab) follows the first.
    let second_events = Recorder::default();
    let second = open(&sim, &session, &second_events).await;
    assert!(first.is_owner());
    assert!(!second.is_owner());
    for _ in 0..100 {
        if to_value(&second.status())["state"] == "open" {
            break;
        }
        sleep(20).await;
    }
    let status = to_value(&second.status());
    assert_eq!(status["state"], "open", "{status}");
    assert_eq!(status["role"], "follower");
    assert_eq!(status["me"], me.as_str());
    // Its commands run in the owner: connecting again is refused there.
    let error = await_promise(second.connect()).await.unwrap_err();
    assert_eq!(error_code(&error), "already_connected");

    let logged_in = |connections: &Value| {
        connections
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["device"].as_str() == Some(me.as_str()))
            .count()
    };
    assert_eq!(
        logged_in(&control(&sim, "GET", "/connections", None).await),
        1
    );

    // The owner closes: the follower takes over and reconnects, with no
    // conflict on either side.
    await_promise(first.close()).await.unwrap();
    second_events
        .wait("tab", 10_000, |data| data["role"] == "owner")
        .await;
    assert!(second.is_owner());
    second_events.wait_state("open", 30_000).await;
    assert!(!second_events.states().iter().any(|s| s == "replaced"));
    assert!(!first_events.states().iter().any(|s| s == "replaced"));
    sleep(300).await;
    assert_eq!(
        logged_in(&control(&sim, "GET", "/connections", None).await),
        1
    );

    await_promise(second.logout()).await.unwrap();
    await_promise(second.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn two_sessions_linking_one_number_are_reported() {
    let Some(sim) = sim() else { return };
    let phone = new_phone(&sim).await;
    let a_name = unique_session("dup-a");
    let b_name = unique_session("dup-b");
    let a_events = Recorder::default();
    let a = open(&sim, &a_name, &a_events).await;
    link(&sim, &a, &a_events, &phone).await;
    let b_events = Recorder::default();
    let b = open(&sim, &b_name, &b_events).await;
    link(&sim, &b, &b_events, &phone).await;

    let duplicate = b_events.wait("duplicate-link", 5_000, |_| true).await;
    assert_eq!(duplicate["phoneNumber"], phone.as_str());
    let sessions: Vec<&str> = duplicate["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(sessions.contains(&a_name.as_str()) && sessions.contains(&b_name.as_str()));
    assert_eq!(to_value(&b.status())["duplicates"], json!([a_name]));
    // The first session hears of it too (the sessions announce link changes).
    let duplicate = a_events.wait("duplicate-link", 5_000, |_| true).await;
    assert_eq!(duplicate["phoneNumber"], phone.as_str());
    assert_eq!(to_value(&a.status())["duplicates"], json!([b_name]));
    let stored = to_value(&await_promise(WaClient::sessions()).await.unwrap());
    let entry = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == a_name.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["duplicates"], json!([b_name]));

    // Once b logs out, a is alone with its number again.
    await_promise(b.logout()).await.unwrap();
    for _ in 0..100 {
        if to_value(&a.status())["duplicates"] == json!([]) {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(to_value(&a.status())["duplicates"], json!([]));
    await_promise(b.close()).await.unwrap();
    await_promise(a.logout()).await.unwrap();
    await_promise(a.close()).await.unwrap();
}

/// Fires a synthetic page event (`online` on the window, `resume` on the
/// document), as the browser does.
fn fire(target: &str, kind: &str) {
    let target = Reflect::get(&js_sys::global(), &target.into()).unwrap();
    let event = web_sys::Event::new(kind).unwrap();
    let dispatch: Function = Reflect::get(&target, &"dispatchEvent".into())
        .unwrap()
        .unchecked_into();
    dispatch.call1(&target, &event).unwrap();
}

#[wasm_bindgen_test]
async fn online_and_resume_reconnect_at_once_instead_of_waiting() {
    let Some(sim) = sim() else { return };
    let session = unique_session("lifecycle");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    // A long back-off: without the page events the retry would wait a minute.
    let mut slow = to_value(&options(&sim, &session));
    slow["reconnect"] = json!({ "firstDelayMs": 60_000, "maxDelayMs": 60_000 });
    let client = WaClient::open(to_js(&slow)).await.unwrap();
    recorder.attach(&client, EVENTS);
    link(&sim, &client, &recorder, &phone).await;

    for (target, kind) in [("window", "online"), ("document", "resume")] {
        recorder.clear();
        control(&sim, "POST", "/restart", None).await;
        let waiting = recorder.wait_state("reconnecting", 20_000).await;
        assert!(waiting["retryInMs"].as_u64().unwrap() > 30_000, "{waiting}");
        fire(target, kind);
        recorder.wait_state("open", 10_000).await;
    }
    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_failed_write_is_an_error_event_and_the_link_is_not_confirmed() {
    let Some(sim) = sim() else { return };
    let session = unique_session("write-fails");
    let phone = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    await_promise(client.connect()).await.unwrap();
    let qr = recorder.wait("qr", 20_000, |_| true).await;

    // Pull the database from under the client (as a "clear site data" or a
    // blocked upgrade would): its connection closes, every write now fails.
    let factory = Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    let delete: Function = Reflect::get(&factory, &"deleteDatabase".into())
        .unwrap()
        .unchecked_into();
    delete
        .call1(
            &factory,
            &wa_wasm::web::session_database_name(&session).into(),
        )
        .unwrap();
    sleep(200).await;

    control(
        &sim,
        "POST",
        "/scan-qr",
        Some(json!({ "qr": qr["qr"], "phone": phone })),
    )
    .await;
    let error = recorder.wait("error", 20_000, |_| true).await;
    assert_eq!(error["code"], "storage", "{error}");
    // The pairing reply depends on the stored credentials: it never left,
    // so the device never logged in.
    sleep(1_000).await;
    assert!(
        !recorder.states().iter().any(|s| s == "open"),
        "{:?}",
        recorder.states()
    );
    let connections = control(&sim, "GET", "/connections", None).await;
    assert!(
        !connections
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["device"].as_str().is_some_and(|d| d.starts_with(&phone))),
        "{connections}"
    );
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn sends_and_receives_text_with_a_simulated_contact() {
    let Some(sim) = sim() else { return };
    let session = unique_session("text");
    let phone = new_phone(&sim).await;
    let contact = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    recorder.attach(&client, &["message", "message-status", "receipt"]);
    let me = link(&sim, &client, &recorder, &phone).await;

    let sent = to_value(
        &await_promise(
            client.send_text(format!("+{contact}"), "Tu reserva está confirmada".into()),
        )
        .await
        .unwrap(),
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    recorder
        .wait("message-status", 20_000, |s| {
            s["id"] == id.as_str() && s["status"] == "sent"
        })
        .await;
    let mut received = Value::Null;
    for _ in 0..200 {
        received = control(&sim, "GET", &format!("/accounts/{contact}/received"), None).await;
        if received
            .as_array()
            .is_some_and(|r| r.iter().any(|m| m["id"] == id.as_str()))
        {
            break;
        }
        sleep(50).await;
    }
    let message = received
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the contact did not receive {id}: {received}"));
    assert_eq!(message["text"], "Tu reserva está confirmada");

    control(
        &sim,
        "POST",
        "/messages",
        Some(json!({ "from": contact, "to": phone, "text": "gracias" })),
    )
    .await;
    let incoming = recorder
        .wait("message", 20_000, |m| m["text"] == "gracias")
        .await;
    assert_eq!(incoming["type"], "text");
    assert_eq!(incoming["fromMe"], false);
    assert!(incoming["chat"].as_str().unwrap().starts_with(&contact));
    let chat = incoming["chat"].as_str().unwrap().to_owned();
    let incoming_id = incoming["id"].as_str().unwrap().to_owned();
    await_promise(client.mark_read(chat, vec![incoming_id], None))
        .await
        .unwrap();

    let found = to_value(
        &await_promise(client.is_on_whatsapp(vec![contact.clone(), "19990000001".into()]))
            .await
            .unwrap(),
    );
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|f| f["phone"] == contact.as_str() && f["exists"] == true)
    );
    assert!(
        found
            .iter()
            .any(|f| f["phone"] == "19990000001" && f["exists"] == false)
    );

    // Bad input is refused with a code, before anything is sent.
    let error = await_promise(client.send_text("not a number".into(), "x".into()))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_recipient");
    assert!(!me.is_empty());

    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn sends_and_receives_documents_and_lists_groups() {
    let Some(sim) = sim() else { return };
    let session = unique_session("media");
    let phone = new_phone(&sim).await;
    let contact = new_phone(&sim).await;
    let recorder = Recorder::default();
    let client = open(&sim, &session, &recorder).await;
    recorder.attach(&client, &["message", "message-status"]);
    link(&sim, &client, &recorder, &phone).await;

    // A PDF as bytes: uploaded encrypted, and the contact opens the same bytes.
    let pdf = b"%PDF-1.4\n% wa-wasm browser test\n1 0 obj << >> endobj\n%%EOF\n";
    let sent = to_value(
        &await_promise(client.send_document(
            format!("+{contact}"),
            Uint8Array::from(&pdf[..]).into(),
            to_js(&json!({ "fileName": "ticket.pdf", "mimetype": "application/pdf", "caption": "your ticket" })),
        ))
        .await
        .unwrap(),
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    recorder
        .wait("message-status", 30_000, |s| {
            s["id"] == id.as_str() && s["status"] == "sent"
        })
        .await;
    let document = received_by(&sim, &contact, &id).await["document"].clone();
    assert_eq!(document["file_name"], "ticket.pdf", "{document}");
    assert_eq!(document["mimetype"], "application/pdf");
    assert_eq!(document["caption"], "your ticket");
    assert_eq!(
        document["data_base64"],
        base64::engine::general_purpose::STANDARD.encode(pdf)
    );

    // The same as a base64 data: URL, the MIME type taken from it.
    let url = format!(
        "data:text/plain;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(b"hola")
    );
    let sent = to_value(
        &await_promise(client.send_document(
            format!("+{contact}"),
            JsValue::from_str(&url),
            to_js(&json!({ "fileName": "hola.txt" })),
        ))
        .await
        .unwrap(),
    );
    let document =
        received_by(&sim, &contact, sent["id"].as_str().unwrap()).await["document"].clone();
    assert_eq!(document["mimetype"], "text/plain", "{document}");
    assert_eq!(document["data_base64"], "aG9sYQ==");

    // A document from the contact: the event describes it, downloadMedia opens it.
    let body = "%PDF-1.4\n% reservation from the simulator\n%%EOF\n";
    control(
        &sim,
        "POST",
        "/messages",
        Some(json!({
            "from": contact, "to": phone,
            "document": {
                "file_name": "reservation.pdf", "mimetype": "application/pdf",
                "data_base64": base64::engine::general_purpose::STANDARD.encode(body),
                "caption": "your booking",
            },
        })),
    )
    .await;
    let event = recorder
        .wait("message", 20_000, |m| m["type"] == "document")
        .await;
    assert_eq!(event["document"]["fileName"], "reservation.pdf");
    assert_eq!(event["document"]["caption"], "your booking");
    assert_eq!(event["document"]["fileLength"], body.len());
    let raw = recorder
        .raw("message", |m| m["type"] == "document")
        .unwrap();
    let bytes = await_promise(client.download_media(raw)).await.unwrap();
    assert_eq!(
        bytes.dyn_into::<Uint8Array>().unwrap().to_vec(),
        body.as_bytes()
    );

    // A group with the contact: listed with its participants.
    let group = control(
        &sim,
        "POST",
        "/groups",
        Some(json!({ "subject": "Reservas", "creator": contact, "participants": [phone] })),
    )
    .await;
    let groups = to_value(&await_promise(client.groups()).await.unwrap());
    let listed = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["subject"] == "Reservas")
        .unwrap_or_else(|| panic!("{group} not in {groups}"));
    assert!(
        listed["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["jid"].as_str().unwrap().starts_with(&contact)),
        "{listed}"
    );

    // Bad files are refused with a code before anything is sent.
    for (data, options) in [
        (JsValue::from_f64(7.0), json!({ "fileName": "x.pdf" })),
        (
            Uint8Array::new_with_length(0).into(),
            json!({ "fileName": "x.pdf" }),
        ),
        (
            JsValue::from_str("data:text/plain,hola"),
            json!({ "fileName": "x.txt" }),
        ),
        (Uint8Array::from(&b"x"[..]).into(), json!({})),
    ] {
        let error =
            await_promise(client.send_document(format!("+{contact}"), data, to_js(&options)))
                .await
                .unwrap_err();
        assert_eq!(error_code(&error), "invalid_media", "{options}");
    }
    let text = to_js(&json!({ "type": "text", "text": "hola" }));
    let error = await_promise(client.download_media(text))
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "invalid_media");

    await_promise(client.logout()).await.unwrap();
    await_promise(client.close()).await.unwrap();
}

/// What `contact`'s simulated devices decrypted of message `id`.
async fn received_by(sim: &Sim, contact: &str, id: &str) -> Value {
    for _ in 0..300 {
        let received = control(sim, "GET", &format!("/accounts/{contact}/received"), None).await;
        if let Some(message) = received
            .as_array()
            .and_then(|r| r.iter().find(|m| m["id"] == id))
        {
            return message.clone();
        }
        sleep(50).await;
    }
    panic!("{contact} did not receive {id}");
}
