//! HTTP for the engine's media transfers ([`Output::Http`]): the
//! [`HttpTransport`] trait, a plain-HTTP/1.1 client on hyper ([`HyperHttp`]),
//! and closures as transports for tests.
//!
//! [`Output::Http`]: wa_wasm::client::Output::Http

use core::future::Future;
use core::pin::Pin;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use wa_wasm::client::{HttpMethod, HttpRequest, HttpResponse};

/// A boxed answer to one request.
pub type HttpFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, String>> + Send + 'a>>;

/// Makes the HTTP exchanges the engine asks for.
pub trait HttpTransport: Send {
    /// Performs `request`; `Err` when no answer came.
    fn request(&mut self, request: HttpRequest) -> HttpFuture<'_>;
}

/// A synchronous closure is a transport (handy for in-process tests).
impl<F> HttpTransport for F
where
    F: FnMut(HttpRequest) -> Result<HttpResponse, String> + Send,
{
    fn request(&mut self, request: HttpRequest) -> HttpFuture<'_> {
        let answer = self(request);
        Box::pin(async move { answer })
    }
}

/// HTTP/1.1 over TCP with hyper, one connection per request. Only `http://`
/// URLs (the simulator, or a local relay); `https://` is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperHttp;

impl HttpTransport for HyperHttp {
    fn request(&mut self, request: HttpRequest) -> HttpFuture<'_> {
        Box::pin(exchange(request))
    }
}

async fn exchange(request: HttpRequest) -> Result<HttpResponse, String> {
    let uri: hyper::Uri = request.url.parse().map_err(|e| format!("bad URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("unsupported scheme in {}", request.url));
    }
    let host = uri.host().ok_or("URL without a host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "HTTP connection ended");
        }
    });
    let method = match request.method {
        HttpMethod::Get => hyper::Method::GET,
        HttpMethod::Post => hyper::Method::POST,
    };
    let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, authority);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http_request = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(http_request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(HttpResponse { status, body })
}
