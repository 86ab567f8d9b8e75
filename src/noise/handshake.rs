//! The XX handshake in both roles, one type per state.
//!
//! Client: [`ClientHandshake`] –ServerHello→ [`ServerHelloReceived`] –verify→
//! [`VerifiedServerHello`] –finish→ [`ClientFinished`].
//! Server: [`ServerHandshake`] –ClientHello→ [`ServerAwaitingFinish`]
//! –ClientFinish→ [`ServerFinished`].

use core::fmt;

use prost::Message;
use rand_core::CryptoRng;

use super::cert::{CertVerifier, VerifiedServer};
use super::frame::{FrameError, MAX_FRAME_PAYLOAD, encode_frame, encode_frame_into, intro_bytes};
use super::symmetric::{SymmetricState, diffie_hellman};
use super::transport::{GCM_TAG_LEN, NoiseTransport};
use super::{HandshakeField, HandshakeStep, NoiseError};
use crate::crypto::{KeyPair, PrivateKey, PublicKey};
use crate::proto::wa::HandshakeMessage;
use crate::proto::wa::handshake_message::{ClientFinish, ClientHello, ServerHello};

/// Length of a clear Curve25519 public key.
const KEY_LEN: usize = 32;
/// Length of an encrypted static key: the key and its GCM tag.
const ENCRYPTED_KEY_LEN: usize = KEY_LEN + GCM_TAG_LEN;

fn decode(frame: &[u8], step: HandshakeStep) -> Result<HandshakeMessage, NoiseError> {
    HandshakeMessage::decode(frame).map_err(|source| NoiseError::MalformedMessage { step, source })
}

fn required(
    value: Option<Vec<u8>>,
    step: HandshakeStep,
    field: HandshakeField,
) -> Result<Vec<u8>, NoiseError> {
    value.ok_or(NoiseError::MissingField { step, field })
}

fn exact_len(
    value: &[u8],
    expected: usize,
    step: HandshakeStep,
    field: HandshakeField,
) -> Result<(), NoiseError> {
    if value.len() == expected {
        Ok(())
    } else {
        Err(NoiseError::FieldLength {
            step,
            field,
            expected,
            found: value.len(),
        })
    }
}

fn public_key(
    value: &[u8],
    step: HandshakeStep,
    field: HandshakeField,
) -> Result<PublicKey, NoiseError> {
    <[u8; KEY_LEN]>::try_from(value)
        .map(PublicKey::from_bytes)
        .map_err(|_| NoiseError::FieldLength {
            step,
            field,
            expected: KEY_LEN,
            found: value.len(),
        })
}

fn mix_dh(
    symmetric: &mut SymmetricState,
    ours: &PrivateKey,
    theirs: &PublicKey,
    step: HandshakeStep,
    field: HandshakeField,
) -> Result<(), NoiseError> {
    let mut shared = diffie_hellman(ours, theirs).ok_or(NoiseError::LowOrderKey { step, field })?;
    symmetric.mix_key(&shared);
    zeroize::Zeroize::zeroize(&mut shared);
    Ok(())
}

fn decrypt_field(
    symmetric: &mut SymmetricState,
    ciphertext: &[u8],
    step: HandshakeStep,
    field: HandshakeField,
) -> Result<Vec<u8>, NoiseError> {
    if ciphertext.len() < GCM_TAG_LEN {
        return Err(NoiseError::FieldTooShort {
            step,
            field,
            found: ciphertext.len(),
        });
    }
    symmetric
        .decrypt_and_hash(ciphertext)
        .ok_or(NoiseError::HandshakeDecrypt { step, field })
}

// ---------------------------------------------------------------- client

/// Client, ClientHello sent: waits for the ServerHello.
pub struct ClientHandshake {
    symmetric: SymmetricState,
    ephemeral: KeyPair,
    noise_key: KeyPair,
}

/// Client, ServerHello decrypted: the server's static key and certificate
/// chain are known but not yet trusted. The only way on is
/// [`verify`](Self::verify).
pub struct ServerHelloReceived {
    symmetric: SymmetricState,
    noise_key: KeyPair,
    server_ephemeral: PublicKey,
    server_static: PublicKey,
    certificate_chain: Vec<u8>,
}

