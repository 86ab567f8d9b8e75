//! Generated protobuf types (from `proto/*.proto`, compiled by `build.rs`).
//!
//! Private to the crate: public APIs expose typed wrappers instead, so the
//! schema can change without breaking users.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

pub(crate) mod wa {
    include!(concat!(env!("OUT_DIR"), "/wa.rs"));
}

pub(crate) mod signal {
    include!(concat!(env!("OUT_DIR"), "/signal.rs"));
}

pub(crate) mod store {
    include!(concat!(env!("OUT_DIR"), "/store.rs"));
}
