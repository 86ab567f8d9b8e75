//! Addressing: what a person types as a recipient, turned into a [`Jid`].
//!
//! Owns the normalisation of phone numbers in human formats (`+51 987 654 321`,
//! `0051-987-654-321`, `(987) 654 321` with a default country code) into
//! phone-number JIDs, the acceptance of JIDs written out in full, and the typed
//! reasons a recipient or a message body is refused. Pure functions; does not
//! know whether a number is on WhatsApp (that is a usync query).

use crate::binary::Jid;

/// Fewest digits of an international number (country code included).
pub const MIN_PHONE_DIGITS: usize = 7;
/// Most digits of an international number (E.164).
pub const MAX_PHONE_DIGITS: usize = 15;

/// Why a recipient or a message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing was given.
    #[error("empty recipient")]
    Empty,
    /// A character that has no place in a phone number.
    #[error("unexpected character {0:?} in a phone number")]
    InvalidCharacter(char),
    /// Too few digits for an international number.
    #[error("{0} digits are too few for a phone number")]
    TooShort(usize),
    /// More digits than any international number has.
    #[error("{0} digits are too many for a phone number")]
    TooLong(usize),
    /// A national number (leading 0) without a default country code.
    #[error("a national number needs a country code (write +<country> or set a default)")]
    NeedsCountryCode,
    /// The default country code is not 1–3 digits without a leading 0.
    #[error("invalid default country code {0:?}")]
    InvalidCountryCode(String),
    /// Text with `@` that is not a usable user or group JID.
    #[error("invalid JID {0:?}")]
    InvalidJid(String),
    /// The message text is empty (or only whitespace).
    #[error("empty message")]
    EmptyMessage,
}

/// Normalises a phone number written by a person into its digits with the
/// country code (`"+51 987 654 321"` → `"51987654321"`).
///
/// `+` or `00` marks an international number; otherwise the number is taken
/// as national when `default_country_code` is given (one leading trunk `0` is
/// dropped) and as international when it is not. Spaces, dashes, dots and
/// parentheses are ignored.
pub fn normalize_phone(
    input: &str,
    default_country_code: Option<&str>,
) -> Result<String, AddressError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(AddressError::Empty);
    }
    let (international, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' | '/' => {}
            other => return Err(AddressError::InvalidCharacter(other)),
        }
    }
    let digits = if international {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else {
        match default_country_code {
            Some(code) => {
                let code = valid_country_code(code)?;
                let national = digits.strip_prefix('0').unwrap_or(&digits);
                format!("{code}{national}")
            }
            None if digits.starts_with('0') => return Err(AddressError::NeedsCountryCode),
            None => digits,
        }
    };
    if digits.starts_with('0') {
        return Err(AddressError::NeedsCountryCode);
    }
    if digits.len() < MIN_PHONE_DIGITS {
        return Err(AddressError::TooShort(digits.len()));
    }
    if digits.len() > MAX_PHONE_DIGITS {
        return Err(AddressError::TooLong(digits.len()));
    }
    Ok(digits)
}

fn valid_country_code(code: &str) -> Result<&str, AddressError> {
    let code = code.trim().trim_start_matches('+');
    let ok = (1..=3).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_digit())
        && !code.starts_with('0');
    if ok {
        Ok(code)
    } else {
        Err(AddressError::InvalidCountryCode(code.to_owned()))
    }
}

/// A recipient as a JID: a JID written out (`…@s.whatsapp.net`, `…@lid`,
/// `…@g.us`; the device part is dropped) or a phone number (see
/// [`normalize_phone`]).
pub fn parse_recipient(
    input: &str,
    default_country_code: Option<&str>,
) -> Result<Jid, AddressError> {
    let trimmed = input.trim();
    if trimmed.contains('@') {
        let jid: Jid = trimmed
            .parse()
            .map_err(|_| AddressError::InvalidJid(trimmed.to_owned()))?;
        let usable = (jid.is_pn() || jid.is_lid() || jid.is_group()) && !jid.user().is_empty();
        if !usable {
            return Err(AddressError::InvalidJid(trimmed.to_owned()));
        }
        if jid.is_pn() {
            // Validate the digits the same way as a typed number.
            normalize_phone(&format!("+{}", jid.user()), None)
                .map_err(|_| AddressError::InvalidJid(trimmed.to_owned()))?;
        }
        return Ok(jid.to_non_ad());
    }
    normalize_phone(trimmed, default_country_code).map(Jid::pn)
}