/// Client, certificate chain verified: ready to send the ClientFinish.
pub struct VerifiedServerHello {
    symmetric: SymmetricState,
    noise_key: KeyPair,
    server_ephemeral: PublicKey,
    server: VerifiedServer,
}

/// The client's handshake result.
#[derive(Debug)]
pub struct ClientFinished {
    /// The framed ClientFinish message to send.
    pub frame: Vec<u8>,
    /// The transport for every later frame.
    pub transport: NoiseTransport,
    /// The server's verified certificates.
    pub server: VerifiedServer,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("ephemeral", &self.ephemeral.public)
            .field("noise_key", &self.noise_key.public)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServerHelloReceived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHelloReceived")
            .field("server_ephemeral", &self.server_ephemeral)
            .field("server_static", &self.server_static)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifiedServerHello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedServerHello")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// Starts a handshake with the long-lived `noise_key` and a fresh ephemeral
    /// key from `rng`. Returns the state and the bytes to send first: the intro
    /// header (with `routing_info` in front when given) and the ClientHello frame.
    pub fn start(
        noise_key: &KeyPair,
        routing_info: Option<&[u8]>,
        rng: &mut impl CryptoRng,
    ) -> Result<(Self, Vec<u8>), NoiseError> {
        Self::start_with_ephemeral(noise_key, KeyPair::generate(rng), routing_info)
    }

    pub(crate) fn start_with_ephemeral(
        noise_key: &KeyPair,
        ephemeral: KeyPair,
        routing_info: Option<&[u8]>,
    ) -> Result<(Self, Vec<u8>), NoiseError> {
        let mut symmetric = SymmetricState::new();
        symmetric.mix_hash(ephemeral.public.as_bytes());
        // Unlike standard Noise, WhatsApp does not mix the (empty) payload of
        // message 1 into `h`; both reference clients skip it.
        let hello = HandshakeMessage {
            client_hello: Some(ClientHello {
                ephemeral: Some(ephemeral.public.as_bytes().to_vec()),
                r#static: None,
                payload: None,
            }),
            ..HandshakeMessage::default()
        }
        .encode_to_vec();
        let mut out = intro_bytes(routing_info)?;
        encode_frame_into(&hello, &mut out)?;
        let state = Self {
            symmetric,
            ephemeral,
            noise_key: noise_key.clone(),
        };
        Ok((state, out))
    }

    /// Reads the ServerHello frame payload: mixes in the server's ephemeral,
    /// decrypts its static key and the certificate chain.
    pub fn read_server_hello(self, frame: &[u8]) -> Result<ServerHelloReceived, NoiseError> {
        const STEP: HandshakeStep = HandshakeStep::ServerHello;
        let Self {
            mut symmetric,
            ephemeral,
            noise_key,
        } = self;
        let hello = decode(frame, STEP)?
            .server_hello
            .ok_or(NoiseError::MissingMessage(STEP))?;
        let server_ephemeral = required(hello.ephemeral, STEP, HandshakeField::Ephemeral)?;
        let server_ephemeral = public_key(&server_ephemeral, STEP, HandshakeField::Ephemeral)?;
        let static_ciphertext = required(hello.r#static, STEP, HandshakeField::Static)?;
        exact_len(
            &static_ciphertext,
            ENCRYPTED_KEY_LEN,
            STEP,
            HandshakeField::Static,
        )?;
        let payload_ciphertext = required(hello.payload, STEP, HandshakeField::Payload)?;

        symmetric.mix_hash(server_ephemeral.as_bytes());
        mix_dh(
            &mut symmetric,
            &ephemeral.private,
            &server_ephemeral,
            STEP,
            HandshakeField::Ephemeral,
        )?;
        let server_static = decrypt_field(
            &mut symmetric,
            &static_ciphertext,
            STEP,
            HandshakeField::Static,
        )?;
        let server_static = public_key(&server_static, STEP, HandshakeField::Static)?;
        mix_dh(
            &mut symmetric,
            &ephemeral.private,
            &server_static,
            STEP,
            HandshakeField::Static,
        )?;
        let certificate_chain = decrypt_field(
            &mut symmetric,
            &payload_ciphertext,
            STEP,
            HandshakeField::Payload,
        )?;
        Ok(ServerHelloReceived {
            symmetric,
            noise_key,
            server_ephemeral,
            server_static,
            certificate_chain,
        })
    }
}

impl ServerHelloReceived {
    /// The server's static key, as decrypted (not yet trusted).
    pub fn server_static(&self) -> &PublicKey {
        &self.server_static
    }

