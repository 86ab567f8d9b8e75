//! Sockets as two byte channels, and the connectors that open them.

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// One socket: bytes out, bytes in. Dropping `outgoing` closes it; `incoming`
/// ending (`None`) means the other side closed it.
#[derive(Debug)]
pub struct Connection {
    /// Bytes to the server, one WebSocket message each.
    pub outgoing: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes from the server, as they arrive.
    pub incoming: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Connection {
    /// Two connected ends of an in-memory link: what one end sends, the other
    /// receives; dropping one end closes the other's `incoming`.
    pub fn pair() -> (Connection, Connection) {
        let (a_tx, a_rx) = mpsc::unbounded_channel();
        let (b_tx, b_rx) = mpsc::unbounded_channel();
        (
            Connection {
                outgoing: a_tx,
                incoming: b_rx,
            },
            Connection {
                outgoing: b_tx,
                incoming: a_rx,
            },
        )
    }
}

/// Why a socket could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot connect to {url}: {reason}")]
pub struct ConnectError {
    /// Where.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// Opens sockets for the driver.
#[allow(async_fn_in_trait)]
pub trait Connector {
    /// Opens a connection to `url`.
    async fn connect(&mut self, url: &str) -> Result<Connection, ConnectError>;
}

/// Any closure that returns a connection at once (in-memory links).
impl<F> Connector for F
where
    F: FnMut(&str) -> Result<Connection, ConnectError>,
{
    async fn connect(&mut self, url: &str) -> Result<Connection, ConnectError> {
        self(url)
    }
}

/// Opens WebSocket connections (`ws://`; binary messages) with tokio-tungstenite.
/// Two tasks move the bytes between the socket and the [`Connection`]'s channels.
#[derive(Debug, Clone, Copy, Default)]
pub struct WsConnector;

impl Connector for WsConnector {
    async fn connect(&mut self, url: &str) -> Result<Connection, ConnectError> {
        let (socket, _) =
            tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| ConnectError {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
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
            while let Some(message) = stream.next().await {
                match message {
                    Ok(Message::Binary(bytes)) => {
                        if to_engine.send(bytes.to_vec()).is_err() {
                            return;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        Ok(ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pair_delivers_and_closes() {
        let (mut a, mut b) = Connection::pair();
        a.outgoing.send(vec![1, 2]).unwrap();
        assert_eq!(b.incoming.recv().await, Some(vec![1, 2]));
        b.outgoing.send(vec![3]).unwrap();
        assert_eq!(a.incoming.recv().await, Some(vec![3]));
        drop(a);
        assert_eq!(b.incoming.recv().await, None);
    }

    #[tokio::test]
    async fn closures_connect() {
        let mut connector = |_: &str| Ok(Connection::pair().0);
        assert!(connector.connect("mem://").await.is_ok());
        let mut refusing = |url: &str| {
            Err(ConnectError {
                url: url.to_owned(),
                reason: "down".into(),
            })
        };
        assert_eq!(
            refusing.connect("mem://x").await.unwrap_err().to_string(),
            "cannot connect to mem://x: down"
        );
    }
}
