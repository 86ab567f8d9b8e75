//! IQ requests and their answers: ids, the table of requests waiting for an
//! answer, deadlines, and the typed error a request ends with.
//!
//! Ids follow whatsmeow (`"<b1>.<b2>-<counter>"`, two random bytes as
//! decimal, facts §6). An answer is an `iq` (or, for pings, an `ack`) with the
//! request's id; `type="error"` carries `<error code text/>`.

use rand_core::CryptoRng;

use crate::binary::{Node, NodeError};

/// Why an IQ request has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IqError {
    /// No answer before the deadline.
    #[error("no answer within {timeout_ms} ms")]
    Timeout {
        /// How long the request waited.
        timeout_ms: u64,
    },
    /// The server answered `type="error"`.
    #[error("server error {code}: {text}")]
    Server {
        /// The `code` of `<error>` (0 when absent or not a number).
        code: u16,
        /// The `text` of `<error>`.
        text: String,
    },
    /// The connection ended before the answer.
    #[error("the connection closed before the answer")]
    Disconnected,
    /// The answer lacks what the request needs.
    #[error("malformed answer: {0}")]
    Malformed(#[from] NodeError),
}

/// The id of an application query ([`super::Client::query`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Reads an `iq` answer: `Ok(node)` for `type="result"`, the server's error otherwise.
pub(crate) fn parse_answer(node: Node) -> Result<Node, IqError> {
    match node.str_attr("type") {
        Some("error") => {
            let (code, text) = node
                .child("error")
                .map(|error| {
                    (
                        error
                            .str_attr("code")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0),
                        error.str_attr("text").unwrap_or_default().to_owned(),
                    )
                })
                .unwrap_or((0, String::new()));
            Err(IqError::Server { code, text })
        }
        _ => Ok(node),
    }
}

/// One request waiting for its answer.
#[derive(Debug)]
struct Pending<P> {
    id: String,
    purpose: P,
    sent_at: u64,
    deadline: u64,
}

/// The requests of one connection that wait for an answer, with what each is for.
#[derive(Debug)]
pub(crate) struct IqTracker<P> {
    prefix: String,
    counter: u64,
    pending: Vec<Pending<P>>,
}

impl<P> IqTracker<P> {
    /// A tracker with a fresh random id prefix.
    pub(crate) fn new(rng: &mut impl CryptoRng) -> Self {
        let mut random = [0u8; 2];
        rng.fill_bytes(&mut random);
        let [a, b] = random;
        Self {
            prefix: format!("{a}.{b}-"),
            counter: 0,
            pending: Vec::new(),
        }
    }

    /// A new request id.
    pub(crate) fn next_id(&mut self) -> String {
        self.counter = self.counter.saturating_add(1);
        format!("{}{}", self.prefix, self.counter)
    }

    /// Records that `id` was sent at `now` for `purpose`, answered by `deadline`.
    pub(crate) fn track(&mut self, id: String, purpose: P, now: u64, deadline: u64) {
        self.pending.push(Pending {
            id,
            purpose,
            sent_at: now,
            deadline,
        });
    }

    /// Takes the request `id` answers, if it is waiting.
    pub(crate) fn resolve(&mut self, id: &str) -> Option<P> {
        let at = self.pending.iter().position(|p| p.id == id)?;
        Some(self.pending.remove(at).purpose)
    }

    /// Takes every request whose deadline passed at `now`, with how long it waited.
    pub(crate) fn expire(&mut self, now: u64) -> Vec<(P, u64)> {
        let mut expired = Vec::new();
        let mut index = 0;
        while index < self.pending.len() {
            if self.pending.get(index).is_some_and(|p| p.deadline <= now) {
                let pending = self.pending.remove(index);
                expired.push((pending.purpose, now.saturating_sub(pending.sent_at)));
            } else {
                index = index.saturating_add(1);
            }
        }
        expired
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// Takes every waiting request (the connection ended).
    pub(crate) fn drain(&mut self) -> Vec<P> {
        self.pending.drain(..).map(|p| p.purpose).collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn ids_have_a_random_prefix_and_a_counter() {
        let mut tracker: IqTracker<u8> = IqTracker::new(&mut StdRng::seed_from_u64(1));
        let first = tracker.next_id();
        let second = tracker.next_id();
        let (prefix, counter) = first.rsplit_once('-').unwrap();
        assert_eq!(counter, "1");
        assert_eq!(second, format!("{prefix}-2"));
        let (a, b) = prefix.split_once('.').unwrap();
        assert!(a.parse::<u8>().is_ok() && b.parse::<u8>().is_ok());
        let other: IqTracker<u8> = IqTracker::new(&mut StdRng::seed_from_u64(2));
        assert_ne!(other.prefix, tracker.prefix);
    }

    #[test]
    fn resolve_expire_and_drain() {
        let mut tracker = IqTracker::new(&mut StdRng::seed_from_u64(3));
        tracker.track("a".into(), 1u8, 0, 100);
        tracker.track("b".into(), 2u8, 10, 50);
        tracker.track("c".into(), 3u8, 20, 200);
        assert_eq!(tracker.next_deadline(), Some(50));
        assert_eq!(tracker.resolve("x"), None);
        assert_eq!(tracker.resolve("a"), Some(1));
        assert_eq!(tracker.resolve("a"), None);
        assert_eq!(tracker.expire(49), vec![]);
        assert_eq!(tracker.expire(60), vec![(2, 50)]);
        assert_eq!(tracker.next_deadline(), Some(200));
        assert_eq!(tracker.drain(), vec![3]);
        assert_eq!(tracker.next_deadline(), None);
    }

    #[test]
    fn answers() {
        let ok = Node::new("iq").attr("type", "result").attr("id", "1");
        assert_eq!(parse_answer(ok.clone()), Ok(ok));
        let error = Node::new("iq")
            .attr("type", "error")
            .children([Node::new("error")
                .attr("code", "404")
                .attr("text", "item-not-found")]);
        assert_eq!(
            parse_answer(error),
            Err(IqError::Server {
                code: 404,
                text: "item-not-found".into()
            })
        );
        let bare = Node::new("iq").attr("type", "error");
        assert_eq!(
            parse_answer(bare),
            Err(IqError::Server {
                code: 0,
                text: String::new()
            })
        );
    }
}
