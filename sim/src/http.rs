//! The HTTP side of the simulator's one port: the WebSocket at `/ws/chat`, the JSON
//! control API under `/control` (CORS `*`, so a demo page can call it), and the media
//! endpoints (`POST /mms/<type>/<token>`, `GET /v/…`).
//!
//! Owns the routes and the WebSocket ⇄ connection-task adapter; every control route
//! is a thin wrapper over a [`Sim`] method.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use futures_util::{SinkExt, StreamExt};
use rand_core::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tower_http::cors::CorsLayer;
use wa_wasm::media::MediaType;

use crate::api::{ContactBehaviour, FaultRequest, NewAccount, NewGroup, SendRequest};
use crate::conn;
use crate::link::ServerEnd;
use crate::sim::{Sim, SimError};

/// Every control endpoint, one per line (`wa-sim --help` and `GET /` show it).
pub const CONTROL_ENDPOINTS: &str = "\
GET  /ws/chat                           WebSocket for clients (binary WA frames)
GET  /control/info                      {ws, root, control, media_host}
GET  /control/accounts                  accounts with their devices
POST /control/accounts                  {phone?, name?, devices?} -> account
GET  /control/accounts/{phone}          one account
GET  /control/accounts/{phone}/received messages its simulated devices decrypted
GET  /control/accounts/{phone}/receipts receipts clients sent for its messages
POST /control/accounts/{phone}/behaviour {drop_next?, corrupt_next?, corrupt_outgoing_next?, auto_read?}
GET  /control/connections               live connections
GET  /control/pairings                  registration connections and their QR refs
POST /control/scan-qr                   {qr, phone?} the phone scans a QR string
POST /control/pairing-code              {phone, code} the phone takes a pairing code
POST /control/messages                  {from, to, text?, document?{file_name, mimetype?, data_base64, caption?}}
GET  /control/groups                    groups
POST /control/groups                    {subject, creator, participants[]}
POST /control/unlink                    {jid} unlink a device (stream:error 401 device_removed)
POST /control/faults                    {kind, target?, ...} kinds: close_now, close_at_handshake{step},
                                        stream_error{code}, failure_at_next_login{reason},
                                        drop_acks{count}, delay_acks{ms,count}, corrupt_next_frame,
                                        truncate_next_frame, black_hole, clear
POST /control/restart                   restart the server (accounts kept)
GET  /control/events?since=N            event log after sequence N
POST /mms/{type}/{token}?auth=..        media upload (encrypted blob; token = base64url sha256)
GET  /v/{path}                          media download by direct path";

/// The router for a running simulator.
pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ws/chat", get(ws_upgrade))
        .route("/control/info", get(info))
        .route("/control/accounts", get(accounts).post(create_account))
        .route("/control/accounts/{phone}", get(account))
        .route("/control/accounts/{phone}/received", get(received))
        .route("/control/accounts/{phone}/receipts", get(receipts))
        .route("/control/accounts/{phone}/behaviour", post(behaviour))
        .route("/control/connections", get(connections))
        .route("/control/pairings", get(pairings))
        .route("/control/scan-qr", post(scan_qr))
        .route("/control/pairing-code", post(pairing_code))
        .route("/control/messages", post(send_message))
        .route("/control/groups", get(groups).post(create_group))
        .route("/control/unlink", post(unlink))
        .route("/control/faults", post(fault))
        .route("/control/restart", post(restart))
        .route("/control/events", get(events))
        .route("/mms/{kind}/{token}", post(upload))
        .route("/v/{*path}", get(download))
        .layer(CorsLayer::permissive())
        .with_state(sim)
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match &self {
            SimError::NotFound(_) => StatusCode::NOT_FOUND,
            SimError::Io(_) | SimError::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
            SimError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

async fn index() -> String {
    format!("wa-sim: a simulated WhatsApp Web server\n\n{CONTROL_ENDPOINTS}\n")
}

async fn ws_upgrade(ws: WebSocketUpgrade, State(sim): State<Sim>) -> Response {
    ws.max_message_size(32 << 20)
        .on_upgrade(move |socket| serve_websocket(sim, socket))
}

/// Bridges a WebSocket to a connection task through two byte channels.
async fn serve_websocket(sim: Sim, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (to_conn, inbound) = mpsc::unbounded_channel::<Vec<u8>>();
    let (outbound, mut from_conn) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(conn::serve(
        sim.shared().clone(),
        ServerEnd { inbound, outbound },
        "ws",
    ));
    let reader = tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            match message {
                Ok(WsMessage::Binary(bytes)) => {
                    if to_conn.send(bytes.to_vec()).is_err() {
                        break;
                    }
                }
                Ok(WsMessage::Close(_)) | Err(_) => break,
                // Text, ping and pong frames carry no WA data.
                Ok(_) => {}
            }
        }
    });
    while let Some(bytes) = from_conn.recv().await {
        if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    reader.abort();
}

async fn info(State(sim): State<Sim>) -> Json<serde_json::Value> {
    Json(json!({
        "ws": sim.ws_url(),
        "root": sim.root_public_key_hex(),
        "control": sim.control_url(),
        "media_host": sim.local_addr().map(|a| a.to_string()),
    }))
}

async fn accounts(State(sim): State<Sim>) -> impl IntoResponse {
    Json(sim.accounts())
}

