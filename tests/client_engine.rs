//! The client engine against a scripted fake server: linking, login,
//! keepalive, reconnects, logout, and one test per fault
//! (`docs/fault-matrix.md`). The same tests run in the browser (`tests/web`).

mod client_common;
