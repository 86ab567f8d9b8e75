//! Helpers for driving `WaClient` against a `wa-sim` process from wasm:
//! the simulator's addresses (passed at compile time by `cargo xtask`, since
//! a wasm test cannot read the environment when it runs), its control API,
//! and an event recorder. Shared by the browser tests and the browser benches.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use serde_json::{Value, json};
use wa_wasm::web::{WaClient, sleep};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The simulator's addresses.
pub struct Sim {
    pub ws: &'static str,
    pub root: &'static str,
    pub control: &'static str,
}

/// The simulator `cargo xtask` started, if this build was given its addresses.
pub fn sim() -> Option<Sim> {
    match (
        option_env!("WA_SIM_WS"),
        option_env!("WA_SIM_ROOT"),
        option_env!("WA_SIM_CONTROL"),
    ) {
        (Some(ws), Some(root), Some(control)) => Some(Sim { ws, root, control }),
        _ => None,
    }
}

pub fn to_value(value: &JsValue) -> Value {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

pub fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

pub async fn await_promise(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

/// Calls the simulator's control API (`fetch`, JSON in and out).
pub async fn control(sim: &Sim, method: &str, path: &str, body: Option<Value>) -> Value {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into())
        .unwrap()
        .unchecked_into();
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.to_string().into()).unwrap();
        let headers = Object::new();
        Reflect::set(&headers, &"content-type".into(), &"application/json".into()).unwrap();
        Reflect::set(&init, &"headers".into(), &headers).unwrap();
    }
    let url = format!("{}{}", sim.control, path);
    let response = await_promise(
        fetch
            .call2(&JsValue::NULL, &url.as_str().into(), &init)
            .unwrap()
            .unchecked_into(),
    )
    .await
    .unwrap();
    let ok = Reflect::get(&response, &"ok".into()).unwrap().as_bool();
    let json: Function = Reflect::get(&response, &"json".into())
        .unwrap()
        .unchecked_into();
    let body = await_promise(json.call0(&response).unwrap().unchecked_into())
        .await
        .unwrap();
    let body = to_value(&body);
    assert_eq!(ok, Some(true), "{method} {path} failed: {body}");
    body
}

/// Every event a client delivered, in order.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Rc<RefCell<Vec<(String, Value)>>>,
    times: Rc<RefCell<Vec<f64>>>,
    /// The payloads as delivered (bytes stay `Uint8Array`s).
    raw: Rc<RefCell<Vec<JsValue>>>,
}

/// `performance.now()`: milliseconds with sub-millisecond precision.
pub fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|performance| {
            let now: Function = Reflect::get(&performance, &"now".into())
                .ok()?
                .dyn_into()
                .ok()?;
            now.call0(&performance).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

impl Recorder {
    pub fn attach(&self, client: &WaClient, names: &[&str]) {
        for name in names {
            let events = Rc::clone(&self.events);
            let times = Rc::clone(&self.times);
            let raw = Rc::clone(&self.raw);
            let event = (*name).to_owned();
            let callback = Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
                times.borrow_mut().push(now_ms());
                events.borrow_mut().push((event.clone(), to_value(&data)));
                raw.borrow_mut().push(data);
            });
            client.on(
                (*name).to_owned(),
                callback.into_js_value().unchecked_into(),
            );
        }
    }

    pub fn all(&self, name: &str) -> Vec<Value> {
        self.events
            .borrow()
            .iter()
            .filter(|(event, _)| event == name)
            .map(|(_, data)| data.clone())
            .collect()
    }

    pub fn states(&self) -> Vec<String> {
        self.all("connection")
            .iter()
            .filter_map(|data| data["state"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn clear(&self) {
        self.events.borrow_mut().clear();
        self.times.borrow_mut().clear();
        self.raw.borrow_mut().clear();
    }

    /// The payload of the first recorded event `name` that `wanted` accepts,
    /// as delivered.
    pub fn raw(&self, name: &str, wanted: impl Fn(&Value) -> bool) -> Option<JsValue> {
        let events = self.events.borrow();
        let raw = self.raw.borrow();
        events
            .iter()
            .zip(raw.iter())
            .find(|((event, data), _)| event == name && wanted(data))
            .map(|(_, value)| value.clone())
    }

    /// When (`performance.now()`) the first recorded event `name` that
    /// `wanted` accepts arrived.
    pub fn time_of(&self, name: &str, wanted: impl Fn(&Value) -> bool) -> Option<f64> {
        let events = self.events.borrow();
        let times = self.times.borrow();
        events
            .iter()
            .zip(times.iter())
            .find(|((event, data), _)| event == name && wanted(data))
            .map(|(_, at)| *at)
    }

    /// Waits (polling every `step_ms`) for a recorded event `name` that
    /// `wanted` accepts.
    pub async fn wait_every(
        &self,
        name: &str,
        timeout_ms: u64,
        step_ms: u64,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut waited = 0;
        loop {
            if let Some(found) = self.all(name).into_iter().find(|data| wanted(data)) {
                return found;
            }
            assert!(
                waited < timeout_ms,
                "no matching `{name}` event within {timeout_ms} ms; events: {:?}",
                self.events.borrow()
            );
            sleep(step_ms).await;
            waited += step_ms;
        }
    }

    pub async fn wait(
        &self,
        name: &str,
        timeout_ms: u64,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_every(name, timeout_ms, 50, wanted).await
    }

    pub async fn wait_state(&self, state: &str, timeout_ms: u64) -> Value {
        self.wait("connection", timeout_ms, |data| data["state"] == state)
            .await
    }
}

/// Options for a client of `session` on the simulator.
pub fn options(sim: &Sim, session: &str, log_level: &str) -> JsValue {
    to_js(&json!({
        "session": session,
        "url": sim.ws,
        "rootKey": sim.root,
        "browser": ["Tests", "Chrome", "1.0"],
        "reconnect": { "firstDelayMs": 200, "maxDelayMs": 2000 },
        "logLevel": log_level,
    }))
}

/// A fresh simulated account, so runs never link the same number.
pub async fn new_phone(sim: &Sim) -> String {
    thread_local!(static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let serial = NEXT.with(|next| {
        next.set(next.get() + 1);
        next.get()
    });
    let phone = format!(
        "1777{:05}{serial:02}",
        wa_wasm::web::now_unix_ms() % 100_000
    );
    control(sim, "POST", "/accounts", Some(json!({ "phone": phone }))).await;
    phone
}