/// Refuses an empty (or whitespace-only) message text.
pub fn check_text(text: &str) -> Result<(), AddressError> {
    if text.trim().is_empty() {
        Err(AddressError::EmptyMessage)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_formats_normalise_to_the_same_digits() {
        for input in [
            "+51 987 654 321",
            "+51-987-654-321",
            "0051 987 654 321",
            "  +51 (987) 654.321 ",
            "51987654321",
        ] {
            assert_eq!(
                normalize_phone(input, None).as_deref(),
                Ok("51987654321"),
                "{input}"
            );
        }
    }

    #[test]
    fn default_country_code_applies_to_national_numbers_only() {
        assert_eq!(
            normalize_phone("987 654 321", Some("51")).as_deref(),
            Ok("51987654321")
        );
        // A trunk prefix is dropped.
        assert_eq!(
            normalize_phone("030 1234567", Some("+49")).as_deref(),
            Ok("49301234567")
        );
        // An international number ignores the default.
        assert_eq!(
            normalize_phone("+1 555 000 1001", Some("51")).as_deref(),
            Ok("15550001001")
        );
        assert_eq!(
            normalize_phone("987", Some("0")),
            Err(AddressError::InvalidCountryCode("0".into()))
        );
        assert_eq!(
            normalize_phone("987654", Some("5100")),
            Err(AddressError::InvalidCountryCode("5100".into()))
        );
    }

    #[test]
    fn impossible_numbers_are_refused_with_a_reason() {
        assert_eq!(normalize_phone("", None), Err(AddressError::Empty));
        assert_eq!(normalize_phone("   ", None), Err(AddressError::Empty));
        assert_eq!(
            normalize_phone("+51 987x", None),
            Err(AddressError::InvalidCharacter('x'))
        );
        assert_eq!(
            normalize_phone("+51 98", None),
            Err(AddressError::TooShort(4))
        );
        assert_eq!(
            normalize_phone("+1234567890123456", None),
            Err(AddressError::TooLong(16))
        );
        assert_eq!(
            normalize_phone("0987 654 321", None),
            Err(AddressError::NeedsCountryCode)
        );
        assert_eq!(
            normalize_phone("+0987 654 321", None),
            Err(AddressError::NeedsCountryCode)
        );
    }

    #[test]
    fn recipients_accept_jids_and_numbers() {
        assert_eq!(
            parse_recipient("+1 555 000 1001", None),
            Ok(Jid::pn("15550001001"))
        );
        assert_eq!(
            parse_recipient("15550001001:3@s.whatsapp.net", None),
            Ok(Jid::pn("15550001001"))
        );
        assert_eq!(
            parse_recipient("12345678@lid", None),
            Ok(Jid::lid("12345678"))
        );
        assert_eq!(
            parse_recipient("120363000000000001@g.us", None),
            Ok(Jid::group("120363000000000001"))
        );
        assert!(matches!(
            parse_recipient("abc@s.whatsapp.net", None),
            Err(AddressError::InvalidJid(_))
        ));
        assert!(matches!(
            parse_recipient("@s.whatsapp.net", None),
            Err(AddressError::InvalidJid(_))
        ));
    }

    #[test]
    fn empty_texts_are_refused() {
        assert_eq!(check_text(""), Err(AddressError::EmptyMessage));
        assert_eq!(check_text(" \n\t"), Err(AddressError::EmptyMessage));
        assert_eq!(check_text("hola"), Ok(()));
    }
}
