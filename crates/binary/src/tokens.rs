//! Token dictionaries, version 3: the strings WABinary writes as one or two bytes.
//!
//! Owns the single-byte table (236 entries, index 0 unused) and the four double-byte
//! dictionaries (256 entries each), plus a string-to-token lookup built at compile time.
//! Does not own the tag bytes that surround tokens (see `encode`/`decode`).
//!
//! The tables are protocol data; they match the dictionary version 3 used by current
//! WhatsApp Web clients.

/// Version of the token dictionaries below; sent as the 4th byte of the connection
/// intro header (`57 41 06 03`).
pub const DICT_VERSION: u8 = 3;

/// Single-byte tokens of the JID servers, which the decoder maps straight to a server.
pub(crate) const S_WHATSAPP_NET: u8 = 3;
pub(crate) const BROADCAST: u8 = 13;
pub(crate) const G_US: u8 = 28;
pub(crate) const LID: u8 = 118;
pub(crate) const MSGR: u8 = 204;

/// A string's token form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// One byte, `1..=235`.
    Single(u8),
    /// Dictionary `0..=3` (written as tag byte `236 + dictionary`) and index.
    Double(u8, u8),
}

/// The string of a single-byte token (`1..=235`).
#[inline(always)]
pub(crate) fn single(index: u8) -> Option<&'static str> {
    match usize::from(index) {
        0 => None,
        index if index < SINGLE_BYTE.len() => token_text(index),
        _ => None,
    }
}

/// The string of a double-byte token.
#[inline(always)]
pub(crate) fn double(dictionary: u8, index: u8) -> Option<&'static str> {
    if usize::from(dictionary) >= DOUBLE_BYTE.len() {
        return None;
    }
    token_text(SINGLE_BYTE.len() + 256 * usize::from(dictionary) + usize::from(index))
}

/// Every token's text back to back (single-byte tokens, then the four
/// dictionaries), with the end offset of each: 2 bytes per token instead of a
/// 8-byte `&str`, and the per-token strings stay out of the module.
const TOKEN_COUNT: usize = SINGLE_BYTE.len() + 4 * 256;
const TEXT_LEN: usize = text_len();
const TEXT_BYTES: [u8; TEXT_LEN] = text_bytes();
static TEXT: &str = match core::str::from_utf8(&TEXT_BYTES) {
    Ok(text) => text,
    // Unreachable (the tables are ASCII); every lookup would miss, which the
    // tests catch.
    Err(_) => "",
};
static ENDS: [u16; TOKEN_COUNT] = ends();

#[inline(always)]
fn token_text(position: usize) -> Option<&'static str> {
    let end = usize::from(*ENDS.get(position)?);
    let start = match position.checked_sub(1) {
        Some(previous) => usize::from(*ENDS.get(previous)?),
        None => 0,
    };
    TEXT.get(start..end)
}

/// The token strings in [`TEXT`] order.
const fn nth_token(position: usize) -> &'static str {
    if position < SINGLE_BYTE.len() {
        SINGLE_BYTE[position]
    } else {
        let double = position - SINGLE_BYTE.len();
        DOUBLE_BYTE[double / 256][double % 256]
    }
}

const fn text_len() -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < TOKEN_COUNT {
        len += nth_token(i).len();
        i += 1;
    }
    len
}

