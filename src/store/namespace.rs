//! The namespaces persisted records are grouped in, with their stable names.

use core::fmt;
use core::str::FromStr;

/// A group of persisted records of one kind.
///
/// The names returned by [`Namespace::as_str`] are part of the storage format
/// (IndexedDB, JSON export): never rename one. Key conventions per namespace
/// are documented in [`super::keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// The device's [`super::Credentials`] (one record).
    Credentials,
    /// Signal sessions, one per remote device address.
    Sessions,
    /// One-time pre-keys, by id.
    PreKeys,
    /// Signed pre-keys, by id (the current one is also in the credentials).
    SignedPreKeys,
    /// Trusted identity keys of remote device addresses.
    Identities,
    /// Group sender keys, by group and sender address.
    SenderKeys,
    /// Which devices already received our sender key, per group.
    SenderKeyMemory,
    /// Cached device lists, per user.
    DeviceLists,
    /// LID ↔ phone-number mappings, both directions.
    LidMappings,
    /// Messages we sent, kept to answer retry receipts.
    Outbox,
    /// Ids of processed incoming messages, for de-duplication.
    ProcessedMessages,
    /// Small engine metadata (server clock offset, routing info, …).
    AppMeta,
}

impl Namespace {
    /// Every namespace, in a fixed order.
    pub const ALL: [Namespace; 12] = [
        Namespace::Credentials,
        Namespace::Sessions,
        Namespace::PreKeys,
        Namespace::SignedPreKeys,
        Namespace::Identities,
        Namespace::SenderKeys,
        Namespace::SenderKeyMemory,
        Namespace::DeviceLists,
        Namespace::LidMappings,
        Namespace::Outbox,
        Namespace::ProcessedMessages,
        Namespace::AppMeta,
    ];

    /// The position in [`Namespace::ALL`], for tables indexed by namespace.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The stable storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Namespace::Credentials => "creds",
            Namespace::Sessions => "session",
            Namespace::PreKeys => "pre-key",
            Namespace::SignedPreKeys => "signed-pre-key",
            Namespace::Identities => "identity",
            Namespace::SenderKeys => "sender-key",
            Namespace::SenderKeyMemory => "sender-key-memory",
            Namespace::DeviceLists => "device-list",
            Namespace::LidMappings => "lid-mapping",
            Namespace::Outbox => "outbox",
            Namespace::ProcessedMessages => "processed-message",
            Namespace::AppMeta => "app-meta",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespace name that is not one of [`Namespace::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown namespace {0:?}")]
pub struct UnknownNamespace(pub String);

impl FromStr for Namespace {
    type Err = UnknownNamespace;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Namespace::ALL
            .into_iter()
            .find(|namespace| namespace.as_str() == name)
            .ok_or_else(|| UnknownNamespace(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        for (position, namespace) in Namespace::ALL.into_iter().enumerate() {
            assert_eq!(namespace.index(), position, "{namespace}");
        }
    }

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut names: Vec<&str> = Namespace::ALL.iter().map(|ns| ns.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Namespace::ALL.len());
        for namespace in Namespace::ALL {
            assert_eq!(namespace.as_str().parse::<Namespace>(), Ok(namespace));
        }
        assert_eq!(
            "sessions".parse::<Namespace>(),
            Err(UnknownNamespace("sessions".into()))
        );
    }

    /// The names are a storage format: this pins them.
    #[test]
    fn names_are_stable() {
        let joined: Vec<&str> = Namespace::ALL.iter().map(|ns| ns.as_str()).collect();
        assert_eq!(
            joined.join(","),
            "creds,session,pre-key,signed-pre-key,identity,sender-key,sender-key-memory,\
             device-list,lid-mapping,outbox,processed-message,app-meta"
        );
    }
}
