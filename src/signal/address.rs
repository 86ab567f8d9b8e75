//! Signal addresses as WhatsApp names them.
//!
//! Independent of `binary::Jid`: the client maps a device JID to an address with
//! [`ProtocolAddress::from_user`].

use core::fmt;

/// One device of one account: the key under which sessions and identities are stored.
///
/// WhatsApp's naming: `name` is the JID's user part, followed by `_<domain type>`
/// when the domain type is not 0 (`_1` LID, `_128` hosted, `_129` hosted LID);
/// `device_id` is the JID's device number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolAddress {
    name: String,
    device_id: u32,
}

impl ProtocolAddress {
    /// An address from an already formed name.
    pub fn new(name: impl Into<String>, device_id: u32) -> Self {
        Self {
            name: name.into(),
            device_id,
        }
    }

    /// The address of `user`'s device `device_id` in domain type `domain_type`
    /// (0 for phone-number JIDs, 1 for LIDs, 128 hosted, 129 hosted LID).
    pub fn from_user(user: &str, domain_type: u8, device_id: u32) -> Self {
        let name = if domain_type == 0 {
            user.to_owned()
        } else {
            format!("{user}_{domain_type}")
        };
        Self { name, device_id }
    }

    /// The name part (user plus domain suffix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device number.
    pub const fn device_id(&self) -> u32 {
        self.device_id
    }
}

/// `name.device`, the form libsignal uses as a storage key.
impl fmt::Display for ProtocolAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.device_id)
    }
}

/// The key of a sender key record: one sender's chain in one group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderKeyName {
    group_id: String,
    sender: ProtocolAddress,
}

impl SenderKeyName {
    /// The sender key of `sender` in the group `group_id` (the group JID as text).
    pub fn new(group_id: impl Into<String>, sender: ProtocolAddress) -> Self {
        Self {
            group_id: group_id.into(),
            sender,
        }
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The sending device.
    pub const fn sender(&self) -> &ProtocolAddress {
        &self.sender
    }
}

/// `group::name::device`, the form Baileys uses as a storage key.
impl fmt::Display for SenderKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{}::{}",
            self.group_id, self.sender.name, self.sender.device_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_naming() {
        assert_eq!(
            ProtocolAddress::from_user("5511999", 0, 0).name(),
            "5511999"
        );
        assert_eq!(
            ProtocolAddress::from_user("12345", 1, 7).to_string(),
            "12345_1.7"
        );
        assert_eq!(ProtocolAddress::from_user("9", 128, 2).name(), "9_128");
        assert_eq!(ProtocolAddress::from_user("9", 129, 2).name(), "9_129");
        let name = SenderKeyName::new("1203@g.us", ProtocolAddress::from_user("42", 1, 3));
        assert_eq!(name.to_string(), "1203@g.us::42_1::3");
        assert_eq!(name.sender().device_id(), 3);
    }
}
