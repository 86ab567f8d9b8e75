//! The Signal protocol as WhatsApp uses it.
//!
//! Owns: identity and pre-keys, X3DH, the double ratchet, sender keys, wire
//! messages and the store traits. Does not own transport or addressing.
