//! WABinary: the compact binary XML that WhatsApp stanzas travel in.
//!
//! Owns: `Node`, `Jid`, the token dictionaries, the encoder and decoder, and the
//! frame payload flag byte (with zlib inflation). Does not own framing or
//! encryption (see `noise`).