    /// The decrypted, serialized certificate chain (not yet trusted).
    pub fn certificate_chain(&self) -> &[u8] {
        &self.certificate_chain
    }

    /// Verifies the certificate chain against `verifier`'s pinned root at
    /// `now` (unix seconds); the leaf must certify the server's static key.
    pub fn verify(
        self,
        verifier: &CertVerifier,
        now: u64,
    ) -> Result<VerifiedServerHello, NoiseError> {
        let server = verifier.verify(&self.certificate_chain, &self.server_static, now)?;
        Ok(VerifiedServerHello {
            symmetric: self.symmetric,
            noise_key: self.noise_key,
            server_ephemeral: self.server_ephemeral,
            server,
        })
    }
}

impl VerifiedServerHello {
    /// The server's verified certificates.
    pub fn server(&self) -> &VerifiedServer {
        &self.server
    }

    /// Encrypts our static key and `client_payload` (a serialized
    /// `ClientPayload`) into the ClientFinish frame and splits the transport keys.
    pub fn finish(self, client_payload: &[u8]) -> Result<ClientFinished, NoiseError> {
        let Self {
            mut symmetric,
            noise_key,
            server_ephemeral,
            server,
        } = self;
        // Refuse before encrypting a payload that cannot fit in a frame.
        let sealed_len = client_payload.len().saturating_add(GCM_TAG_LEN);
        if sealed_len > MAX_FRAME_PAYLOAD {
            return Err(FrameError::PayloadTooLarge(sealed_len).into());
        }
        let static_ciphertext = symmetric.encrypt_and_hash(noise_key.public.as_bytes());
        // The server's ephemeral already passed the low-order check when read.
        mix_dh(
            &mut symmetric,
            &noise_key.private,
            &server_ephemeral,
            HandshakeStep::ServerHello,
            HandshakeField::Ephemeral,
        )?;
        let payload_ciphertext = symmetric.encrypt_and_hash(client_payload);
        let finish = HandshakeMessage {
            client_finish: Some(ClientFinish {
                r#static: Some(static_ciphertext),
                payload: Some(payload_ciphertext),
            }),
            ..HandshakeMessage::default()
        }
        .encode_to_vec();
        let frame = encode_frame(&finish)?;
        let (client_to_server, server_to_client) = symmetric.split();
        Ok(ClientFinished {
            frame,
            transport: NoiseTransport::new(&client_to_server, &server_to_client),
            server,
        })
    }
}

// ---------------------------------------------------------------- server

/// Server, waiting for the ClientHello. Holds the server's static key and the
/// serialized certificate chain it presents.
pub struct ServerHandshake {
    static_key: KeyPair,
    certificate_chain: Vec<u8>,
}

/// Server, ServerHello sent: waits for the ClientFinish.
pub struct ServerAwaitingFinish {
    symmetric: SymmetricState,
    ephemeral: KeyPair,
}

/// The server's handshake result.
#[derive(Debug)]
pub struct ServerFinished {
    /// The client's static ("noise") public key.
    pub client_static: PublicKey,
    /// The decrypted `ClientPayload` bytes.
    pub client_payload: Vec<u8>,
    /// The transport for every later frame.
    pub transport: NoiseTransport,
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("static_key", &self.static_key.public)
            .field("certificate_chain_len", &self.certificate_chain.len())
            .finish()
    }
}

impl fmt::Debug for ServerAwaitingFinish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAwaitingFinish")
            .field("ephemeral", &self.ephemeral.public)
            .finish_non_exhaustive()
    }
}

impl ServerHandshake {
    /// A responder with `static_key` presenting `certificate_chain` (a
    /// serialized `CertChain`, e.g. from [`super::CertChainBuilder::build`]).
    pub fn new(static_key: KeyPair, certificate_chain: Vec<u8>) -> Self {
        Self {
            static_key,
            certificate_chain,
        }
    }

