//! A tiny static file server for the demo: `GET`/`HEAD` on loopback, one thread
//! per connection, files from a few mounted directories plus generated documents
//! (the demo's `config.json`). No caching, no directory listings, no `..`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the server answers: URL prefixes mapped to directories, and fixed documents.
#[derive(Debug, Default, Clone)]
pub struct Site {
    /// `(url prefix without trailing slash, directory)`, longest prefix first.
    mounts: Vec<(String, PathBuf)>,
    /// Exact paths served from memory: `path -> (content type, body)`.
    documents: BTreeMap<String, (&'static str, Vec<u8>)>,
}

impl Site {
    /// Serves `dir` under `prefix` (`""` for the root).
    pub fn mount(mut self, prefix: &str, dir: impl Into<PathBuf>) -> Self {
        self.mounts
            .push((prefix.trim_end_matches('/').to_owned(), dir.into()));
        self.mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        self
    }

    /// Serves `body` at exactly `path`.
    pub fn document(mut self, path: &str, content_type: &'static str, body: Vec<u8>) -> Self {
        self.documents.insert(path.to_owned(), (content_type, body));
        self
    }

    fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        for (prefix, dir) in &self.mounts {
            let rest = if prefix.is_empty() {
                Some(url_path)
            } else {
                url_path
                    .strip_prefix(prefix.as_str())
                    .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            };
            let Some(rest) = rest else { continue };
            let relative = Path::new(rest.trim_start_matches('/'));
            if relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
            {
                return None;
            }
            let mut file = dir.join(relative);
            if file.is_dir() {
                file = file.join("index.html");
            }
            if file.is_file() {
                return Some(file);
            }
        }
        None
    }
}

/// Binds `127.0.0.1:port` (0 picks one) and serves `site` on background threads.
pub fn start(site: Site, port: u16) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let site = Arc::new(site);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let site = Arc::clone(&site);
            std::thread::spawn(move || {
                // A broken connection only ends that connection.
                let _ = serve_connection(&site, stream);
            });
        }
    });
    Ok(addr)
}

fn serve_connection(site: &Site, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        // Headers are read and ignored; requests carry no body (GET/HEAD only).
        let mut keep_alive = true;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection:")
                && header.to_ascii_lowercase().contains("close")
            {
                keep_alive = false;
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or("/");
        let path = percent_decode(target.split(['?', '#']).next().unwrap_or("/"));
        let (status, content_type, body) = match method {
            "GET" | "HEAD" => respond(site, &path),
            _ => (
                "405 Method Not Allowed",
                "text/plain",
                b"GET only\n".to_vec(),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: {}\r\n\r\n",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        writer.write_all(head.as_bytes())?;
        if method != "HEAD" {
            writer.write_all(&body)?;
        }
        writer.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

fn respond(site: &Site, path: &str) -> (&'static str, &'static str, Vec<u8>) {
    if let Some((content_type, body)) = site.documents.get(path) {
        return ("200 OK", content_type, body.clone());
    }
    match site.resolve(path).map(|file| (std::fs::read(&file), file)) {
        Some((Ok(body), file)) => ("200 OK", content_type(&file), body),
        _ => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
    }
}

/// The content type by file extension; `application/wasm` matters for
/// `WebAssembly.instantiateStreaming`, `text/javascript` for module scripts.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "ts" | "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(response[..split].to_vec()).unwrap();
        (head, response[split + 4..].to_vec())
    }

    #[test]
    fn serves_files_documents_and_refuses_traversal() {
        let dir = std::env::temp_dir().join(format!("xtask-serve-{}", std::process::id()));
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(pkg.join("m.wasm"), [0u8, 97, 115, 109]).unwrap();
        std::fs::write(pkg.join("a b.js"), "x").unwrap();
        let site = Site::default()
            .mount("", &dir)
            .mount("/pkg", &pkg)
            .document("/config.json", "application/json", b"{}".to_vec());
        let addr = start(site, 0).unwrap();

        let (head, body) = get(addr, "/");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/html"));
        assert_eq!(body, b"<p>hi</p>");

        let (head, body) = get(addr, "/pkg/m.wasm");
        assert!(head.contains("application/wasm"), "{head}");
        assert_eq!(body, [0u8, 97, 115, 109]);

        let (head, body) = get(addr, "/pkg/a%20b.js?v=1");
        assert!(head.contains("text/javascript"), "{head}");
        assert_eq!(body, b"x");

        let (_, body) = get(addr, "/config.json");
        assert_eq!(body, b"{}");

        let (head, _) = get(addr, "/pkg/../index.html");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let (head, _) = get(addr, "/missing.js");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
