//! The sans-IO client engine.
//!
//! The engine will live here: connection state machine, pairing, login,
//! keepalive, IQ tracking, send/receive, receipts and retries. It takes bytes,
//! `now` and an RNG in, and hands back frames to send, timers, events and
//! `Changes` to persist; the shell does every I/O.
//!
//! For now it holds the reconnect [`policy`]: how every way a connection can end
//! maps to "restart now", "back off and retry" or "stop", as a pure function.

pub mod policy;
