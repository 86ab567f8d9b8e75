//! Files crossing the JS API: what the page hands to `sendDocument` /
//! `sendImage`, and which file a `message` event points at for
//! `downloadMedia`.
//!
//! Owns reading a `Uint8Array`, `ArrayBuffer`, `Blob` (or `File`) or base64
//! `data:` URL into bytes and a MIME type, and [`MediaRef`], the part of a
//! received document or image needed to fetch and open it. Does not own
//! uploading, downloading or encryption (the engine does them).

use base64::Engine as _;
use js_sys::{ArrayBuffer, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::api::{ErrorCode, WaError};
use super::object::{Object, bytes_field, field, string_field};
use crate::message::{Document, Image};

fn invalid(message: impl Into<String>) -> WaError {
    WaError::new(ErrorCode::InvalidMedia, message)
}

/// A file's bytes and, when the source says it, its MIME type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    /// The bytes (never empty).
    pub bytes: Vec<u8>,
    /// The type a Blob or data URL declared.
    pub mimetype: Option<String>,
}

/// Reads what the page passed as a file.
pub async fn read_file(data: &JsValue) -> Result<FileData, WaError> {
    let file = if let Some(array) = data.dyn_ref::<Uint8Array>() {
        FileData {
            bytes: array.to_vec(),
            mimetype: None,
        }
    } else if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        FileData {
            bytes: Uint8Array::new(buffer).to_vec(),
            mimetype: None,
        }
    } else if let Some(text) = data.as_string() {
        from_data_url(&text)?
    } else if let Some(array_buffer) = blob_method(data) {
        let promise = array_buffer
            .call0(data)
            .ok()
            .and_then(|promise| promise.dyn_into::<Promise>().ok())
            .ok_or_else(|| invalid("the Blob cannot be read"))?;
        let buffer = JsFuture::from(promise)
            .await
            .map_err(|_| invalid("the Blob cannot be read"))?;
        FileData {
            bytes: Uint8Array::new(&buffer).to_vec(),
            mimetype: field(data, "type").as_string().filter(|t| !t.is_empty()),
        }
    } else {
        return Err(invalid(
            "a file must be a Uint8Array, an ArrayBuffer, a Blob or a base64 data: URL",
        ));
    };
    if file.bytes.is_empty() {
        return Err(invalid("the file is empty"));
    }
    Ok(file)
}

/// `data.arrayBuffer`, if `data` looks like a Blob.
fn blob_method(data: &JsValue) -> Option<Function> {
    if !data.is_object() {
        return None;
    }
    Reflect::get(data, &JsValue::from_str("arrayBuffer"))
        .ok()?
        .dyn_into::<Function>()
        .ok()
}

/// `data:<mime>;base64,<payload>`.
pub fn from_data_url(url: &str) -> Result<FileData, WaError> {
    let rest = url
        .strip_prefix("data:")
        .ok_or_else(|| invalid("a file given as text must be a base64 data: URL"))?;
    let (header, payload) = rest
        .split_once(',')
        .ok_or_else(|| invalid("the data: URL has no comma"))?;
    let mimetype = header
        .strip_suffix(";base64")
        .ok_or_else(|| invalid("the data: URL must be base64"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|error| invalid(format!("the data: URL is not valid base64: {error}")))?;
    Ok(FileData {
        bytes,
        mimetype: (!mimetype.is_empty()).then(|| mimetype.to_owned()),
    })
}

/// Which kind of file a [`MediaRef`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A document.
    Document,
    /// An image.
    Image,
}

/// Where a received file is and its keys: what a download needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// Document or image.
    pub kind: MediaKind,
    /// The download URL (may be empty when `direct_path` is set).
    pub url: String,
    /// The path on the media host.
    pub direct_path: String,
    /// The 32-byte media key.
    pub media_key: Vec<u8>,
    /// SHA-256 of the encrypted blob.
    pub file_enc_sha256: Vec<u8>,
}

impl MediaRef {
    /// Reads the file a `message` event carries.
    pub fn from_message(message: &JsValue) -> Result<Self, WaError> {
        let kind = match string_field(message, "type").ok().as_deref() {
            Some("document") => MediaKind::Document,
            Some("image") => MediaKind::Image,
            _ => return Err(invalid("the message holds no document or image")),
        };
        let key = match kind {
            MediaKind::Document => "document",
            MediaKind::Image => "image",
        };
        Self::from_js_fields(kind, &field(message, key)).map_err(invalid)
    }

    fn from_js_fields(kind: MediaKind, media: &JsValue) -> Result<Self, String> {
        Ok(Self {
            kind,
            url: string_field(media, "url")?,
            direct_path: string_field(media, "directPath")?,
            media_key: bytes_field(media, "mediaKey")?,
            file_enc_sha256: bytes_field(media, "fileEncSha256")?,
        })
    }

    /// As a plain object (across tabs).
    pub fn to_js(&self) -> JsValue {
        Object::new()
            .set(
                "kind",
                match self.kind {
                    MediaKind::Document => "document",
                    MediaKind::Image => "image",
                },
            )
            .set("url", self.url.as_str())
            .set("directPath", self.direct_path.as_str())
            .set("mediaKey", Uint8Array::from(self.media_key.as_slice()))
            .set(
                "fileEncSha256",
                Uint8Array::from(self.file_enc_sha256.as_slice()),
            )
            .into_js()
    }

    /// Reads [`MediaRef::to_js`]'s object back.
    pub fn from_js(value: &JsValue) -> Result<Self, String> {
        let kind = match string_field(value, "kind")?.as_str() {
            "document" => MediaKind::Document,
            "image" => MediaKind::Image,
            other => return Err(format!("unknown media kind {other:?}")),
        };
        Self::from_js_fields(kind, value)
    }

    /// The engine's document for a download.
    pub fn document(&self) -> Document {
        Document {
            url: self.url.clone(),
            direct_path: self.direct_path.clone(),
            media_key: self.media_key.clone(),
            file_enc_sha256: self.file_enc_sha256.clone(),
            ..Document::default()
        }
    }

    /// The engine's image for a download.
    pub fn image(&self) -> Image {
        Image {
            url: self.url.clone(),
            direct_path: self.direct_path.clone(),
            media_key: self.media_key.clone(),
            file_enc_sha256: self.file_enc_sha256.clone(),
            ..Image::default()
        }
    }
}
