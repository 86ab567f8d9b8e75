//! The stanzas the engine builds and the server stanzas it reads (facts §5–§7).
//! Pure functions from values to [`Node`]s and back; no state.

use core::time::Duration;

use super::policy::{
    BanReason, ConflictKind, FailureReason, LoginFailure, StreamError, StreamErrorCode,
};
use crate::binary::{Jid, Node};
use crate::signal::{PreKey, SignedPreKey};

/// An IQ to the server (`to="s.whatsapp.net"`); the id is set when sent.
pub(crate) fn server_iq(kind: &str, xmlns: &str, children: Vec<Node>) -> Node {
    let node = Node::new("iq")
        .attr("to", Jid::server_jid())
        .attr("type", kind)
        .attr("xmlns", xmlns);
    if children.is_empty() {
        node
    } else {
        node.children(children)
    }
}

/// The keepalive ping (facts §6).
pub(crate) fn ping() -> Node {
    server_iq("get", "w:p", vec![Node::new("ping")])
}

/// `<iq type="result">` answering a server IQ.
pub(crate) fn iq_result(id: &str, to: Option<Jid>, children: Vec<Node>) -> Node {
    let node = Node::new("iq")
        .attr("to", to.unwrap_or_else(Jid::server_jid))
        .attr("id", id)
        .attr("type", "result");
    if children.is_empty() {
        node
    } else {
        node.children(children)
    }
}

/// `<iq type="error">` answering a server IQ (facts §5.1 step 7, error form).
pub(crate) fn iq_error(id: &str, code: u16, text: &str) -> Node {
    Node::new("iq")
        .attr("to", Jid::server_jid())
        .attr("id", id)
        .attr("type", "error")
        .children([Node::new("error").attr("code", code).attr("text", text)])
}

/// The `pair-device-sign` reply carrying our counter-signed identity.
pub(crate) fn pair_device_sign(id: &str, key_index: u32, reply: Vec<u8>) -> Node {
    iq_result(
        id,
        None,
        vec![
            Node::new("pair-device-sign").children([Node::new("device-identity")
                .attr("key-index", key_index)
                .bytes(reply)]),
        ],
    )
}

/// The ack for a stanza that must be acknowledged (facts §9): `class` is its
/// tag; `participant`, `recipient` and (for non-messages) `type` are copied.
pub(crate) fn ack(node: &Node) -> Option<Node> {
    let id = node.attr_value("id")?.clone();
    let from = node.attr_value("from")?.clone();
    let mut ack = Node::new("ack")
        .attr("class", node.tag.clone())
        .attr("id", id)
        .attr("to", from);
    for key in ["participant", "recipient"] {
        if let Some(value) = node.attr_value(key) {
            ack = ack.attr(key, value.clone());
        }
    }
    if node.tag != "message"
        && let Some(kind) = node.attr_value("type")
    {
        ack = ack.attr("type", kind.clone());
    }
    Some(ack)
}

/// `<ib><unified_session id/></ib>`: N = (server now + 3 days) mod 7 days, in ms.
pub(crate) fn unified_session(now: u64, server_offset_ms: i64) -> Node {
    const DAY_MS: i128 = 24 * 60 * 60 * 1000;
    let server_now = i128::from(now) + i128::from(server_offset_ms);
    let id = (server_now + 3 * DAY_MS).rem_euclid(7 * DAY_MS);
    Node::new("ib").children([Node::new("unified_session").attr("id", id.to_string())])
}

/// Switches between passive and active (facts §6).
pub(crate) fn set_passive(passive: bool) -> Node {
    server_iq(
        "set",
        "passive",
        vec![Node::new(if passive { "passive" } else { "active" })],
    )
}

/// Asks how many one-time pre-keys the server holds.
pub(crate) fn pre_key_count() -> Node {
    server_iq("get", "encrypt", vec![Node::new("count")])
}

fn be24(id: u32) -> Vec<u8> {
    id.to_be_bytes().get(1..).unwrap_or_default().to_vec()
}

