//! Media transfers: documents and images encrypted and uploaded before their
//! message is sent, and received ones downloaded and opened (MAC checked).
//!
//! Sans-IO like the rest of the engine: the engine asks the shell for each
//! HTTP exchange with [`Output::Http`](super::Output::Http) and takes the
//! answer back with [`Client::handle_http_response`]. Owns the `media_conn`
//! query (cached until its TTL), the upload URL and token, the upload
//! response, and the download URL. Does not own the blob encryption
//! (`media`) nor the HTTP itself.

use rand_core::CryptoRng;

use super::engine::{Client, ClientError};
use super::event::{Event, Output};
use super::iq::IqError;
use super::messaging::{MessageId, MessageStatus, MessageStatusUpdate, SendFailure};
use super::stanza;
use super::state::Purpose;
use crate::binary::{Jid, Node};
use crate::media::{self, MediaError, MediaType};
use crate::message::{Document, Image, Message};

/// The host documents are fetched from when a message names only a path.
pub const DEFAULT_MEDIA_HOST: &str = "mmg.whatsapp.net";

/// Identifies one HTTP exchange the engine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpRequestId(pub u64);

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET` (downloads).
    Get,
    /// `POST` (uploads).
    Post,
}

/// An HTTP exchange for the shell to make, then report with
/// [`Client::handle_http_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Give it back with the answer.
    pub id: HttpRequestId,
    /// The method.
    pub method: HttpMethod,
    /// The full URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A file to send as a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentUpload {
    /// The file's bytes.
    pub data: Vec<u8>,
    /// The file name shown to the recipient.
    pub file_name: String,
    /// The MIME type (`application/pdf`, …).
    pub mimetype: String,
    /// A caption, if any.
    pub caption: Option<String>,
}

/// An image to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    /// The image's bytes (JPEG, PNG, …).
    pub data: Vec<u8>,
    /// The MIME type (`image/jpeg`, …).
    pub mimetype: String,
    /// A caption, if any.
    pub caption: Option<String>,
    /// Width and height in pixels, when known.
    pub size: Option<(u32, u32)>,
}

/// What is being uploaded.
#[derive(Debug, Clone)]
pub(crate) enum Upload {
    Document(DocumentUpload),
    Image(ImageUpload),
}

impl Upload {
    fn media_type(&self) -> MediaType {
        match self {
            Upload::Document(_) => MediaType::Document,
            Upload::Image(_) => MediaType::Image,
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Upload::Document(d) => &d.data,
            Upload::Image(i) => &i.data,
        }
    }
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// The document carries no usable media key.
    #[error("the document has no usable media key")]
    NoMediaKey,
    /// The HTTP exchange failed.
    #[error("download failed: {0}")]
    Http(String),
    /// The blob did not open (hash, MAC or decryption).
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Upload credentials from `media_conn`.
#[derive(Debug, Clone)]
pub(crate) struct MediaConn {
    host: String,
    auth: String,
    expires_at: u64,
}

/// A document waiting for its upload.
#[derive(Debug, Clone)]
pub(crate) struct PendingUpload {
    id: MessageId,
    chat: Jid,
    upload: Upload,
}

/// What an HTTP exchange is for.
#[derive(Debug)]
pub(crate) enum HttpPurpose {
    Upload {
        pending: PendingUpload,
        message: Box<Message>,
    },
    Download {
        media_key: [u8; 32],
        media_type: MediaType,
        file_enc_sha256: Vec<u8>,
    },
}

fn scheme_for(config_url: &str) -> &'static str {
    if config_url.starts_with("ws://") {
        "http"
    } else {
        "https"
    }
}