async fn create_account(
    State(sim): State<Sim>,
    Json(request): Json<NewAccount>,
) -> Result<impl IntoResponse, SimError> {
    Ok((StatusCode::CREATED, Json(sim.create_account(request)?)))
}

async fn account(
    State(sim): State<Sim>,
    Path(phone): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    sim.account(&phone)
        .map(Json)
        .ok_or(SimError::NotFound(format!("account {phone}")))
}

async fn received(State(sim): State<Sim>, Path(phone): Path<String>) -> impl IntoResponse {
    Json(sim.received(&phone))
}

async fn receipts(State(sim): State<Sim>, Path(phone): Path<String>) -> impl IntoResponse {
    Json(sim.receipts(&phone))
}

async fn behaviour(
    State(sim): State<Sim>,
    Path(phone): Path<String>,
    Json(request): Json<ContactBehaviour>,
) -> Result<impl IntoResponse, SimError> {
    sim.set_behaviour(&phone, request)?;
    Ok(Json(json!({ "ok": true })))
}

async fn connections(State(sim): State<Sim>) -> impl IntoResponse {
    Json(sim.connections())
}

async fn pairings(State(sim): State<Sim>) -> impl IntoResponse {
    Json(sim.pairings())
}

#[derive(Debug, Deserialize)]
struct ScanRequest {
    qr: String,
    #[serde(default)]
    phone: Option<String>,
}

async fn scan_qr(
    State(sim): State<Sim>,
    Json(request): Json<ScanRequest>,
) -> Result<impl IntoResponse, SimError> {
    let jid = sim.scan_qr(request.phone.as_deref(), &request.qr)?;
    Ok(Json(json!({ "jid": jid })))
}

#[derive(Debug, Deserialize)]
struct CodeRequest {
    phone: String,
    code: String,
}

async fn pairing_code(
    State(sim): State<Sim>,
    Json(request): Json<CodeRequest>,
) -> Result<impl IntoResponse, SimError> {
    sim.enter_pairing_code(&request.phone, &request.code)?;
    Ok(Json(json!({ "ok": true })))
}

async fn send_message(
    State(sim): State<Sim>,
    Json(request): Json<SendRequest>,
) -> Result<impl IntoResponse, SimError> {
    Ok(Json(sim.send(request)?))
}

async fn groups(State(sim): State<Sim>) -> impl IntoResponse {
    Json(sim.groups())
}

async fn create_group(
    State(sim): State<Sim>,
    Json(request): Json<NewGroup>,
) -> Result<impl IntoResponse, SimError> {
    Ok((StatusCode::CREATED, Json(sim.create_group(request)?)))
}

#[derive(Debug, Deserialize)]
struct UnlinkRequest {
    jid: String,
}

async fn unlink(
    State(sim): State<Sim>,
    Json(request): Json<UnlinkRequest>,
) -> Result<impl IntoResponse, SimError> {
    sim.unlink(&request.jid)?;
    Ok(Json(json!({ "ok": true })))
}

async fn fault(
    State(sim): State<Sim>,
    Json(request): Json<FaultRequest>,
) -> Result<impl IntoResponse, SimError> {
    sim.inject(request)?;
    Ok(Json(json!({ "ok": true })))
}

async fn restart(State(sim): State<Sim>) -> Result<impl IntoResponse, SimError> {
    sim.restart().await?;
    Ok(Json(json!({ "ok": true })))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    #[serde(default)]
    since: u64,
}

async fn events(State(sim): State<Sim>, Query(query): Query<EventsQuery>) -> impl IntoResponse {
    Json(sim.events_since(query.since))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    #[serde(default)]
    auth: Option<String>,
}

async fn upload(
    State(sim): State<Sim>,
    Path((kind, token)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<impl IntoResponse, SimError> {
    if query.auth.as_deref().is_none_or(str::is_empty) {
        return Err(SimError::BadRequest("missing auth".to_owned()));
    }
    if MediaType::from_mms_type(&kind).is_none() && kind != "thumbnail-link" {
        return Err(SimError::BadRequest(format!("unknown media type {kind}")));
    }
    let hash = Sha256::digest(&body);
    let trimmed = token.trim_end_matches('=');
    let matches = URL_SAFE_NO_PAD.encode(hash) == trimmed || URL_SAFE.encode(hash) == token;
    if !matches {
        return Err(SimError::BadRequest(
            "token is not the base64url SHA-256 of the body".to_owned(),
        ));
    }
    let shared = sim.shared().clone();
    let mut world = shared.lock();
    let mut id = [0u8; 16];
    world.rng.fill_bytes(&mut id);
    let id = hex::encode(id);
    let direct_path = format!("/v/t62.7119-24/{id}?ccb=11-4");
    let url = format!("http://{}{}", world.media_host, direct_path);
    world.media.insert(id, body.to_vec());
    world.dirty = true;
    Ok(Json(json!({ "url": url, "direct_path": direct_path })))
}

async fn download(State(sim): State<Sim>, Path(path): Path<String>) -> Response {
    let id = path.rsplit('/').next().unwrap_or_default();
    let blob = sim.shared().lock().media.get(id).cloned();
    match blob {
        Some(blob) => (StatusCode::OK, blob).into_response(),
        None => (StatusCode::NOT_FOUND, "no such media").into_response(),
    }
}
