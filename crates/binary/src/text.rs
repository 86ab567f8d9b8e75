//! [`Text`]: the string type of tags, attribute keys, string values and JID users.
//!
//! Owns a small-string representation chosen for stanzas: token strings are `&'static`
//! references into the dictionaries, strings of up to 22 bytes (message ids, phone
//! numbers, LIDs, iq ids, timestamps) are stored inline, only longer ones allocate. This
//! keeps decoding from allocating for almost every string. Does not own any encoding.

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest string stored without allocating.
const INLINE: usize = 22;

/// An immutable string: a static reference, up to 22 bytes inline, or a heap string.
///
/// Behaves like `str` (it derefs to it and compares with `&str` and `String`); build it
/// with `From<&str>` / `From<String>` or [`Text::from_static`].
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    /// The empty string.
    pub const fn new() -> Text {
        Text(Repr::Static(""))
    }

    /// A static string, stored as a reference (no copy).
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // Only ever filled from a `&str`, so this is valid UTF-8 and cannot fail.
            Repr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }

    /// The string's bytes (no UTF-8 check, so cheaper than `as_str` for comparisons).
    #[inline(always)]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Static(s) => s.as_bytes(),
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// Length in bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Static(s) => s.len(),
            Repr::Inline { len, .. } => usize::from(*len),
            Repr::Heap(s) => s.len(),
        }
    }

    /// True for the empty string.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Text from bytes the caller knows are ASCII (the packed-string alphabets). Anything
    /// else becomes the empty string, never invalid UTF-8.
    pub(crate) fn from_ascii(bytes: &[u8]) -> Text {
        if !bytes.is_ascii() {
            return Text::new();
        }
        match bytes.len() {
            len @ 0..=INLINE => {
                let mut inline = [0u8; INLINE];
                if let Some(prefix) = inline.get_mut(..len) {
                    prefix.copy_from_slice(bytes);
                }
                Text(Repr::Inline {
                    len: len as u8,
                    bytes: inline,
                })
            }
            _ => Text(Repr::Heap(String::from_utf8_lossy(bytes).into())),
        }
    }

    /// The string, owned.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Heap(s) => s.into_string(),
            _ => self.as_str().to_owned(),
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::new()
    }
}

impl From<&str> for Text {
    /// Copies the string: inline when it is short, else into one heap allocation.
    fn from(s: &str) -> Text {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            if let Some(prefix) = bytes.get_mut(..s.len()) {
                prefix.copy_from_slice(s.as_bytes());
            }
            Text(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            Text(Repr::Heap(s.into()))
        }
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::from(s.as_str())
    }
}

impl From<String> for Text {
    /// Takes the string's allocation.
    fn from(s: String) -> Text {
        Text(Repr::Heap(s.into_boxed_str()))
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Text {
        Text(Repr::Heap(s))
    }
}

impl From<Cow<'_, str>> for Text {
    fn from(s: Cow<'_, str>) -> Text {
        match s {
            Cow::Borrowed(s) => Text::from(s),
            Cow::Owned(s) => Text::from(s),
        }
    }
}

impl From<&Text> for Text {
    fn from(s: &Text) -> Text {
        s.clone()
    }
}

impl From<Text> for String {
    fn from(s: Text) -> String {
        s.into_string()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    #[inline(always)]
    fn eq(&self, other: &Text) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> Ordering {
        // Byte order is the order of `str`.
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_representation_is_the_same_string() {
        let long = "a string longer than twenty-two bytes";
        let forms = [
            (Text::from_static("message"), "message"),
            (Text::from("message"), "message"),
            (Text::from(String::from("message")), "message"),
            (
                Text::from("3EB0C767D26A1D8E7BA5D2"),
                "3EB0C767D26A1D8E7BA5D2",
            ),
            (Text::from(long), long),
            (Text::from("é✓"), "é✓"),
            (Text::new(), ""),
            (Text::from(""), ""),
        ];
        for (text, s) in forms {
            assert_eq!(text.as_str(), s);
            assert_eq!(text, s);
            assert_eq!(&*text, s);
            assert_eq!(text.to_string(), s);
            assert_eq!(text.clone().into_string(), s);
        }
        assert_eq!(Text::from_static("a"), Text::from(String::from("a")));
        assert_eq!(Text::from("a").cmp(&Text::from_static("b")), Ordering::Less);
        assert!(matches!(
            Text::from("3EB0C767D26A1D8E7BA5D2").0,
            Repr::Inline { len: 22, .. }
        ));
        assert!(matches!(
            Text::from("3EB0C767D26A1D8E7BA5D2X").0,
            Repr::Heap(_)
        ));
        assert_eq!(format!("{:?}", Text::from("a\"b")), "\"a\\\"b\"");
        // as small as a `String` on 64-bit targets, while holding 22 bytes inline
        assert_eq!(std::mem::size_of::<Text>(), 24);
        assert_eq!(Text::from_ascii(b"0123456789"), "0123456789");
        assert_eq!(Text::from_ascii(&[b'7'; 40]), "7".repeat(40));
        assert_eq!(Text::from_ascii(&[0xff]), "");
    }
}