impl Client {
    /// Sends a document: encrypts it, uploads it (through
    /// [`Output::Http`]), then sends the message. Returns the message id at
    /// once; [`Event::MessageStatus`] follows as for texts.
    pub fn send_document(
        &mut self,
        to: &Jid,
        upload: DocumentUpload,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<MessageId, ClientError> {
        self.send_media(to, Upload::Document(upload), now, rng)
    }

    /// Sends an image, like [`send_document`](Self::send_document).
    pub fn send_image(
        &mut self,
        to: &Jid,
        upload: ImageUpload,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<MessageId, ClientError> {
        self.send_media(to, Upload::Image(upload), now, rng)
    }

    fn send_media(
        &mut self,
        to: &Jid,
        upload: Upload,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<MessageId, ClientError> {
        self.require_open()?;
        let chat = self.checked_chat(to)?;
        let id = self.new_message_id(rng);
        let pending = PendingUpload {
            id: id.clone(),
            chat,
            upload,
        };
        match self.media_conn.clone().filter(|c| c.expires_at > now) {
            Some(conn) => self.start_upload(pending, &conn, now, rng),
            None => {
                let first = self.uploads_waiting.is_empty();
                self.uploads_waiting.push(pending);
                if first {
                    let request = stanza::server_iq("set", "w:m", vec![Node::new("media_conn")]);
                    self.send_iq(request, Purpose::MediaConn, now, rng);
                }
            }
        }
        Ok(id)
    }

    /// Downloads and opens a received document; the bytes arrive as
    /// [`Event::MediaDownloaded`]. Needs no connection.
    pub fn download_document(&mut self, document: &Document) -> Result<HttpRequestId, ClientError> {
        self.download(
            MediaType::Document,
            &document.media_key,
            &document.url,
            &document.direct_path,
            &document.file_enc_sha256,
        )
    }

    /// Downloads and opens a received image, like
    /// [`download_document`](Self::download_document).
    pub fn download_image(&mut self, image: &Image) -> Result<HttpRequestId, ClientError> {
        self.download(
            MediaType::Image,
            &image.media_key,
            &image.url,
            &image.direct_path,
            &image.file_enc_sha256,
        )
    }

    fn download(
        &mut self,
        media_type: MediaType,
        media_key: &[u8],
        url: &str,
        direct_path: &str,
        file_enc_sha256: &[u8],
    ) -> Result<HttpRequestId, ClientError> {
        let media_key: [u8; 32] = media_key
            .try_into()
            .map_err(|_| ClientError::Download(DownloadError::NoMediaKey))?;
        let url = if url.is_empty() {
            format!("https://{DEFAULT_MEDIA_HOST}{direct_path}")
        } else {
            url.to_owned()
        };
        let id = self.next_http_id();
        self.http.insert(
            id,
            HttpPurpose::Download {
                media_key,
                media_type,
                file_enc_sha256: file_enc_sha256.to_vec(),
            },
        );
        self.outbox.push(Output::Http(HttpRequest {
            id,
            method: HttpMethod::Get,
            url,
            headers: vec![("Origin".into(), "https://web.whatsapp.com".into())],
            body: Vec::new(),
        }));
        Ok(id)
    }

    /// The answer to an [`Output::Http`] (`Err` when no answer came).
    pub fn handle_http_response(
        &mut self,
        id: HttpRequestId,
        response: Result<HttpResponse, String>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let Some(purpose) = self.http.remove(&id) else {
            tracing::debug!(?id, "an HTTP answer nobody waits for");
            return;
        };
        let response = response.and_then(|r| {
            if (200..300).contains(&r.status) {
                Ok(r.body)
            } else {
                Err(format!("HTTP status {}", r.status))
            }
        });
        match purpose {
            HttpPurpose::Download {
                media_key,
                media_type,
                file_enc_sha256,
            } => {
                let result = response.map_err(DownloadError::Http).and_then(|blob| {
                    media::decrypt(
                        &blob,
                        &media_key,
                        media_type,
                        (!file_enc_sha256.is_empty()).then_some(file_enc_sha256.as_slice()),
                    )
                    .map_err(DownloadError::from)
                });
                self.outbox.event(Event::MediaDownloaded { id, result });
            }
            HttpPurpose::Upload {
                pending,
                mut message,
            } => match response.and_then(|body| UploadAnswer::parse(&body)) {
                Ok(UploadAnswer { url, direct_path }) => {
                    if let Some(document) = message.document.as_mut() {
                        document.url = url;
                        document.direct_path = direct_path;
                    } else if let Some(image) = message.image.as_mut() {
                        image.url = url;
                        image.direct_path = direct_path;
                    }
                    self.start_send(pending.id, pending.chat, *message, now, rng);
                }
                Err(error) => self.upload_failed(&pending, error),
            },
        }
    }

    fn next_http_id(&mut self) -> HttpRequestId {
        self.next_http = self.next_http.saturating_add(1);
        HttpRequestId(self.next_http)
    }

    fn upload_failed(&mut self, pending: &PendingUpload, error: String) {
        self.outbox.event(Event::MessageStatus(MessageStatusUpdate {
            id: pending.id.clone(),
            chat: pending.chat.clone(),
            status: MessageStatus::Failed(SendFailure::Upload(error)),
        }));
    }

    fn start_upload(
        &mut self,
        pending: PendingUpload,
        conn: &MediaConn,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let mut media_key = [0u8; 32];
        rng.fill_bytes(&mut media_key);
        let media_type = pending.upload.media_type();
        let sealed = media::encrypt(pending.upload.data(), &media_key, media_type);
        use base64::Engine as _;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed.file_enc_sha256);
        let url = format!(
            "{}://{}/mms/{}/{token}?auth={}&token={token}",
            scheme_for(&self.config.url),
            conn.host,
            media_type.mms_type(),
            conn.auth,
        );
        let media_key_timestamp = i64::try_from(now / 1000).unwrap_or(i64::MAX);
        let message = match &pending.upload {
            Upload::Document(upload) => Message::document(Document {
                url: String::new(),
                mimetype: upload.mimetype.clone(),
                title: upload.file_name.clone(),
                file_name: upload.file_name.clone(),
                caption: upload.caption.clone(),
                file_sha256: sealed.file_sha256.to_vec(),
                file_enc_sha256: sealed.file_enc_sha256.to_vec(),
                file_length: sealed.file_length,
                media_key: media_key.to_vec(),
                direct_path: String::new(),
                media_key_timestamp,
            }),
            Upload::Image(upload) => Message::image(Image {
                url: String::new(),
                mimetype: upload.mimetype.clone(),
                caption: upload.caption.clone(),
                file_sha256: sealed.file_sha256.to_vec(),
                file_enc_sha256: sealed.file_enc_sha256.to_vec(),
                file_length: sealed.file_length,
                media_key: media_key.to_vec(),
                direct_path: String::new(),
                media_key_timestamp,
                width: upload.size.map(|(w, _)| w),
                height: upload.size.map(|(_, h)| h),
            }),
        };
        let id = self.next_http_id();
        self.http.insert(
            id,
            HttpPurpose::Upload {
                pending,
                message: Box::new(message),
            },
        );
        self.outbox.push(Output::Http(HttpRequest {
            id,
            method: HttpMethod::Post,
            url,
            headers: vec![
                ("Origin".into(), "https://web.whatsapp.com".into()),
                ("Content-Type".into(), "application/octet-stream".into()),
            ],
            body: sealed.data,
        }));
    }

    /// The answer to `media_conn`: start the uploads that waited for it.
    pub(crate) fn on_media_conn(
        &mut self,
        answer: Result<Node, IqError>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) {
        let waiting = core::mem::take(&mut self.uploads_waiting);
        let conn = answer.and_then(|node| {
            let conn = node
                .child("media_conn")
                .ok_or_else(|| IqError::Malformed(missing("media_conn")))?;
            let auth = conn.str_attr("auth").unwrap_or_default().to_owned();
            let ttl = conn.optional_u64("ttl").ok().flatten().unwrap_or(300);
            let host = conn
                .child("host")
                .and_then(|h| h.str_attr("hostname"))
                .ok_or_else(|| IqError::Malformed(missing("host")))?
                .to_owned();
            Ok(MediaConn {
                host,
                auth,
                expires_at: now.saturating_add(ttl.saturating_mul(1000)),
            })
        });
        match conn {
            Ok(conn) => {
                self.media_conn = Some(conn.clone());
                for pending in waiting {
                    self.start_upload(pending, &conn, now, rng);
                }
            }
            Err(error) => {
                for pending in waiting {
                    self.upload_failed(&pending, error.to_string());
                }
            }
        }
    }
}

fn missing(child: &str) -> crate::binary::NodeError {
    crate::binary::NodeError::MissingChild {
        tag: "iq".to_owned(),
        child: child.to_owned(),
    }
}

/// The media host's answer to an upload (other fields are ignored).
///
/// Read with `miniserde`: `serde_json` with its float formatting cost the
/// shipped module ~40 KB for these two strings.
#[derive(Debug, PartialEq, Eq, miniserde::Deserialize)]
struct UploadAnswer {
    url: String,
    direct_path: String,
}

impl UploadAnswer {
    fn parse(body: &[u8]) -> Result<Self, String> {
        core::str::from_utf8(body)
            .ok()
            .and_then(|text| miniserde::json::from_str(text).ok())
            .ok_or_else(|| {
                "the upload answer is not a JSON object with `url` and `direct_path` strings"
                    .to_owned()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::UploadAnswer;

    #[test]
    fn upload_answer_reads_escaped_strings_and_skips_other_fields() {
        let body = br#"{"url":"https:\/\/mmg.example\/d\/f?x=1\u0026y=2","handle":null,"size":1.5e3,"direct_path":"\/v\/t62\/abc","meta":{"a":[1,true]}}"#;
        assert_eq!(
            UploadAnswer::parse(body),
            Ok(UploadAnswer {
                url: "https://mmg.example/d/f?x=1&y=2".to_owned(),
                direct_path: "/v/t62/abc".to_owned(),
            })
        );
    }

    #[test]
    fn upload_answer_without_both_paths_is_an_error() {
        for body in [
            &br#"{"url":"https://mmg.example/d"}"#[..],
            br#"{"url":1,"direct_path":"/v"}"#,
            br#"<html>502</html>"#,
            b"\xff\xfe",
            b"",
        ] {
            let error = UploadAnswer::parse(body).expect_err("must be rejected");
            assert!(error.contains("direct_path"), "{error}");
        }
    }
}
