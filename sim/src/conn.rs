//! One client connection: the Noise responder, framing, and the loop that feeds decoded
//! stanzas to the handlers and writes what they answer.
//!
//! Owns the connection task ([`serve`]), generic over the transport: it reads byte
//! chunks from one channel and writes byte chunks to another, so a WebSocket (see
//! `http`) and an in-memory [`crate::LocalLink`] share every line of it. Faults that act
//! on the wire (handshake closes, dropped/delayed acks, corrupted or truncated frames,
//! black holes) are applied here.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, sleep_until, timeout_at};
use wa_wasm::binary::{Node, pack, unpack};
use wa_wasm::noise::{FrameDecoder, ServerHandshake, TransportSender};

use crate::api::{HandshakeStage, SimEvent};
use crate::link::ServerEnd;
use crate::pairing::PairStage;
use crate::sim::Shared;
use crate::stanza;
use crate::world::{AckFault, ConnCommand, ConnEntry, ConnState, FrameFault};

/// Runs one connection until either side closes it.
pub(crate) async fn serve(shared: Arc<Shared>, end: ServerEnd, transport: &'static str) {
    let ServerEnd {
        mut inbound,
        outbound,
    } = end;
    let (tx, mut commands) = mpsc::unbounded_channel();
    let (conn, fault, rng) = {
        let mut world = shared.lock();
        let conn = world.next_conn;
        world.next_conn = world.next_conn.saturating_add(1);
        world.conns.insert(
            conn,
            ConnEntry {
                tx: tx.clone(),
                transport,
                state: ConnState::Handshake,
            },
        );
        world.emit(SimEvent::ConnectionOpened {
            connection: conn,
            transport: transport.to_owned(),
        });
        let fault = world.faults.handshake_close.pop_front();
        let rng = StdRng::from_rng(&mut world.rng);
        (conn, fault, rng)
    };
    tracing::debug!(conn, transport, "connection opened");
    let mut session = Session {
        shared: shared.clone(),
        conn,
        outbound,
        tx,
        sender: None,
    };
    let reason = session.run(&mut inbound, &mut commands, fault, rng).await;
    drop(session);

    let mut world = shared.lock();
    let device = world.conn_device(conn);
    world.conns.remove(&conn);
    if let Some(device) = &device
        && world.online.get(device) == Some(&conn)
    {
        world.online.remove(device);
    }
    world.pairings.remove(&conn);
    tracing::info!(conn, device = ?device.as_ref().map(ToString::to_string), %reason, "connection closed");
    world.emit(SimEvent::ConnectionClosed {
        connection: conn,
        device: device.map(|d| d.pn_jid().to_string()),
        reason,
    });
}

struct Session {
    shared: Arc<Shared>,
    conn: u64,
    outbound: UnboundedSender<Vec<u8>>,
    tx: UnboundedSender<ConnCommand>,
    sender: Option<TransportSender>,
}

/// Why waiting for a handshake frame ended.
async fn read_frame(
    inbound: &mut UnboundedReceiver<Vec<u8>>,
    decoder: &mut FrameDecoder,
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    loop {
        if let Some(frame) = decoder.next_frame() {
            return Ok(frame);
        }
        match timeout_at(deadline, inbound.recv()).await {
            Err(_) => return Err("handshake timed out".to_owned()),
            Ok(None) => return Err("client closed during the handshake".to_owned()),
            Ok(Some(chunk)) => decoder
                .push(&chunk)
                .map_err(|e| format!("bad handshake framing: {e}"))?,
        }
    }
}

