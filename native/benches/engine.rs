//! Placeholder until the in-process simulator exists; see `tests/`.
fn main() {}