const fn text_bytes() -> [u8; TEXT_LEN] {
    let mut text = [0u8; TEXT_LEN];
    let mut at = 0;
    let mut i = 0;
    while i < TOKEN_COUNT {
        let token = nth_token(i).as_bytes();
        let mut j = 0;
        while j < token.len() {
            text[at] = token[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    text
}

const fn ends() -> [u16; TOKEN_COUNT] {
    let mut ends = [0u16; TOKEN_COUNT];
    let mut at = 0;
    let mut i = 0;
    while i < TOKEN_COUNT {
        at += nth_token(i).len();
        ends[i] = at as u16;
        i += 1;
    }
    ends
}

/// The token for `s`, if it has one (single-byte tokens win over double-byte ones).
pub(crate) fn lookup(s: &str) -> Option<Token> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut slot = hash(bytes) as usize & SLOT_MASK;
    // The table is at most a third full, so probes end quickly at an empty slot.
    loop {
        let code = *LOOKUP.get(slot)?;
        if code == EMPTY {
            return None;
        }
        let token = decode_code(code);
        let text = match token {
            Token::Single(i) => single(i),
            Token::Double(d, i) => double(d, i),
        };
        if text.is_some_and(|t| t.as_bytes() == bytes) {
            return Some(token);
        }
        slot = (slot + 1) & SLOT_MASK;
    }
}

/// Longest token string, so longer strings skip hashing.
const MAX_TOKEN_LEN: usize = max_token_len();
const SLOTS: usize = 4096;
const SLOT_MASK: usize = SLOTS - 1;
const EMPTY: u16 = 0;

/// Open-addressing table of token codes: `1..=235` single-byte, `256 + 256 * dict + index`
/// double-byte, 0 empty. Built by the compiler, so there is no start-up cost.
static LOOKUP: [u16; SLOTS] = build_lookup();

fn decode_code(code: u16) -> Token {
    let [high, low] = code.to_be_bytes();
    match high {
        0 => Token::Single(low),
        _ => Token::Double(high - 1, low),
    }
}

/// FNV-1a, 32-bit: short keys, no allocation, usable in `const` context.
const fn hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

const fn insert(table: &mut [u16; SLOTS], s: &str, code: u16) {
    let mut slot = hash(s.as_bytes()) as usize & SLOT_MASK;
    while table[slot] != EMPTY {
        slot = (slot + 1) & SLOT_MASK;
    }
    table[slot] = code;
}

const fn build_lookup() -> [u16; SLOTS] {
    let mut table = [EMPTY; SLOTS];
    let mut i = 1;
    while i < SINGLE_BYTE.len() {
        insert(&mut table, SINGLE_BYTE[i], i as u16);
        i += 1;
    }
    let mut d = 0;
    while d < DOUBLE_BYTE.len() {
        let mut j = 0;
        while j < DOUBLE_BYTE[d].len() {
            insert(
                &mut table,
                DOUBLE_BYTE[d][j],
                256 * (d as u16 + 1) + j as u16,
            );
            j += 1;
        }
        d += 1;
    }
    table
}

const fn max_token_len() -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < SINGLE_BYTE.len() {
        if SINGLE_BYTE[i].len() > max {
            max = SINGLE_BYTE[i].len();
        }
        i += 1;
    }
    let mut d = 0;
    while d < DOUBLE_BYTE.len() {
        let mut j = 0;
        while j < DOUBLE_BYTE[d].len() {
            if DOUBLE_BYTE[d][j].len() > max {
                max = DOUBLE_BYTE[d][j].len();
            }
            j += 1;
        }
        d += 1;
    }
    max
}

#[rustfmt::skip]
const SINGLE_BYTE: [&str; 236] = [
    // 0
    "", "xmlstreamstart", "xmlstreamend", "s.whatsapp.net", "type", "participant", "from", "receipt",
    // 8
    "id", "notification", "disappearing_mode", "status", "jid", "broadcast", "user", "devices",
    // 16
    "device_hash", "to", "offline", "message", "result", "class", "xmlns", "duration",
    // 24
    "notify", "iq", "t", "ack", "g.us", "enc", "urn:xmpp:whatsapp:push", "presence",
    // 32
    "config_value", "picture", "verified_name", "config_code", "key-index-list", "contact", "mediatype", "routing_info",
    // 40
    "edge_routing", "get", "read", "urn:xmpp:ping", "fallback_hostname", "0", "chatstate", "business_hours_config",
    // 48
    "unavailable", "download_buckets", "skmsg", "verified_level", "composing", "handshake", "device-list", "media",
    // 56
    "text", "fallback_ip4", "media_conn", "device", "creation", "location", "config", "item",
    // 64
    "fallback_ip6", "count", "w:profile:picture", "image", "business", "2", "hostname", "call-creator",
    // 72
    "display_name", "relaylatency", "platform", "abprops", "success", "msg", "offline_preview", "prop",
    // 80
    "key-index", "v", "day_of_week", "pkmsg", "version", "1", "ping", "w:p",
    // 88
    "download", "video", "set", "specific_hours", "props", "primary", "unknown", "hash",
    // 96
    "commerce_experience", "last", "subscribe", "max_buckets", "call", "profile", "member_since_text", "close_time",
    // 104
    "call-id", "sticker", "mode", "participants", "value", "query", "profile_options", "open_time",
    // 112
    "code", "list", "host", "ts", "contacts", "upload", "lid", "preview",
    // 120
    "update", "usync", "w:stats", "delivery", "auth_ttl", "context", "fail", "cart_enabled",
    // 128
    "appdata", "category", "atn", "direct_connection", "decrypt-fail", "relay_id", "mmg-fallback.whatsapp.net", "target",
    // 136
    "available", "name", "last_id", "mmg.whatsapp.net", "categories", "401", "is_new", "index",
    // 144
    "tctoken", "ip4", "token_id", "latency", "recipient", "edit", "ip6", "add",
    // 152
    "thumbnail-document", "26", "paused", "true", "identity", "stream:error", "key", "sidelist",
    // 160
    "background", "audio", "3", "thumbnail-image", "biz-cover-photo", "cat", "gcm", "thumbnail-video",
    // 168
    "error", "auth", "deny", "serial", "in", "registration", "thumbnail-link", "remove",
    // 176
    "00", "gif", "thumbnail-gif", "tag", "capability", "multicast", "item-not-found", "description",
    // 184
    "business_hours", "config_expo_key", "md-app-state", "expiration", "fallback", "ttl", "300", "md-msg-hist",
    // 192
    "device_orientation", "out", "w:m", "open_24h", "side_list", "token", "inactive", "01",
    // 200
    "document", "te2", "played", "encrypt", "msgr", "hide", "direct_path", "12",
    // 208
    "state", "not-authorized", "url", "terminate", "signature", "status-revoke-delay", "02", "te",
    // 216
    "linked_accounts", "trusted_contact", "timezone", "ptt", "kyc-id", "privacy_token", "readreceipts", "appointment_only",
    // 224
    "address", "expected_ts", "privacy", "7", "android", "interactive", "device-identity", "enabled",
    // 232
    "attribute_padding", "1080", "03", "screen_height",
];

#[rustfmt::skip]
const DOUBLE_BYTE: [[&str; 256]; 4] = [
    // dictionary 0 (tag byte 236)
    [
        // 0
        "read-self", "active", "fbns", "protocol", "reaction", "screen_width", "heartbeat", "deviceid",
        // 8
        "2:47DEQpj8", "uploadfieldstat", "voip_settings", "retry", "priority", "longitude", "conflict", "false",
        // 16
        "ig_professional", "replaced", "preaccept", "cover_photo", "uncompressed", "encopt", "ppic", "04",
        // 24
        "passive", "status-revoke-drop", "keygen", "540", "offer", "rate", "opus", "latitude",
        // 32
        "w:gp2", "ver", "4", "business_profile", "medium", "sender", "prev_v_id", "email",
        // 40
        "website", "invited", "sign_credential", "05", "transport", "skey", "reason", "peer_abtest_bucket",
        // 48
        "America/Sao_Paulo", "appid", "refresh", "100", "06", "404", "101", "104",
        // 56
        "107", "102", "109", "103", "member_add_mode", "105", "transaction-id", "110",
        // 64
        "106", "outgoing", "108", "111", "tokens", "followers", "ig_handle", "self_pid",
        // 72
        "tue", "dec", "thu", "joinable", "peer_pid", "mon", "features", "wed",
        // 80
        "peer_device_presence", "pn", "delete", "07", "fri", "audio_duration", "admin", "connected",
        // 88
        "delta", "rcat", "disable", "collection", "08", "480", "sat", "phash",
        // 96
        "all", "invite", "accept", "critical_unblock_low", "group_update", "signed_credential", "blinded_credential", "eph_setting",
        // 104
        "net", "09", "background_location", "refresh_id", "Asia/Kolkata", "privacy_mode_ts", "account_sync", "voip_payload_type",
        // 112
        "service_areas", "acs_public_key", "v_id", "0a", "fallback_class", "relay", "actual_actors", "metadata",
        // 120
        "w:biz", "5", "connected-limit", "notice", "0b", "host_storage", "fb_page", "subject",
        // 128
        "privatestats", "invis", "groupadd", "010", "note.m4r", "uuid", "0c", "8000",
        // 136
        "sun", "372", "1020", "stage", "1200", "720", "canonical", "fb",
        // 144
        "011", "video_duration", "0d", "1140", "superadmin", "012", "Opening.m4r", "keystore_attestation",
        // 152
        "dleq_proof", "013", "timestamp", "ab_key", "w:sync:app:state", "0e", "vertical", "600",
        // 160
        "p_v_id", "6", "likes", "014", "500", "1260", "creator", "0f",
        // 168
        "rte", "destination", "group", "group_info", "syncd_anti_tampering_fatal_exception_enabled", "015", "dl_bw", "Asia/Jakarta",
        // 176
        "vp8/h.264", "online", "1320", "fb:multiway", "10", "timeout", "016", "nse_retry",
        // 184
        "urn:xmpp:whatsapp:dirty", "017", "a_v_id", "web_shops_chat_header_button_enabled", "nse_call", "inactive-upgrade", "none", "web",
        // 192
        "groups", "2250", "mms_hot_content_timespan_in_seconds", "contact_blacklist", "nse_read", "suspended_group_deletion_notification", "binary_version", "018",
        // 200
        "https://www.whatsapp.com/otp/copy/", "reg_push", "shops_hide_catalog_attachment_entrypoint", "server_sync", ".", "ephemeral_messages_allowed_values", "019", "mms_vcache_aggregation_enabled",
        // 208
        "iphone", "America/Argentina/Buenos_Aires", "01a", "mms_vcard_autodownload_size_kb", "nse_ver", "shops_header_dropdown_menu_item", "dhash", "catalog_status",
        // 216
        "communities_mvp_new_iqs_serverprop", "blocklist", "default", "11", "ephemeral_messages_enabled", "01b", "original_dimensions", "8",
        // 224
        "mms4_media_retry_notification_encryption_enabled", "mms4_server_error_receipt_encryption_enabled", "original_image_url", "sync", "multiway", "420", "companion_enc_static", "shops_profile_drawer_entrypoint",
        // 232
        "01c", "vcard_as_document_size_kb", "status_video_max_duration", "request_image_url", "01d", "regular_high", "s_t", "abt",
        // 240
        "share_ext_min_preliminary_image_quality", "01e", "32", "syncd_key_rotation_enabled", "data_namespace", "md_downgrade_read_receipts2", "patch", "polltype",
        // 248
        "ephemeral_messages_setting", "userrate", "15", "partial_pjpeg_bw_threshold", "played-self", "catalog_exists", "01f", "mute_v2",
    ],
    // dictionary 1 (tag byte 237)
    [
        // 0
        "reject", "dirty", "announcement", "020", "13", "9", "status_video_max_bitrate", "fb:thrift_iq",
        // 8
        "offline_batch", "022", "full", "ctwa_first_business_reply_logging", "h.264", "smax_id", "group_description_length", "https://www.whatsapp.com/otp/code",
        // 16
        "status_image_max_edge", "smb_upsell_business_profile_enabled", "021", "web_upgrade_to_md_modal", "14", "023", "s_o", "smaller_video_thumbs_status_enabled",
        // 24
        "media_max_autodownload", "960", "blocking_status", "peer_msg", "joinable_group_call_client_version", "group_call_video_maximization_enabled", "return_snapshot", "high",
        // 32
        "America/Mexico_City", "entry_point_block_logging_enabled", "pop", "024", "1050", "16", "1380", "one_tap_calling_in_group_chat_size",
        // 40
        "regular_low", "inline_joinable_education_enabled", "hq_image_max_edge", "locked", "America/Bogota", "smb_biztools_deeplink_enabled", "status_image_quality", "1088",
        // 48
        "025", "payments_upi_intent_transaction_limit", "voip", "w:g2", "027", "md_pin_chat_enabled", "026", "multi_scan_pjpeg_download_enabled",
        // 56
        "shops_product_grid", "transaction_id", "ctwa_context_enabled", "20", "fna", "hq_image_quality", "alt_jpeg_doc_detection_quality", "group_call_max_participants",
        // 64
        "pkey", "America/Belem", "image_max_kbytes", "web_cart_v1_1_order_message_changes_enabled", "ctwa_context_enterprise_enabled", "urn:xmpp:whatsapp:account", "840", "Asia/Kuala_Lumpur",
        // 72
        "max_participants", "video_remux_after_repair_enabled", "stella_addressbook_restriction_type", "660", "900", "780", "context_menu_ios13_enabled", "mute-state",
        // 80
        "ref", "payments_request_messages", "029", "frskmsg", "vcard_max_size_kb", "sample_buffer_gif_player_enabled", "match_last_seen", "510",
        // 88
        "4983", "video_max_bitrate", "028", "w:comms:chat", "17", "frequently_forwarded_max", "groups_privacy_blacklist", "Asia/Karachi",
        // 96
        "02a", "web_download_document_thumb_mms_enabled", "02b", "hist_sync", "biz_block_reasons_version", "1024", "18", "web_is_direct_connection_for_plm_transparent",
        // 104
        "view_once_write", "file_max_size", "paid_convo_id", "online_privacy_setting", "video_max_edge", "view_once_read", "enhanced_storage_management", "multi_scan_pjpeg_encoding_enabled",
        // 112
        "ctwa_context_forward_enabled", "video_transcode_downgrade_enable", "template_doc_mime_types", "hq_image_bw_threshold", "30", "body", "u_aud_limit_sil_restarts_ctrl", "other",
        // 120
        "participating", "w:biz:directory", "1110", "vp8", "4018", "meta", "doc_detection_image_max_edge", "image_quality",
        // 128
        "1170", "02c", "smb_upsell_chat_banner_enabled", "key_expiry_time_second", "pid", "stella_interop_enabled", "19", "linked_device_max_count",
        // 136
        "md_device_sync_enabled", "02d", "02e", "360", "enhanced_block_enabled", "ephemeral_icon_in_forwarding", "paid_convo_status", "gif_provider",
        // 144
        "project_name", "server-error", "canonical_url_validation_enabled", "wallpapers_v2", "syncd_clear_chat_delete_chat_enabled", "medianotify", "02f", "shops_required_tos_version",
        // 152
        "vote", "reset_skey_on_id_change", "030", "image_max_edge", "multicast_limit_global", "ul_bw", "21", "25",
        // 160
        "5000", "poll", "570", "22", "031", "1280", "WhatsApp", "032",
        // 168
        "bloks_shops_enabled", "50", "upload_host_switching_enabled", "web_ctwa_context_compose_enabled", "ptt_forwarded_features_enabled", "unblocked", "partial_pjpeg_enabled", "fbid:devices",
        // 176
        "height", "ephemeral_group_query_ts", "group_join_permissions", "order", "033", "alt_jpeg_status_quality", "migrate", "popular-bank",
        // 184
        "win_uwp_deprecation_killswitch_enabled", "web_download_status_thumb_mms_enabled", "blocking", "url_text", "035", "web_forwarding_limit_to_groups", "1600", "val",
        // 192
        "1000", "syncd_msg_date_enabled", "bank-ref-id", "max_subject", "payments_web_enabled", "web_upload_document_thumb_mms_enabled", "size", "request",
        // 200
        "ephemeral", "24", "receipt_agg", "ptt_remember_play_position", "sampling_weight", "enc_rekey", "mute_always", "037",
        // 208
        "034", "23", "036", "action", "click_to_chat_qr_enabled", "width", "disabled", "038",
        // 216
        "md_blocklist_v2", "played_self_enabled", "web_buttons_message_enabled", "flow_id", "clear", "450", "fbid:thread", "bloks_session_state",
        // 224
        "America/Lima", "attachment_picker_refresh", "download_host_switching_enabled", "1792", "u_aud_limit_sil_restarts_test2", "custom_urls", "device_fanout", "optimistic_upload",
        // 232
        "2000", "key_cipher_suite", "web_smb_upsell_in_biz_profile_enabled", "e", "039", "siri_post_status_shortcut", "pair-device", "lg",
        // 240
        "lc", "stream_attribution_url", "model", "mspjpeg_phash_gen", "catalog_send_all", "new_multi_vcards_ui", "share_biz_vcard_enabled", "-",
        // 248
        "clean", "200", "md_blocklist_v2_server", "03b", "03a", "web_md_migration_experience", "ptt_conversation_waveform", "u_aud_limit_sil_restarts_test1",
    ],
    // dictionary 2 (tag byte 238)
    [
        // 0
        "64", "ptt_playback_speed_enabled", "web_product_list_message_enabled", "paid_convo_ts", "27", "manufacturer", "psp-routing", "grp_uii_cleanup",
        // 8
        "ptt_draft_enabled", "03c", "business_initiated", "web_catalog_products_onoff", "web_upload_link_thumb_mms_enabled", "03e", "mediaretry", "35",
        // 16
        "hfm_string_changes", "28", "America/Fortaleza", "max_keys", "md_mhfs_days", "streaming_upload_chunk_size", "5541", "040",
        // 24
        "03d", "2675", "03f", "...", "512", "mute", "48", "041",
        // 32
        "alt_jpeg_quality", "60", "042", "md_smb_quick_reply", "5183", "c", "1343", "40",
        // 40
        "1230", "043", "044", "mms_cat_v1_forward_hot_override_enabled", "user_notice", "ptt_waveform_send", "047", "Asia/Calcutta",
        // 48
        "250", "md_privacy_v2", "31", "29", "128", "md_messaging_enabled", "046", "crypto",
        // 56
        "690", "045", "enc_iv", "75", "failure", "ptt_oot_playback", "AIzaSyDR5yfaG7OG8sMTUj8kfQEb8T9pN8BM6Lk", "w",
        // 64
        "048", "2201", "web_large_files_ui", "Asia/Makassar", "812", "status_collapse_muted", "1334", "257",
        // 72
        "2HP4dm", "049", "patches", "1290", "43cY6T", "America/Caracas", "web_sticker_maker", "campaign",
        // 80
        "ptt_pausable_enabled", "33", "42", "attestation", "biz", "04b", "query_linked", "s",
        // 88
        "125", "04a", "810", "availability", "1411", "responsiveness_v2_m1", "catalog_not_created", "34",
        // 96
        "America/Santiago", "1465", "enc_p", "04d", "status_info", "04f", "key_version", "..",
        // 104
        "04c", "04e", "md_group_notification", "1598", "1215", "web_cart_enabled", "37", "630",
        // 112
        "1920", "2394", "-1", "vcard", "38", "elapsed", "36", "828",
        // 120
        "peer", "pricing_category", "1245", "invalid", "stella_ios_enabled", "2687", "45", "1528",
        // 128
        "39", "u_is_redial_audio_1104_ctrl", "1025", "1455", "58", "2524", "2603", "054",
        // 136
        "bsp_system_message_enabled", "web_pip_redesign", "051", "verify_apps", "1974", "1272", "1322", "1755",
        // 144
        "052", "70", "050", "1063", "1135", "1361", "80", "1096",
        // 152
        "1828", "1851", "1251", "1921", "key_config_id", "1254", "1566", "1252",
        // 160
        "2525", "critical_block", "1669", "max_available", "w:auth:backup:token", "product", "2530", "870",
        // 168
        "1022", "participant_uuid", "web_cart_on_off", "1255", "1432", "1867", "41", "1415",
        // 176
        "1440", "240", "1204", "1608", "1690", "1846", "1483", "1687",
        // 184
        "1749", "69", "url_number", "053", "1325", "1040", "365", "59",
        // 192
        "Asia/Riyadh", "1177", "test_recommended", "057", "1612", "43", "1061", "1518",
        // 200
        "1635", "055", "1034", "1375", "750", "1430", "event_code", "1682",
        // 208
        "503", "55", "865", "78", "1309", "1365", "44", "America/Guayaquil",
        // 216
        "535", "LIMITED", "1377", "1613", "1420", "1599", "1822", "05a",
        // 224
        "1681", "password", "1111", "1214", "1376", "1478", "47", "1082",
        // 232
        "4282", "Europe/Istanbul", "1307", "46", "058", "1124", "256", "rate-overlimit",
        // 240
        "retail", "u_a_socket_err_fix_succ_test", "1292", "1370", "1388", "520", "861", "psa",
        // 248
        "regular", "1181", "1766", "05b", "1183", "1213", "1304", "1537",
    ],
    // dictionary 3 (tag byte 239)
    [
        // 0
        "1724", "profile_picture", "1071", "1314", "1605", "407", "990", "1710",
        // 8
        "746", "pricing_model", "056", "059", "061", "1119", "6027", "65",
        // 16
        "877", "1607", "05d", "917", "seen", "1516", "49", "470",
        // 24
        "973", "1037", "1350", "1394", "1480", "1796", "keys", "794",
        // 32
        "1536", "1594", "2378", "1333", "1524", "1825", "116", "309",
        // 40
        "52", "808", "827", "909", "495", "1660", "361", "957",
        // 48
        "google", "1357", "1565", "1967", "996", "1775", "586", "736",
        // 56
        "1052", "1670", "bank", "177", "1416", "2194", "2222", "1454",
        // 64
        "1839", "1275", "53", "997", "1629", "6028", "smba", "1378",
        // 72
        "1410", "05c", "1849", "727", "create", "1559", "536", "1106",
        // 80
        "1310", "1944", "670", "1297", "1316", "1762", "en", "1148",
        // 88
        "1295", "1551", "1853", "1890", "1208", "1784", "7200", "05f",
        // 96
        "178", "1283", "1332", "381", "643", "1056", "1238", "2024",
        // 104
        "2387", "179", "981", "1547", "1705", "05e", "290", "903",
        // 112
        "1069", "1285", "2436", "062", "251", "560", "582", "719",
        // 120
        "56", "1700", "2321", "325", "448", "613", "777", "791",
        // 128
        "51", "488", "902", "Asia/Almaty", "is_hidden", "1398", "1527", "1893",
        // 136
        "1999", "2367", "2642", "237", "busy", "065", "067", "233",
        // 144
        "590", "993", "1511", "54", "723", "860", "363", "487",
        // 152
        "522", "605", "995", "1321", "1691", "1865", "2447", "2462",
        // 160
        "NON_TRANSACTIONAL", "433", "871", "432", "1004", "1207", "2032", "2050",
        // 168
        "2379", "2446", "279", "636", "703", "904", "248", "370",
        // 176
        "691", "700", "1068", "1655", "2334", "060", "063", "364",
        // 184
        "533", "534", "567", "1191", "1210", "1473", "1827", "069",
        // 192
        "701", "2531", "514", "prev_dhash", "064", "496", "790", "1046",
        // 200
        "1139", "1505", "1521", "1108", "207", "544", "637", "final",
        // 208
        "1173", "1293", "1694", "1939", "1951", "1993", "2353", "2515",
        // 216
        "504", "601", "857", "modify", "spam_request", "p_121_aa_1101_test4", "866", "1427",
        // 224
        "1502", "1638", "1744", "2153", "068", "382", "725", "1704",
        // 232
        "1864", "1990", "2003", "Asia/Dubai", "508", "531", "1387", "1474",
        // 240
        "1632", "2307", "2386", "819", "2014", "066", "387", "1468",
        // 248
        "1706", "2186", "2261", "471", "728", "1147", "1372", "1961",
    ],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_looks_up_to_its_own_position() {
        for (i, s) in SINGLE_BYTE.iter().enumerate().skip(1) {
            assert_eq!(lookup(s), Some(Token::Single(i as u8)), "{s}");
        }
        for (d, dict) in DOUBLE_BYTE.iter().enumerate() {
            for (i, s) in dict.iter().enumerate() {
                assert_eq!(lookup(s), Some(Token::Double(d as u8, i as u8)), "{s}");
            }
        }
    }

    #[test]
    fn known_positions_and_misses() {
        assert_eq!(lookup("s.whatsapp.net"), Some(Token::Single(3)));
        assert_eq!(lookup("iq"), Some(Token::Single(25)));
        assert_eq!(lookup("read-self"), Some(Token::Double(0, 0)));
        assert_eq!(lookup("1961"), Some(Token::Double(3, 255)));
        assert_eq!(single(236), None);
        assert_eq!(single(0), None);
        assert_eq!(single(235), Some("screen_height"));
        for miss in ["", "IQ", "iq ", "s.whatsapp.ne", "hello", "interop"] {
            assert_eq!(lookup(miss), None, "{miss:?}");
        }
    }

    #[test]
    fn server_token_constants() {
        assert_eq!(single(S_WHATSAPP_NET), Some("s.whatsapp.net"));
        assert_eq!(single(BROADCAST), Some("broadcast"));
        assert_eq!(single(G_US), Some("g.us"));
        assert_eq!(single(LID), Some("lid"));
        assert_eq!(single(MSGR), Some("msgr"));
    }

    #[test]
    fn table_sizes() {
        assert_eq!(SINGLE_BYTE.len(), 236);
        assert_eq!(SINGLE_BYTE[0], "");
        let distinct: std::collections::HashSet<&str> = SINGLE_BYTE
            .iter()
            .skip(1)
            .chain(DOUBLE_BYTE.iter().flatten())
            .copied()
            .collect();
        assert_eq!(distinct.len(), 235 + 4 * 256, "tokens must be distinct");
    }
}
