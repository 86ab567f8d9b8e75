//! Integration tests for `wa_wasm::binary`: known answers, vectors from an independent
//! encoder (Baileys), property tests, a bad-input corpus and the shared stanza corpus.
// proptest is a native-only dev-dependency.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod baileys;
mod corpus;
mod known_answers;
mod props;

/// Lines of a `name hex` data file (blank lines and `#` comments skipped).
pub fn read_vectors(text: &str) -> Vec<(&str, Vec<u8>)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, hex) = line.split_once(' ').expect("`name hex` line");
            (name, hex::decode(hex.trim()).expect("hex"))
        })
        .collect()
}

/// Parses spaced hex as written in the tables below.
pub fn h(hex: &str) -> Vec<u8> {
    hex::decode(hex.replace([' ', '\n'], "")).expect("hex literal")
}
