//! The Noise XX transport: `Noise_XX_25519_AESGCM_SHA256` with WhatsApp's prologue.
//!
//! Owns: the 3-byte length frame codec with the client's intro header
//! ([`FrameDecoder`], [`encode_frame`], [`intro_bytes`]), the handshake in both
//! roles (client [`ClientHandshake`] → [`ServerHelloReceived`] →
//! [`VerifiedServerHello`]; server [`ServerHandshake`] → [`ServerAwaitingFinish`]),
//! the transport cipher ([`NoiseTransport`]) and the server certificate chain
//! ([`CertVerifier`], [`CertChainBuilder`]). Does not own the WebSocket (the
//! shell moves the bytes), the clock (`now` is an argument), nor what the frames
//! carry (the `ClientPayload` arrives serialized; decrypted frames go to `binary`).
//!
//! How a sans-IO client drives it:
//! 1. [`ClientHandshake::start`] → send the returned bytes (intro header + ClientHello).
//! 2. Feed received bytes to a [`FrameDecoder`]; give the first frame to
//!    [`ClientHandshake::read_server_hello`], then [`ServerHelloReceived::verify`] the
//!    certificate chain. Only a verified hello can [`VerifiedServerHello::finish`]:
//!    an unverified server can never reach the transport phase.
//! 3. Send [`ClientFinished::frame`]; every later frame goes through
//!    [`NoiseTransport::decrypt`] / [`NoiseTransport::encrypt_frame`].
//!
//! A server (the simulator) uses [`FrameDecoder::expecting_intro`], then
//! [`ServerHandshake::read_client_hello`] and
//! [`ServerAwaitingFinish::read_client_finish`].
//!
//! Every transition consumes its state: a failed handshake cannot be continued.
//!
//! WhatsApp's handshake differs from standard Noise XX in one point: the empty
//! payload of message 1 is not mixed into the handshake hash. Keys are the
//! same as a generic Noise library's, but its handshake tags are not, so a
//! generic implementation cannot talk to WhatsApp (see `tests/snow_interop.rs`).
//!
//! ```
//! use rand::SeedableRng;
//! use wa_wasm::crypto::KeyPair;
//! use wa_wasm::noise::*;
//!
//! # fn main() -> Result<(), NoiseError> {
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let now = 1_750_000_000;
//! // A server (e.g. the simulator) with its own root key.
//! let (root, intermediate, server_key) =
//!     (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
//! let chain = CertChainBuilder::new(&root.private, &intermediate, server_key.public).build(&mut rng);
//! let mut server_in = FrameDecoder::expecting_intro();
//! let mut client_in = FrameDecoder::new();
//!
//! let noise_key = KeyPair::generate(&mut rng);
//! let (client, bytes) = ClientHandshake::start(&noise_key, None, &mut rng)?;
//! server_in.push(&bytes)?;
//! let (server, bytes) = ServerHandshake::new(server_key, chain)
//!     .read_client_hello(&server_in.next_frame().unwrap(), &mut rng)?;
//! client_in.push(&bytes)?;
//! let client = client
//!     .read_server_hello(&client_in.next_frame().unwrap())?
//!     .verify(&CertVerifier::new(root.public), now)?
//!     .finish(b"serialized ClientPayload")?;
//! server_in.push(&client.frame)?;
//! let mut server = server.read_client_finish(&server_in.next_frame().unwrap())?;
//! assert_eq!(server.client_payload, b"serialized ClientPayload");
//!
//! let mut client_transport = client.transport;
//! server_in.push(&client_transport.encrypt_frame(b"node bytes")?)?;
//! let plaintext = server.transport.decrypt(&server_in.next_frame().unwrap())?;
//! assert_eq!(plaintext, b"node bytes");
//! # Ok(())
//! # }
//! ```
//!
//! Skipping the certificate check does not compile: only
//! [`VerifiedServerHello`] has `finish`, and only `verify` makes one.
//!
//! ```compile_fail
//! fn skip_verification(hello: wa_wasm::noise::ServerHelloReceived) {
//!     let _ = hello.finish(b"payload");
//! }
//! ```

mod cert;
mod frame;
mod handshake;
mod symmetric;
mod transport;

#[cfg(test)]
mod tests;

