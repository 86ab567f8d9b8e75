//! Versioned byte encoding shared by every stored record: one version byte,
//! then a protobuf message from `proto/signal_record.proto`.

use prost::Message;

use super::error::{RecordKind, SignalError};
use crate::crypto::{PrivateKey, PublicKey};

/// The only record layout this build writes and reads.
pub(crate) const RECORD_VERSION: u8 = 1;

/// Serialises `message` behind the version byte.
pub(crate) fn encode<M: Message>(message: &M) -> Vec<u8> {
    super::wire::frame(RECORD_VERSION, message, 0)
}

/// Checks the version byte and decodes the protobuf behind it.
pub(crate) fn decode<M: Message + Default>(
    bytes: &[u8],
    kind: RecordKind,
) -> Result<M, SignalError> {
    match bytes.split_first() {
        None => Err(SignalError::record(kind, "empty")),
        Some((&RECORD_VERSION, body)) => {
            M::decode(body).map_err(|_| SignalError::record(kind, "protobuf"))
        }
        Some((&version, _)) => Err(SignalError::UnsupportedRecordVersion { kind, version }),
    }
}

/// A required 32-byte field.
pub(crate) fn bytes32(
    field: Option<&[u8]>,
    kind: RecordKind,
    name: &'static str,
) -> Result<[u8; 32], SignalError> {
    field
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(SignalError::record(kind, name))
}

/// A required public key in its 33-byte form.
pub(crate) fn public_key(
    field: Option<&[u8]>,
    kind: RecordKind,
    name: &'static str,
) -> Result<PublicKey, SignalError> {
    field
        .and_then(|bytes| PublicKey::from_prefixed(bytes).ok())
        .ok_or(SignalError::record(kind, name))
}

/// A required private key.
pub(crate) fn private_key(
    field: Option<&[u8]>,
    kind: RecordKind,
    name: &'static str,
) -> Result<PrivateKey, SignalError> {
    bytes32(field, kind, name).map(PrivateKey::from_bytes)
}

/// A required integer field.
pub(crate) fn required<T>(
    field: Option<T>,
    kind: RecordKind,
    name: &'static str,
) -> Result<T, SignalError> {
    field.ok_or(SignalError::record(kind, name))
}
