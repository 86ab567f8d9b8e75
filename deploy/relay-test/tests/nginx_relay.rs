//! The production relay, run for real: Debian's nginx with `deploy/nginx/wa-relay.conf`
//! in front of wa-sim. A client that presents a web page's origin links by QR through
//! it (including the reconnect after the 515 restart), and the server side of the relay
//! receives `Origin: https://web.whatsapp.com`; pages from other origins are refused.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use wa_native::{Clock, ConnectError, Connection, Connector, Driver, Event};
use wa_relay_test::{HeaderTap, NginxRelay, free_port, header, relay_conf_path, rewrite_for_test};
use wa_sim::{Sim, SimConfig};
use wa_wasm::client::{ClientConfig, ConnectionState};
use wa_wasm::store::{MemoryStore, load_auth};

/// The origin of the page that uses the relay (allowed in the test configuration).
const PAGE_ORIGIN: &str = "http://localhost:8000";
const ME: &str = "15550001000";

/// Opens WebSockets the way a browser page does: with the page's `Origin` header.
struct PageConnector {
    origin: &'static str,
}

impl Connector for PageConnector {
    async fn connect(&mut self, url: &str) -> Result<Connection, ConnectError> {
        let fail = |reason: String| ConnectError {
            url: url.to_owned(),
            reason,
        };
        let mut request = url.into_client_request().map_err(|e| fail(e.to_string()))?;
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_static(self.origin));
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sink, mut stream) = socket.split();
        let (ours, theirs) = Connection::pair();
        let Connection {
            outgoing: to_engine,
            incoming: mut from_engine,
        } = theirs;
        tokio::spawn(async move {
            while let Some(bytes) = from_engine.recv().await {
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let delivered = match message {
                    Message::Binary(bytes) => to_engine.send(bytes.to_vec()).is_ok(),
                    Message::Close(_) => false,
                    _ => true,
                };
                if !delivered {
                    return;
                }
            }
        });
        Ok(ours)
    }
}

struct Setup {
    sim: Sim,
    tap: HeaderTap,
    relay: NginxRelay,
}

async fn setup(seed: u64) -> Setup {
    let sim = Sim::start(SimConfig {
        seed: Some(seed),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let tap = HeaderTap::start(sim.local_addr().unwrap()).unwrap();
    let port = free_port().unwrap();
    let conf = std::fs::read_to_string(relay_conf_path()).unwrap();
    let conf = rewrite_for_test(
        &conf,
        port,
        &format!("http://{}/ws/chat", tap.addr()),
        PAGE_ORIGIN,
    )
    .unwrap();
    let relay = NginxRelay::start(&conf, port).unwrap();
    Setup { sim, tap, relay }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_links_through_the_relay_and_the_server_sees_the_web_origin() {
    let Setup { sim, tap, relay } = setup(41).await;
    let store = MemoryStore::new();
    let auth = load_auth(&store).await.unwrap();
    let config = ClientConfig::new(relay.ws_url(), sim.root_public_key());
    let rng = rand::rngs::StdRng::seed_from_u64(7);
    let connector = PageConnector {
        origin: PAGE_ORIGIN,
    };
    let (driver, handle, mut events) =
        Driver::new(config, auth, store, connector, Clock::system(), rng);
    tokio::spawn(driver.run());
    handle.connect().await.unwrap();

    let mut scanned = false;
    let mut states = Vec::new();
    let linked = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.next().await {
            match event {
                Event::Qr { code, .. } if !scanned => {
                    sim.scan_qr(Some(ME), &code).unwrap();
                    scanned = true;
                }
                Event::Connection(update) => {
                    states.push(update.state);
                    if update.state == ConnectionState::Open {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(
        linked,
        Ok(true),
        "not linked through the relay; states {states:?}\nnginx error.log:\n{}",
        relay.error_log()
    );
    let status = handle.status().await.unwrap();
    assert!(
        format!("{status:?}").contains(&format!("{ME}:")),
        "{status:?}"
    );
    let account = sim.account(ME).unwrap();
    assert!(
        account
            .devices
            .iter()
            .any(|d| d.jid.starts_with(&format!("{ME}:")) && d.connected),
        "{account:?}"
    );

    // Pairing, then the login after the 515 restart: both went through the relay.
    let heads = tap.heads();
    assert!(heads.len() >= 2, "{heads:?}");
    for head in &heads {
        assert!(head.starts_with("GET /ws/chat HTTP/1.1\r\n"), "{head}");
        assert_eq!(
            header(head, "origin"),
            Some("https://web.whatsapp.com"),
            "{head}"
        );
        assert_eq!(header(head, "host"), Some("web.whatsapp.com"), "{head}");
        assert_eq!(
            header(head, "upgrade").map(str::to_ascii_lowercase),
            Some("websocket".to_owned()),
            "{head}"
        );
        assert!(!head.contains(PAGE_ORIGIN), "{head}");
    }
    handle.disconnect().await.unwrap();
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_from_other_origins_are_refused() {
    let Setup { sim, tap, relay } = setup(42).await;
    for origin in [Some("https://elsewhere.example"), None] {
        let mut request = relay.ws_url().into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_static(origin));
        }
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 403, "{origin:?}");
            }
            other => panic!("{origin:?}: expected 403, got {other:?}"),
        }
    }
    assert!(tap.heads().is_empty(), "{:?}", tap.heads());
    sim.shutdown();
}
