//! The Noise XX transport: `Noise_XX_25519_AESGCM_SHA256` with WhatsApp's prologue.
//!
//! Owns: the handshake (initiator and responder), the 3-byte length frame codec,
//! the transport cipher and the server certificate chain check. Does not own the
//! WebSocket (the shell) nor what the frames contain (see `binary`).
