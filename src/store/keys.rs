//! Key conventions: how each [`Namespace`](super::Namespace) names its records.
//!
//! Keys are plain text so that every store (memory, IndexedDB, a JSON export)
//! can hold them unchanged, and so they read well when debugging. The engine
//! builds keys only through these functions.
//!
//! | namespace | key | value (owned by) |
//! |---|---|---|
//! | `creds` | [`CREDENTIALS`] (`"creds"`) | [`Credentials::encode`](super::Credentials::encode) |
//! | `session` | [`signal_address`]: `"<name>.<device>"` | Signal session record (`signal`) |
//! | `identity` | [`signal_address`] | remote identity key (`signal`) |
//! | `pre-key` | [`pre_key`]: decimal id, `"17"` | one-time pre-key record (`signal`) |
//! | `signed-pre-key` | [`pre_key`]: decimal id | signed pre-key record (`signal`) |
//! | `sender-key` | [`sender_key`]: `"<group JID>/<sender address>"` | sender-key record (`signal`) |
//! | `sender-key-memory` | group JID, `"120363…@g.us"` | devices that hold our sender key (`client`) |
//! | `device-list` | user JID without device, `"15551234567@s.whatsapp.net"` | cached device ids (`client`) |
//! | `lid-mapping` | [`lid_to_pn`] `"lid:<lid user>"` and [`pn_to_lid`] `"pn:<phone user>"` | the other side's user part, UTF-8 (`client`) |
//! | `outbox` | message id | the sent message, for retry receipts (`client`) |
//! | `processed-message` | [`processed_message`]: `"<sender JID>/<message id>"` | receive time, unix seconds as 8 bytes big-endian, then what was shown (`client`) |
//! | `app-meta` | a fixed name per item, e.g. `"server-time-offset"` | engine-defined (`client`) |
//!
//! A Signal address `name` is the user part of the JID, with the domain type
//! appended after `_` for non-phone-number domains (e.g. `"12345_1"` for a LID
//! user); `device` is the device id (0 for the primary). `/` never appears in
//! a JID or a Signal address, which keeps composite keys unambiguous.

/// The key of the single record in the `creds` namespace.
pub const CREDENTIALS: &str = "creds";

/// The key of a pre-key or signed pre-key: its id in decimal.
pub fn pre_key(id: u32) -> String {
    id.to_string()
}

/// Reads a [`pre_key`] key back (`None` for anything else, e.g. `"007"`).
pub fn parse_pre_key(key: &str) -> Option<u32> {
    let id: u32 = key.parse().ok()?;
    (pre_key(id) == key).then_some(id)
}

/// The key of a Signal session or identity: `"<name>.<device>"`.
pub fn signal_address(name: &str, device: u32) -> String {
    format!("{name}.{device}")
}

/// Splits a [`signal_address`] key into its name and device.
pub fn parse_signal_address(key: &str) -> Option<(&str, u32)> {
    let (name, device) = key.rsplit_once('.')?;
    if name.is_empty() {
        return None;
    }
    Some((name, parse_pre_key(device)?))
}

/// The key of a group sender key: `"<group JID>/<sender address>"`.
pub fn sender_key(group: &str, sender_address: &str) -> String {
    format!("{group}/{sender_address}")
}

/// Splits a [`sender_key`] key into the group JID and the sender address.
pub fn parse_sender_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
        .filter(|(group, sender)| !group.is_empty() && !sender.is_empty())
}

/// The key under which a LID user's phone-number user is stored.
pub fn lid_to_pn(lid_user: &str) -> String {
    format!("lid:{lid_user}")
}

/// The key under which a phone-number user's LID user is stored.
pub fn pn_to_lid(pn_user: &str) -> String {
    format!("pn:{pn_user}")
}

/// The key that marks a message from `sender` with `id` as processed.
pub fn processed_message(sender: &str, id: &str) -> String {
    format!("{sender}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_keys() {
        assert_eq!(pre_key(17), "17");
        assert_eq!(parse_pre_key("17"), Some(17));
        assert_eq!(parse_pre_key(&pre_key(u32::MAX)), Some(u32::MAX));
        for bad in ["", "007", "+1", "-1", "1.0", "4294967296", "x"] {
            assert_eq!(parse_pre_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn signal_addresses() {
        assert_eq!(signal_address("15551234567", 0), "15551234567.0");
        assert_eq!(signal_address("12345_1", 12), "12345_1.12");
        assert_eq!(parse_signal_address("12345_1.12"), Some(("12345_1", 12)));
        assert_eq!(parse_signal_address("a.b.3"), Some(("a.b", 3)));
        for bad in ["", "123", ".4", "123.", "123.x", "123.01"] {
            assert_eq!(parse_signal_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn composite_keys() {
        let key = sender_key("120363000000000000@g.us", "15551234567.3");
        assert_eq!(key, "120363000000000000@g.us/15551234567.3");
        assert_eq!(
            parse_sender_key(&key),
            Some(("120363000000000000@g.us", "15551234567.3"))
        );
        assert_eq!(parse_sender_key("nogroup"), None);
        assert_eq!(parse_sender_key("/x"), None);
        assert_eq!(lid_to_pn("987"), "lid:987");
        assert_eq!(pn_to_lid("555"), "pn:555");
        assert_eq!(
            processed_message("15551234567@s.whatsapp.net", "3EB0ABC"),
            "15551234567@s.whatsapp.net/3EB0ABC"
        );
    }
}
