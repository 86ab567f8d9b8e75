//! HTTP for the engine's media transfers (`Output::Http`): the global
//! `fetch`, bytes in and out.
//!
//! Owns turning an [`HttpRequest`] into a `fetch` call and its answer into an
//! [`HttpResponse`]. Does not own what the bytes mean (the engine encrypts,
//! uploads, downloads and checks them) nor retries (the engine decides).

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::client::{HttpMethod, HttpRequest, HttpResponse};

fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "fetch failed".to_owned())
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(target, &key.into(), value)
        .map(|_| ())
        .map_err(|error| describe(&error))
}

fn call_method(target: &JsValue, name: &str) -> Result<Promise, String> {
    let method: Function = Reflect::get(target, &name.into())
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| format!("{name} is not a function"))?;
    method
        .call0(target)
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| format!("{name} did not return a promise"))
}

/// Makes `request` with the global `fetch`; a network failure is an `Err`, any
/// HTTP status an `Ok` (the engine judges the status).
pub(crate) async fn fetch(request: &HttpRequest) -> Result<HttpResponse, String> {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &"fetch".into())
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| "fetch is not available".to_owned())?;
    let init = Object::new();
    let method = match request.method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
    };
    set(&init, "method", &method.into())?;
    let headers = Object::new();
    for (name, value) in &request.headers {
        set(&headers, name, &value.as_str().into())?;
    }
    set(&init, "headers", &headers)?;
    if request.method == HttpMethod::Post {
        set(&init, "body", &Uint8Array::from(request.body.as_slice()))?;
    }
    let pending: Promise = fetch
        .call2(&global, &request.url.as_str().into(), &init)
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| "fetch did not return a promise".to_owned())?;
    let response = JsFuture::from(pending)
        .await
        .map_err(|error| describe(&error))?;
    let status = Reflect::get(&response, &"status".into())
        .ok()
        .and_then(|status| status.as_f64())
        .and_then(|status| u16::try_from(status as u32).ok())
        .ok_or_else(|| "the response has no status".to_owned())?;
    let body = JsFuture::from(call_method(&response, "arrayBuffer")?)
        .await
        .map_err(|error| describe(&error))?;
    Ok(HttpResponse {
        status,
        body: Uint8Array::new(&body).to_vec(),
    })
}