pub use cert::{
    CertChainBuilder, CertDetails, CertError, CertRole, CertVerifier, VerifiedServer,
    WA_ROOT_PUBLIC_KEY,
};
pub use frame::{
    DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameDecoder, FrameError, INTRO_HEADER,
    MAX_FRAME_PAYLOAD, ROUTING_INFO_TAG, encode_frame, encode_frame_into, intro_bytes,
};
pub use handshake::{
    ClientFinished, ClientHandshake, ServerAwaitingFinish, ServerFinished, ServerHandshake,
    ServerHelloReceived, VerifiedServerHello,
};
pub use symmetric::NOISE_PROTOCOL_NAME;
pub use transport::{GCM_TAG_LEN, NoiseTransport, TransportReceiver, TransportSender};

use core::fmt;

/// The three handshake messages, to say which one an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeStep {
    /// Client → server: the client's ephemeral key.
    ClientHello,
    /// Server → client: the server's ephemeral, encrypted static key and certificate chain.
    ServerHello,
    /// Client → server: the client's encrypted static key and `ClientPayload`.
    ClientFinish,
}

impl fmt::Display for HandshakeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientHello => "ClientHello",
            Self::ServerHello => "ServerHello",
            Self::ClientFinish => "ClientFinish",
        })
    }
}

/// A field of a handshake message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeField {
    /// The sender's ephemeral public key (32 bytes, clear).
    Ephemeral,
    /// The sender's static public key (48 bytes: 32 encrypted + 16-byte tag).
    Static,
    /// The encrypted payload (certificate chain or `ClientPayload`).
    Payload,
}

impl fmt::Display for HandshakeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ephemeral => "ephemeral",
            Self::Static => "static",
            Self::Payload => "payload",
        })
    }
}

/// Direction of a transport cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Frames this side sends.
    Send,
    /// Frames this side receives.
    Receive,
}

/// Everything that can go wrong in the Noise layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoiseError {
    /// Framing failed (size limits, intro header).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A handshake frame is not a valid `HandshakeMessage` protobuf.
    #[error("{step} frame is not a valid HandshakeMessage: {source}")]
    MalformedMessage {
        /// The message that was expected.
        step: HandshakeStep,
        /// What the protobuf decoder said.
        source: prost::DecodeError,
    },
    /// A handshake frame decoded, but does not hold the expected message.
    #[error("handshake frame holds no {0}")]
    MissingMessage(HandshakeStep),
    /// A required field of a handshake message is absent.
    #[error("{step} has no {field} field")]
    MissingField {
        /// The message.
        step: HandshakeStep,
        /// The absent field.
        field: HandshakeField,
    },
    /// A handshake field has the wrong length.
    #[error("{step} {field} must be {expected} bytes, got {found}")]
    FieldLength {
        /// The message.
        step: HandshakeStep,
        /// The field.
        field: HandshakeField,
        /// The required length.
        expected: usize,
        /// The length received.
        found: usize,
    },
    /// An encrypted handshake field is shorter than its authentication tag.
    #[error("{step} {field} is {found} bytes, shorter than the 16-byte tag")]
    FieldTooShort {
        /// The message.
        step: HandshakeStep,
        /// The field.
        field: HandshakeField,
        /// The length received.
        found: usize,
    },
    /// An encrypted handshake field failed authentication.
    #[error("cannot decrypt the {field} of the {step} (bad GCM tag)")]
    HandshakeDecrypt {
        /// The message.
        step: HandshakeStep,
        /// The field.
        field: HandshakeField,
    },
    /// A peer key is a low-order Curve25519 point (the shared secret would be zero).
    #[error("{step} {field} key is a low-order point")]
    LowOrderKey {
        /// The message that carried the key.
        step: HandshakeStep,
        /// The field that carried the key.
        field: HandshakeField,
    },
    /// The server's certificate chain was rejected.
    #[error("server certificate rejected: {0}")]
    Cert(#[from] CertError),
    /// A transport frame is shorter than the 16-byte GCM tag.
    #[error("transport frame of {0} bytes is shorter than the 16-byte tag")]
    TransportFrameTooShort(usize),
    /// A transport frame failed authentication: corrupted, replayed, reordered
    /// or from another session. The receive counter did not move.
    #[error("transport frame number {counter} failed authentication")]
    TransportDecrypt {
        /// The receive counter the frame was expected to carry.
        counter: u32,
    },
    /// All 2^32 nonces of a direction are used; the connection must be replaced.
    #[error("{0:?} nonce counter exhausted")]
    CounterExhausted(Direction),
}
