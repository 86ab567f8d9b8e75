//! The in-memory link between a client and the simulator, for in-process tests.
//!
//! Owns [`LocalLink`] (the client's end: a byte sender and a byte receiver) and the
//! server's end that the connection task reads. Either side closing is seen by the other
//! as a closed socket: dropping or [`close`](LocalLink::close)-ing the client end ends
//! the server's connection; the server closing makes [`recv`](LocalLink::recv) return
//! `None` and [`send`](LocalLink::send) fail. Chunks carry WA frames exactly as a
//! WebSocket's binary messages would (frames may be split or merged).

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// The peer closed the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("link closed")]
pub struct LinkClosed;

/// The client's end of an in-memory connection to the simulator.
#[derive(Debug)]
pub struct LocalLink {
    sender: LinkSender,
    receiver: LinkReceiver,
}

/// The sending half of a [`LocalLink`] (client → server).
#[derive(Debug, Clone)]
pub struct LinkSender {
    to_server: Option<UnboundedSender<Vec<u8>>>,
}

/// The receiving half of a [`LocalLink`] (server → client).
#[derive(Debug)]
pub struct LinkReceiver {
    from_server: UnboundedReceiver<Vec<u8>>,
}

/// The server's end: what the connection task reads and writes.
#[derive(Debug)]
pub(crate) struct ServerEnd {
    pub(crate) inbound: UnboundedReceiver<Vec<u8>>,
    pub(crate) outbound: UnboundedSender<Vec<u8>>,
}

/// A connected pair: the client end and the server end.
pub(crate) fn pair() -> (LocalLink, ServerEnd) {
    let (to_server, inbound) = mpsc::unbounded_channel();
    let (outbound, from_server) = mpsc::unbounded_channel();
    (
        LocalLink {
            sender: LinkSender {
                to_server: Some(to_server),
            },
            receiver: LinkReceiver { from_server },
        },
        ServerEnd { inbound, outbound },
    )
}

impl LocalLink {
    /// Sends one chunk of bytes to the server.
    pub fn send(&self, bytes: impl Into<Vec<u8>>) -> Result<(), LinkClosed> {
        self.sender.send(bytes)
    }

    /// The next chunk from the server; `None` once the server closed the link.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.receiver.recv().await
    }

    /// A chunk if one is waiting; `Err` once the server closed the link.
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, LinkClosed> {
        self.receiver.try_recv()
    }

    /// Closes the client → server direction: the server sees the socket close.
    pub fn close(&mut self) {
        self.sender.close();
    }

    /// Separates the two directions (e.g. for a reader task and a writer).
    pub fn split(self) -> (LinkSender, LinkReceiver) {
        (self.sender, self.receiver)
    }
}

impl LinkSender {
    /// Sends one chunk of bytes to the server.
    pub fn send(&self, bytes: impl Into<Vec<u8>>) -> Result<(), LinkClosed> {
        let sender = self.to_server.as_ref().ok_or(LinkClosed)?;
        sender.send(bytes.into()).map_err(|_| LinkClosed)
    }

    /// Closes this sender. The server sees the socket close once every clone is closed
    /// or dropped.
    pub fn close(&mut self) {
        self.to_server = None;
    }

    /// Whether the server end is gone.
    pub fn is_closed(&self) -> bool {
        self.to_server
            .as_ref()
            .is_none_or(UnboundedSender::is_closed)
    }
}

impl LinkReceiver {
    /// The next chunk from the server; `None` once the server closed the link.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.from_server.recv().await
    }

    /// A chunk if one is waiting; `Err` once the server closed the link and
    /// everything it sent was read.
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, LinkClosed> {
        match self.from_server.try_recv() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(LinkClosed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_is_seen_both_ways() {
        let (mut client, mut server) = pair();
        client.send(vec![1, 2]).unwrap();
        assert_eq!(server.inbound.recv().await, Some(vec![1, 2]));
        server.outbound.send(vec![3]).unwrap();
        assert_eq!(client.recv().await, Some(vec![3]));

        client.close();
        assert_eq!(server.inbound.recv().await, None);
        assert_eq!(client.send(vec![4]), Err(LinkClosed));

        drop(server);
        assert_eq!(client.recv().await, None);
        assert_eq!(client.try_recv(), Err(LinkClosed));
    }
}
