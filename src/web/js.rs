//! Small JavaScript interop helpers shared by the browser modules.
//!
//! Owns: promises settled from Rust ([`Deferred`]), reading a thrown value's
//! name and message, and reaching globals that exist both in windows and in
//! workers. Does not own any browser API wrapper.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::DomException;

/// A promise together with the functions that settle it.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    /// The promise.
    pub promise: Promise,
    /// Resolves it.
    pub resolve: Function,
    /// Rejects it.
    pub reject: Function,
}

impl Deferred {
    /// A new pending promise.
    pub(crate) fn new() -> Self {
        let mut settle = None;
        let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        // The executor runs synchronously, so `settle` is always set; the
        // fallback (calling it throws, and callers ignore that) is unreachable.
        let (resolve, reject) = settle.unwrap_or_else(|| {
            (
                JsValue::UNDEFINED.unchecked_into(),
                JsValue::UNDEFINED.unchecked_into(),
            )
        });
        Self {
            promise,
            resolve,
            reject,
        }
    }
}

/// The `name` and `message` of a thrown JS value (a `DOMException`, an
/// `Error`, or anything else).
pub(crate) fn error_name_and_message(value: &JsValue) -> (String, String) {
    if let Some(exception) = value.dyn_ref::<DomException>() {
        return (exception.name(), exception.message());
    }
    let name = string_field(value, "name");
    let message = string_field(value, "message");
    match (name, message) {
        (Some(name), Some(message)) => (name, message),
        _ => (
            "Error".to_owned(),
            // Not `{value:?}`: JsValue's Debug pulls float formatting in.
            value
                .as_string()
                .or_else(|| {
                    js_sys::JSON::stringify(value)
                        .ok()
                        .and_then(|text| text.as_string())
                })
                .unwrap_or_else(|| "unknown error".to_owned()),
        ),
    }
}

/// `object[name]` if it is a string.
pub(crate) fn string_field(object: &JsValue, name: &str) -> Option<String> {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.as_string())
}

/// `globalThis[name]`, if defined (works in windows and workers).
pub(crate) fn global_field(name: &str) -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined() && !value.is_null())
}

/// `promise.then(on_fulfilled, on_rejected)` with plain JS functions (the
/// js-sys binding wants Rust closures).
pub(crate) fn then_functions(
    promise: &Promise,
    on_fulfilled: &JsValue,
    on_rejected: &JsValue,
) -> Promise {
    Reflect::get(promise, &JsValue::from_str("then"))
        .ok()
        .and_then(|then| then.dyn_into::<Function>().ok())
        .and_then(|then| then.call2(promise, on_fulfilled, on_rejected).ok())
        .and_then(|chained| chained.dyn_into::<Promise>().ok())
        // `then` of a native promise always returns one; keep the original
        // otherwise.
        .unwrap_or_else(|| promise.clone())
}
