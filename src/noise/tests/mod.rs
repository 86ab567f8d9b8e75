//! Tests across the handshake, certificate and transport code.
//!
//! `kat`: fixed-key vectors (computed with the independent `snow` crate);
//! `snow_interop`: our initiator/responder against `snow`'s;
//! `roundtrip`: our two roles against each other;
//! `bad_input`: one typed error per kind of bad input.

mod bad_input;
mod kat;
mod roundtrip;
#[cfg(not(target_arch = "wasm32"))]
mod snow_interop;

use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

use super::*;
use crate::crypto::{KeyPair, PrivateKey};

/// A deterministic "random" source that counts up from a start byte, so the
/// XEdDSA signatures in the fixture chain are fixed.
pub(super) struct CountingRng(pub u8);

impl TryRng for CountingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

impl TryCryptoRng for CountingRng {}

/// A key pair whose private key is 32 copies of `byte` (clamped).
pub(super) fn key(byte: u8) -> KeyPair {
    KeyPair::from_private(PrivateKey::from_bytes([byte; 32]))
}

/// Unix time at which the fixture chain is checked.
pub(super) const NOW: u64 = 1_750_000_000;

/// The fixed keys and certificate chain used throughout.
pub(super) struct Fixture {
    pub client_static: KeyPair,
    pub client_ephemeral: KeyPair,
    pub server_static: KeyPair,
    pub server_ephemeral: KeyPair,
    pub root: KeyPair,
    pub intermediate: KeyPair,
    pub chain: Vec<u8>,
}

impl Fixture {
    pub fn new() -> Self {
        let root = key(0x55);
        let intermediate = key(0x66);
        let server_static = key(0x33);
        let chain = CertChainBuilder::new(&root.private, &intermediate, server_static.public)
            .intermediate_serial(7)
            .leaf_serial(8)
            .intermediate_validity(NOW - 1000, NOW + 1000)
            .leaf_validity(NOW - 100, NOW + 100)
            .build(&mut CountingRng(0));
        Self {
            client_static: key(0x11),
            client_ephemeral: key(0x22),
            server_static,
            server_ephemeral: key(0x44),
            root,
            intermediate,
            chain,
        }
    }

    pub fn verifier(&self) -> CertVerifier {
        CertVerifier::new(self.root.public)
    }

    pub fn server(&self) -> ServerHandshake {
        ServerHandshake::new(self.server_static.clone(), self.chain.clone())
    }

    /// Client start with the fixed ephemeral: (state, bytes with intro header).
    pub fn client_start(&self) -> (ClientHandshake, Vec<u8>) {
        ClientHandshake::start_with_ephemeral(
            &self.client_static,
            self.client_ephemeral.clone(),
            None,
        )
        .unwrap()
    }

    /// Server reply to a ClientHello frame payload with the fixed ephemeral.
    pub fn server_reply(&self, client_hello: &[u8]) -> (ServerAwaitingFinish, Vec<u8>) {
        self.server()
            .read_client_hello_with_ephemeral(client_hello, self.server_ephemeral.clone())
            .unwrap()
    }

    /// A full handshake with fixed keys; returns both results.
    pub fn handshake(&self, client_payload: &[u8]) -> (ClientFinished, ServerFinished) {
        let (client, first) = self.client_start();
        let hello = single_frame(&first[INTRO_HEADER.len()..]);
        let (server, reply) = self.server_reply(&hello);
        let client = client
            .read_server_hello(&single_frame(&reply))
            .unwrap()
            .verify(&self.verifier(), NOW)
            .unwrap();
        let client = client.finish(client_payload).unwrap();
        let server = server
            .read_client_finish(&single_frame(&client.frame))
            .unwrap();
        (client, server)
    }
}

/// Decodes bytes that hold exactly one frame and returns its payload.
pub(super) fn single_frame(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = FrameDecoder::new();
    decoder.push(bytes).unwrap();
    let frame = decoder.next_frame().expect("one complete frame");
    assert_eq!(decoder.next_frame(), None);
    decoder.finish().unwrap();
    frame
}

/// Minimal protobuf helpers written independently of prost, for building and
/// taking apart handshake messages by hand.
pub(super) mod pb {
    /// A length-delimited field `tag` holding `data`.
    pub fn field(number: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2];
        let mut len = data.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(data);
        out
    }

    /// Splits a message made only of length-delimited fields.
    pub fn fields(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((&key, rest)) = bytes.split_first() {
            assert_eq!(key & 7, 2, "only length-delimited fields expected");
            let mut len = 0usize;
            let mut shift = 0;
            let mut rest = rest;
            loop {
                let (&b, tail) = rest.split_first().unwrap();
                rest = tail;
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            out.push((key >> 3, rest[..len].to_vec()));
            bytes = &rest[len..];
        }
        out
    }

    /// The single field of a message that must contain exactly one.
    pub fn only(bytes: &[u8], number: u8) -> Vec<u8> {
        let fields = fields(bytes);
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].0, number);
        fields[0].1.clone()
    }

    /// The value of field `number` (must be present).
    pub fn get(bytes: &[u8], number: u8) -> Vec<u8> {
        fields(bytes)
            .into_iter()
            .find(|(n, _)| *n == number)
            .map(|(_, v)| v)
            .unwrap()
    }
}