/// Uploads one-time pre-keys with the signed pre-key (facts §6).
pub(crate) fn pre_key_upload(
    registration_id: u32,
    identity: &[u8; 32],
    pre_keys: &[PreKey],
    signed: &SignedPreKey,
) -> Node {
    let list = pre_keys.iter().map(|key| {
        Node::new("key").children([
            Node::new("id").bytes(be24(key.id.0)),
            Node::new("value").bytes(key.key_pair.public.as_bytes().to_vec()),
        ])
    });
    server_iq(
        "set",
        "encrypt",
        vec![
            Node::new("registration").bytes(registration_id.to_be_bytes().to_vec()),
            Node::new("type").bytes(vec![5]),
            Node::new("identity").bytes(identity.to_vec()),
            Node::new("list").children(list),
            Node::new("skey").children([
                Node::new("id").bytes(be24(signed.id.0)),
                Node::new("value").bytes(signed.key_pair.public.as_bytes().to_vec()),
                Node::new("signature").bytes(signed.signature.to_vec()),
            ]),
        ],
    )
}

/// Unlinks this device (facts §6, logout).
pub(crate) fn remove_companion_device(me: &Jid) -> Node {
    server_iq(
        "set",
        "md",
        vec![
            Node::new("remove-companion-device")
                .attr("jid", me.clone())
                .attr("reason", "user_initiated"),
        ],
    )
}

/// What a pairing-code request sends (facts §5.2 step 3).
pub(crate) struct LinkCodeHello<'a> {
    pub(crate) phone: &'a Jid,
    pub(crate) wrapped_ephemeral: &'a [u8],
    pub(crate) noise_public: &'a [u8; 32],
    pub(crate) platform_id: &'a str,
    pub(crate) platform_display: &'a str,
    pub(crate) push_notification: bool,
}

/// `companion_hello`: starts pairing with a code.
pub(crate) fn link_code_hello(hello: &LinkCodeHello<'_>) -> Node {
    server_iq(
        "set",
        "md",
        vec![
            Node::new("link_code_companion_reg")
                .attr("jid", hello.phone.clone())
                .attr("stage", "companion_hello")
                .attr("should_show_push_notification", hello.push_notification)
                .children([
                    Node::new("link_code_pairing_wrapped_companion_ephemeral_pub")
                        .bytes(hello.wrapped_ephemeral.to_vec()),
                    Node::new("companion_server_auth_key_pub").bytes(hello.noise_public.to_vec()),
                    Node::new("companion_platform_id").bytes(hello.platform_id.as_bytes().to_vec()),
                    Node::new("companion_platform_display")
                        .bytes(hello.platform_display.as_bytes().to_vec()),
                    Node::new("link_code_pairing_nonce").bytes(vec![0]),
                ]),
        ],
    )
}

/// `companion_finish`: sends the wrapped key bundle (facts §5.2 step 7).
pub(crate) fn link_code_finish(
    phone: &Jid,
    wrapped_key_bundle: Vec<u8>,
    identity: &[u8; 32],
    pairing_ref: Vec<u8>,
) -> Node {
    server_iq(
        "set",
        "md",
        vec![
            Node::new("link_code_companion_reg")
                .attr("jid", phone.clone())
                .attr("stage", "companion_finish")
                .children([
                    Node::new("link_code_pairing_wrapped_key_bundle").bytes(wrapped_key_bundle),
                    Node::new("companion_identity_public").bytes(identity.to_vec()),
                    Node::new("link_code_pairing_ref").bytes(pairing_ref),
                ]),
        ],
    )
}

/// Reads `<stream:error code><conflict type/></stream:error>` (facts §7.1).
pub(crate) fn parse_stream_error(node: &Node) -> StreamError {
    StreamError {
        code: node
            .str_attr("code")
            .and_then(|code| code.parse().ok())
            .map(StreamErrorCode::from_code),
        conflict: node
            .child("conflict")
            .map(|conflict| match conflict.str_attr("type") {
                Some("replaced") => ConflictKind::Replaced,
                Some("device_removed") => ConflictKind::DeviceRemoved,
                _ => ConflictKind::Other,
            }),
    }
}

