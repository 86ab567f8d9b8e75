//! Test support for the production relay (`deploy/nginx/wa-relay.conf`).
//!
//! Owns: running that exact configuration with Debian's nginx as an unprivileged,
//! foreground, single process in a temporary prefix on a loopback port
//! ([`NginxRelay`]), and a byte-forwarding tap that records the HTTP request heads the
//! relay sends upstream ([`HeaderTap`]), so a test can see the `Origin` header the
//! server receives. Does not own the client or the server: the tests in `tests/`
//! bring `wa-native` and `wa-sim`.
//!
//! The configuration is rewritten only on the lines it marks `# relay-test: …`
//! (listen address, certificate lines, upstream, allowed page origins); every other
//! line runs as written.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where Debian installs nginx; `NGINX` overrides it.
pub const DEFAULT_NGINX: &str = "/usr/sbin/nginx";

/// The relay configuration shipped in the repository.
pub fn relay_conf_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("nginx")
        .join("wa-relay.conf")
}

/// Why the relay could not be started.
#[derive(Debug)]
pub struct RelayError(pub String);

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RelayError {}

fn error(message: impl Into<String>) -> RelayError {
    RelayError(message.into())
}

/// Rewrites the marked lines of the relay configuration for a loopback test:
/// `listen` → `127.0.0.1:port`, certificate lines dropped, `proxy_pass` → `upstream`
/// (a full URL), allowed origins → exactly `allowed_origin`.
/// Fails if a marker is missing, so the test notices when the file changes shape.
pub fn rewrite_for_test(
    conf: &str,
    port: u16,
    upstream: &str,
    allowed_origin: &str,
) -> Result<String, RelayError> {
    let mut seen = [0usize; 4];
    let mut out = String::new();
    for line in conf.lines() {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let replaced = if line.contains("# relay-test: listen") {
            seen[0] += 1;
            format!("{indent}listen 127.0.0.1:{port};")
        } else if line.contains("# relay-test: drop") {
            seen[1] += 1;
            continue;
        } else if line.contains("# relay-test: upstream") {
            seen[2] += 1;
            format!("{indent}proxy_pass {upstream};")
        } else if line.contains("# relay-test: origins") {
            seen[3] += 1;
            format!("{indent}\"{allowed_origin}\" 1;")
        } else {
            line.to_owned()
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    if seen != [1, 2, 1, 1] {
        return Err(error(format!(
            "wa-relay.conf markers (listen, drop, upstream, origins) found {seen:?} times, expected [1, 2, 1, 1]"
        )));
    }
    Ok(out)
}

/// nginx running the relay configuration in the foreground; stopped when dropped.
#[derive(Debug)]
pub struct NginxRelay {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl NginxRelay {
    /// Starts nginx with `relay_conf` (already rewritten) on `127.0.0.1:port`, in a
    /// fresh temporary prefix, and waits until the port accepts connections.
    pub fn start(relay_conf: &str, port: u16) -> Result<NginxRelay, RelayError> {
        let nginx = std::env::var("NGINX").unwrap_or_else(|_| DEFAULT_NGINX.to_owned());
        if !Path::new(&nginx).exists() {
            return Err(error(format!(
                "{nginx} not found: install Debian's nginx (`cargo xtask setup` does)"
            )));
        }
        let dir = std::env::temp_dir().join(format!("wa-relay-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| error(format!("{}: {e}", dir.display())))?;
        let relay = dir.join("wa-relay.conf");
        std::fs::write(&relay, relay_conf).map_err(|e| error(e.to_string()))?;
        let d = dir.display();
        // One foreground process, no privileged paths: everything lives in the prefix.
        let main_conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/wa-relay.conf;\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main_conf).map_err(|e| error(e.to_string()))?;
        let mut child = Command::new(&nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| error(format!("cannot start {nginx}: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(error(format!(
                    "nginx did not start ({exited:?}); error.log:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(NginxRelay { child, port, dir })
    }

    /// The relay's socket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws/chat", self.port)
    }

    /// nginx's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for NginxRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port (bound, then released for nginx to take).
pub fn free_port() -> Result<u16, RelayError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| error(e.to_string()))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| error(e.to_string()))
}

/// Forwards TCP connections from a loopback port to `upstream`, recording the head
/// (request line and headers) of each connection's first request.
#[derive(Debug, Clone)]
pub struct HeaderTap {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl HeaderTap {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<HeaderTap, RelayError> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| error(e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| error(e.to_string()))?;
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || {
                    let _ = forward(client, upstream, &recorded);
                });
            }
        });
        Ok(HeaderTap { addr, heads })
    }

    /// The tap's address (give it to the relay as upstream).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request heads seen so far, one string each.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// The value of `name` (case-insensitive) in a request head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    heads: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream)?;
    // Read up to the end of the head, record it, pass it on unchanged.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    if let Ok(mut heads) = heads.lock() {
        heads.push(String::from_utf8_lossy(&head).into_owned());
    }
    server.write_all(&head)?;
    let mut client_read = client.try_clone()?;
    let mut server_write = server.try_clone()?;
    let upstream_half = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = upstream_half.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_conf_has_every_marker_and_sets_the_origin() {
        let conf = std::fs::read_to_string(relay_conf_path()).unwrap();
        assert!(conf.contains("proxy_set_header Origin https://web.whatsapp.com;"));
        let test = rewrite_for_test(&conf, 4321, "http://127.0.0.1:9/ws/chat", "http://a").unwrap();
        assert!(test.contains("listen 127.0.0.1:4321;"));
        assert!(test.contains("proxy_pass http://127.0.0.1:9/ws/chat;"));
        assert!(test.contains("\"http://a\" 1;"));
        assert!(!test.contains("ssl_certificate"));
        assert!(!test.contains("listen 443"));
        assert!(rewrite_for_test("server {}", 1, "x", "y").is_err());
    }

    #[test]
    fn header_lookup_ignores_case() {
        let head = "GET / HTTP/1.1\r\nOrigin: https://a\r\nHOST: b\r\n\r\n";
        assert_eq!(header(head, "origin"), Some("https://a"));
        assert_eq!(header(head, "Host"), Some("b"));
        assert_eq!(header(head, "cookie"), None);
    }
}