    /// Reads the ClientHello frame payload (intro header already removed by
    /// [`super::FrameDecoder::expecting_intro`]) and returns the next state with
    /// the framed ServerHello to send. The ephemeral key comes from `rng`.
    pub fn read_client_hello(
        self,
        frame: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<(ServerAwaitingFinish, Vec<u8>), NoiseError> {
        self.read_client_hello_with_ephemeral(frame, KeyPair::generate(rng))
    }

    pub(crate) fn read_client_hello_with_ephemeral(
        self,
        frame: &[u8],
        ephemeral: KeyPair,
    ) -> Result<(ServerAwaitingFinish, Vec<u8>), NoiseError> {
        const STEP: HandshakeStep = HandshakeStep::ClientHello;
        let hello = decode(frame, STEP)?
            .client_hello
            .ok_or(NoiseError::MissingMessage(STEP))?;
        let client_ephemeral = required(hello.ephemeral, STEP, HandshakeField::Ephemeral)?;
        let client_ephemeral = public_key(&client_ephemeral, STEP, HandshakeField::Ephemeral)?;

        let mut symmetric = SymmetricState::new();
        symmetric.mix_hash(client_ephemeral.as_bytes());
        // No hash of an empty message-1 payload here either (see the client side).
        symmetric.mix_hash(ephemeral.public.as_bytes());
        mix_dh(
            &mut symmetric,
            &ephemeral.private,
            &client_ephemeral,
            STEP,
            HandshakeField::Ephemeral,
        )?;
        let static_ciphertext = symmetric.encrypt_and_hash(self.static_key.public.as_bytes());
        mix_dh(
            &mut symmetric,
            &self.static_key.private,
            &client_ephemeral,
            STEP,
            HandshakeField::Ephemeral,
        )?;
        let payload_ciphertext = symmetric.encrypt_and_hash(&self.certificate_chain);
        let hello = HandshakeMessage {
            server_hello: Some(ServerHello {
                ephemeral: Some(ephemeral.public.as_bytes().to_vec()),
                r#static: Some(static_ciphertext),
                payload: Some(payload_ciphertext),
            }),
            ..HandshakeMessage::default()
        }
        .encode_to_vec();
        let frame = encode_frame(&hello)?;
        Ok((
            ServerAwaitingFinish {
                symmetric,
                ephemeral,
            },
            frame,
        ))
    }
}

impl ServerAwaitingFinish {
    /// Reads the ClientFinish frame payload: decrypts the client's static key
    /// and its `ClientPayload`, and splits the transport keys.
    pub fn read_client_finish(self, frame: &[u8]) -> Result<ServerFinished, NoiseError> {
        const STEP: HandshakeStep = HandshakeStep::ClientFinish;
        let Self {
            mut symmetric,
            ephemeral,
        } = self;
        let finish = decode(frame, STEP)?
            .client_finish
            .ok_or(NoiseError::MissingMessage(STEP))?;
        let static_ciphertext = required(finish.r#static, STEP, HandshakeField::Static)?;
        exact_len(
            &static_ciphertext,
            ENCRYPTED_KEY_LEN,
            STEP,
            HandshakeField::Static,
        )?;
        let payload_ciphertext = required(finish.payload, STEP, HandshakeField::Payload)?;
        let client_static = decrypt_field(
            &mut symmetric,
            &static_ciphertext,
            STEP,
            HandshakeField::Static,
        )?;
        let client_static = public_key(&client_static, STEP, HandshakeField::Static)?;
        mix_dh(
            &mut symmetric,
            &ephemeral.private,
            &client_static,
            STEP,
            HandshakeField::Static,
        )?;
        let client_payload = decrypt_field(
            &mut symmetric,
            &payload_ciphertext,
            STEP,
            HandshakeField::Payload,
        )?;
        let (client_to_server, server_to_client) = symmetric.split();
        Ok(ServerFinished {
            client_static,
            client_payload,
            transport: NoiseTransport::new(&server_to_client, &client_to_server),
        })
    }
}