impl Session {
    async fn run(
        &mut self,
        inbound: &mut UnboundedReceiver<Vec<u8>>,
        commands: &mut UnboundedReceiver<ConnCommand>,
        fault: Option<HandshakeStage>,
        mut rng: StdRng,
    ) -> String {
        let (identity, handshake_timeout) = {
            let world = self.shared.lock();
            (world.identity.clone(), self.shared.handshake_timeout)
        };
        let deadline = Instant::now() + handshake_timeout;
        let mut decoder = FrameDecoder::expecting_intro();

        let hello = match read_frame(inbound, &mut decoder, deadline).await {
            Ok(frame) => frame,
            Err(reason) => return reason,
        };
        if fault == Some(HandshakeStage::ClientHello) {
            return "closed on ClientHello (fault)".to_owned();
        }
        let responder =
            ServerHandshake::new(identity.noise_static().clone(), identity.chain().to_vec());
        let (awaiting, server_hello) = match responder.read_client_hello(&hello, &mut rng) {
            Ok(next) => next,
            Err(err) => return format!("bad ClientHello: {err}"),
        };
        if self.outbound.send(server_hello).is_err() {
            return "client gone".to_owned();
        }
        if fault == Some(HandshakeStage::ServerHello) {
            return "closed after ServerHello (fault)".to_owned();
        }
        let finish = match read_frame(inbound, &mut decoder, deadline).await {
            Ok(frame) => frame,
            Err(reason) => return reason,
        };
        if fault == Some(HandshakeStage::ClientFinish) {
            return "closed on ClientFinish (fault)".to_owned();
        }
        let finished = match awaiting.read_client_finish(&finish) {
            Ok(finished) => finished,
            Err(err) => return format!("bad ClientFinish: {err}"),
        };
        let (sender, mut receiver) = finished.transport.split();
        self.sender = Some(sender);
        let pairing = {
            let mut world = self.shared.lock();
            stanza::on_handshake(
                &mut world,
                self.conn,
                finished.client_static,
                &finished.client_payload,
            )
        };
        let mut pairing_deadline = pairing.then(|| {
            let total = self.shared.lock().timings.total();
            Instant::now() + total
        });

        loop {
            let wake =
                pairing_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else {
                        return "internal: command channel closed".to_owned();
                    };
                    if let Some(reason) = self.execute(command) {
                        return reason;
                    }
                }
                chunk = inbound.recv() => {
                    let Some(chunk) = chunk else {
                        return "client closed the socket".to_owned();
                    };
                    if let Err(err) = decoder.push(&chunk) {
                        tracing::warn!(conn = self.conn, %err, "framing error: closing");
                        return format!("framing error: {err}");
                    }
                    while let Some(frame) = decoder.next_frame() {
                        let black_holed = {
                            let world = self.shared.lock();
                            world.faults.black_holed(world.conn_device(self.conn).as_ref())
                        };
                        if black_holed {
                            // Keep the cipher in step so the connection can recover
                            // when the fault is cleared.
                            let _ = receiver.decrypt(&frame);
                            continue;
                        }
                        let plaintext = match receiver.decrypt(&frame) {
                            Ok(plaintext) => plaintext,
                            Err(err) => {
                                tracing::warn!(conn = self.conn, %err, "undecryptable frame: closing");
                                return format!("undecryptable frame: {err}");
                            }
                        };
                        match unpack(&plaintext) {
                            Ok(node) => {
                                tracing::trace!(conn = self.conn, "recv {node}");
                                let mut world = self.shared.lock();
                                stanza::handle(&mut world, self.conn, node);
                            }
                            Err(err) => {
                                tracing::warn!(conn = self.conn, %err, "malformed stanza: stream error");
                                {
                                    let mut world = self.shared.lock();
                                    world.emit(SimEvent::StanzaRejected {
                                        connection: self.conn,
                                        reason: format!("malformed stanza: {err}"),
                                    });
                                }
                                let error = Node::new("stream:error")
                                    .children([Node::new("xml-not-well-formed")]);
                                let _ = self.write(&error);
                                return format!("malformed stanza: {err}");
                            }
                        }
                    }
                }
                () = sleep_until(wake), if pairing_deadline.is_some() => {
                    let waiting = {
                        let world = self.shared.lock();
                        world
                            .pairings
                            .get(&self.conn)
                            .is_some_and(|p| matches!(p.stage, PairStage::AwaitingPhone))
                    };
                    if waiting {
                        return "QR references ran out".to_owned();
                    }
                    pairing_deadline = None;
                }
            }
        }
    }

    /// Carries out a command; returns a close reason when the connection must end.
    fn execute(&mut self, command: ConnCommand) -> Option<String> {
        match command {
            ConnCommand::Send(node) => self.write(&node).err(),
            ConnCommand::Ack(node) => {
                let fault = {
                    let mut world = self.shared.lock();
                    let device = world.conn_device(self.conn);
                    world.faults.take_ack_fault(device.as_ref())
                };
                match fault {
                    Some(AckFault::Drop) => {
                        tracing::info!(conn = self.conn, "dropping an ack (fault)");
                        None
                    }
                    Some(AckFault::Delay(ms)) => {
                        tracing::info!(conn = self.conn, ms, "delaying an ack (fault)");
                        let tx = self.tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            let _ = tx.send(ConnCommand::Send(node));
                        });
                        None
                    }
                    None => self.write(&node).err(),
                }
            }
            ConnCommand::Close {
                stream_error,
                reason,
            } => {
                if let Some(node) = stream_error {
                    let _ = self.write(&node);
                }
                if let Some(entry) = self.shared.lock().conns.get_mut(&self.conn) {
                    entry.state = ConnState::Closing;
                }
                Some(reason)
            }
        }
    }

    /// Encrypts and writes one stanza, applying frame faults.
    fn write(&mut self, node: &Node) -> Result<(), String> {
        let (black_holed, fault) = {
            let mut world = self.shared.lock();
            let device = world.conn_device(self.conn);
            let black_holed = world.faults.black_holed(device.as_ref());
            let fault = if black_holed {
                None
            } else {
                world.faults.take_frame_fault(device.as_ref())
            };
            (black_holed, fault)
        };
        if black_holed {
            return Ok(());
        }
        tracing::trace!(conn = self.conn, "send {node}");
        let payload = pack(node).map_err(|e| format!("cannot encode a stanza: {e}"))?;
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| "no transport yet".to_owned())?;
        let mut frame = sender
            .encrypt_frame(&payload)
            .map_err(|e| format!("cannot encrypt a frame: {e}"))?;
        match fault {
            Some(FrameFault::Corrupt) => {
                tracing::info!(conn = self.conn, "corrupting a frame (fault)");
                if let Some(byte) = frame.last_mut() {
                    *byte ^= 0x80;
                }
            }
            Some(FrameFault::Truncate) => {
                tracing::info!(conn = self.conn, "truncating a frame and closing (fault)");
                frame.truncate(frame.len() / 2);
                let _ = self.outbound.send(frame);
                return Err("truncated a frame (fault)".to_owned());
            }
            None => {}
        }
        self.outbound
            .send(frame)
            .map_err(|_| "client gone".to_owned())
    }
}
