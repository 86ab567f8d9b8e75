//! Plain JavaScript objects built and read from Rust.
//!
//! Owns: [`Object`], a builder for the objects the page receives (events,
//! status, replies), and the typed field readers used on what the page or
//! another tab hands over (options, commands). Objects cross a
//! `BroadcastChannel` by structured clone, so bytes stay `Uint8Array`s.
//!
//! Does not own what the objects mean ([`super::api`] and
//! [`super::wa_client`] do). Built by hand rather than through serde: a serde
//! data model costs the wasm module several kilobytes per type.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A plain object under construction.
#[derive(Debug, Clone)]
pub struct Object(js_sys::Object);

impl Default for Object {
    fn default() -> Self {
        Self::new()
    }
}

impl Object {
    /// `{}`.
    pub fn new() -> Self {
        Self(js_sys::Object::new())
    }

    /// Sets `key` (setting a property of a fresh plain object cannot fail).
    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }

    /// The object as a JS value.
    pub fn into_js(self) -> JsValue {
        self.0.into()
    }
}

impl From<Object> for JsValue {
    fn from(object: Object) -> Self {
        object.into_js()
    }
}

/// A count, time or size as a JS number (`u64` would become a `BigInt`).
pub fn number(value: u64) -> JsValue {
    // Every value the API carries is far below 2^53.
    JsValue::from_f64(value as f64)
}

/// An optional string, `null` when absent.
pub fn optional_string(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// An optional number, `null` when absent.
pub fn optional_number(value: Option<u64>) -> JsValue {
    value.map_or(JsValue::NULL, number)
}

/// An array of strings.
pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> JsValue {
    items
        .into_iter()
        .map(|item| JsValue::from_str(item.as_ref()))
        .collect::<Array>()
        .into()
}

/// A deep copy of plain data (what `JSON.parse(JSON.stringify(value))` gives).
pub fn copy(value: &JsValue) -> JsValue {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&String::from(text)).ok())
        .unwrap_or(JsValue::NULL)
}

/// Whether two plain values hold the same data.
pub fn same_data(a: &JsValue, b: &JsValue) -> bool {
    let text = |value: &JsValue| js_sys::JSON::stringify(value).ok().map(String::from);
    text(a) == text(b)
}

/// `object[key]` (`undefined` when `object` is not an object).
pub fn field(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key]`, unless it is `undefined` or `null`.
pub fn present(object: &JsValue, key: &str) -> Option<JsValue> {
    let value = field(object, key);
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// `object[key]` as a string.
pub fn string_field(object: &JsValue, key: &str) -> Result<String, String> {
    field(object, key)
        .as_string()
        .ok_or_else(|| format!("`{key}` must be a string"))
}

/// `object[key]` as a string, if present.
pub fn optional_string_field(object: &JsValue, key: &str) -> Result<Option<String>, String> {
    present(object, key)
        .map(|value| {
            value
                .as_string()
                .ok_or_else(|| format!("`{key}` must be a string"))
        })
        .transpose()
}

/// A value as an array of strings.
pub fn as_strings(value: &JsValue) -> Option<Vec<String>> {
    let array = value.dyn_ref::<Array>()?;
    array.iter().map(|item| item.as_string()).collect()
}

/// `object[key]` as an array of strings.
pub fn strings_field(object: &JsValue, key: &str) -> Result<Vec<String>, String> {
    as_strings(&field(object, key)).ok_or_else(|| format!("`{key}` must be an array of strings"))
}

/// `object[key]` as bytes (a `Uint8Array`).
pub fn bytes_field(object: &JsValue, key: &str) -> Result<Vec<u8>, String> {
    field(object, key)
        .dyn_ref::<js_sys::Uint8Array>()
        .map(js_sys::Uint8Array::to_vec)
        .ok_or_else(|| format!("`{key}` must be a Uint8Array"))
}

/// A value as a non-negative integer.
pub fn as_u64(value: &JsValue) -> Option<u64> {
    let number = value.as_f64()?;
    // Whole numbers up to 2^53 only.
    (number >= 0.0 && number.fract() == 0.0 && number <= 9_007_199_254_740_992.0)
        .then_some(number as u64)
}

/// `object[key]` as a non-negative integer.
pub fn u64_field(object: &JsValue, key: &str) -> Result<u64, String> {
    as_u64(&field(object, key)).ok_or_else(|| format!("`{key}` must be a non-negative integer"))
}

/// The first own key of `object` that is not in `known`.
pub fn unknown_key(object: &JsValue, known: &[&str]) -> Option<String> {
    let object = object.dyn_ref::<js_sys::Object>()?;
    js_sys::Object::keys(object)
        .iter()
        .filter_map(|key| key.as_string())
        .find(|key| !known.contains(&key.as_str()))
}