/// Reads `<failure reason …/>` (facts §7.2); a missing reason counts as 500, as in Baileys.
pub(crate) fn parse_failure(node: &Node) -> LoginFailure {
    let text = |key: &str| node.str_attr(key).map(str::to_owned);
    LoginFailure {
        reason: FailureReason::from_code(
            node.str_attr("reason")
                .and_then(|r| r.parse().ok())
                .unwrap_or(500),
        ),
        ban_reason: node
            .str_attr("code")
            .and_then(|c| c.parse().ok())
            .map(BanReason::from_code),
        expire: node
            .str_attr("expire")
            .and_then(|e| e.parse().ok())
            .map(Duration::from_secs),
        message: text("message"),
        logout_message_header: text("logout_message_header"),
        logout_message_subtext: text("logout_message_subtext"),
    }
}

/// The phone number a person typed, as the digits of a JID user, or why not
/// (whatsmeow's rule: more than 6 digits, no leading 0).
pub(crate) fn phone_user(phone: &str) -> Result<String, &'static str> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 6 {
        Err("fewer than 7 digits")
    } else if digits.starts_with('0') {
        Err("starts with 0 (use the international form)")
    } else {
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::{decode, encode};

    #[test]
    fn ping_matches_the_documented_bytes() {
        // facts §4.7: <iq id="1.2-3" to="@s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>
        let documented = hex::decode("f80a1908ff831b2a3f11fa000304291657f801f80156").unwrap();
        assert_eq!(decode(&documented).unwrap(), ping().attr("id", "1.2-3"));
    }

    #[test]
    fn acks_copy_what_they_must() {
        let notification = Node::new("notification")
            .attr("id", "n1")
            .attr("from", Jid::server_jid())
            .attr("type", "encrypt")
            .attr("participant", "1@s.whatsapp.net");
        let reply = ack(&notification).unwrap();
        assert_eq!(
            reply.to_string(),
            r#"<ack class="notification" id="n1" to="s.whatsapp.net" participant="1@s.whatsapp.net" type="encrypt"/>"#
        );
        let message = Node::new("message")
            .attr("id", "m1")
            .attr("from", "2@s.whatsapp.net")
            .attr("type", "text");
        assert_eq!(ack_type(&message), None);
        assert!(ack(&Node::new("receipt").attr("id", "x")).is_none());
    }

    fn ack_type(node: &Node) -> Option<String> {
        ack(node).and_then(|a| a.str_attr("type").map(str::to_owned))
    }

    #[test]
    fn unified_session_id() {
        // now = 0 with no offset: 3 days in ms.
        let node = unified_session(0, 0);
        assert_eq!(
            node.child("unified_session").and_then(|n| n.str_attr("id")),
            Some("259200000")
        );
        // 4 days + offset of 1 s wraps past a week: 1 s.
        let node = unified_session(4 * 86_400_000, 1_000);
        assert_eq!(
            node.child("unified_session").and_then(|n| n.str_attr("id")),
            Some("1000")
        );
        let node = unified_session(0, -1);
        assert_eq!(
            node.child("unified_session").and_then(|n| n.str_attr("id")),
            Some("259199999")
        );
    }

    #[test]
    fn server_errors_parse() {
        let node = Node::new("stream:error")
            .attr("code", "401")
            .children([Node::new("conflict").attr("type", "device_removed")]);
        assert_eq!(
            parse_stream_error(&node),
            StreamError {
                code: Some(StreamErrorCode::Unauthorized),
                conflict: Some(ConflictKind::DeviceRemoved)
            }
        );
        let ban = Node::new("failure")
            .attr("reason", "402")
            .attr("code", "101")
            .attr("expire", "3600");
        let failure = parse_failure(&ban);
        assert_eq!(failure.reason, FailureReason::TemporarilyBanned);
        assert_eq!(failure.ban_reason, Some(BanReason::SentToTooManyPeople));
        assert_eq!(failure.expire, Some(Duration::from_secs(3600)));
        assert_eq!(
            parse_failure(&Node::new("failure")).reason,
            FailureReason::InternalServerError
        );
        let round = decode(&encode(&ban).unwrap()).unwrap();
        assert_eq!(parse_failure(&round), failure);
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(phone_user("+51 987 654 321"), Ok("51987654321".into()));
        assert!(phone_user("123456").is_err());
        assert!(phone_user("0987654321").is_err());
    }
}
