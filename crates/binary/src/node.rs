//! The node model: a tag, attributes and content, with a builder and typed accessors.
//!
//! Owns [`Node`], [`Attrs`], [`Value`], [`Content`] and [`NodeError`] (what the layers
//! above return when a stanza lacks what they need). Does not own the byte encoding
//! (`encode`/`decode`) nor the XML-like text form (`display`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use super::jid::Jid;
use super::text::Text;

/// An attribute value: a string, or a JID (written in its binary JID form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(Text),
    /// A JID.
    Jid(Jid),
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Jid(_) => None,
        }
    }

    /// The JID, if this is a JID value.
    pub fn as_jid(&self) -> Option<&Jid> {
        match self {
            Value::Jid(jid) => Some(jid),
            Value::Str(_) => None,
        }
    }

    /// The value as text (a JID in its `Display` form).
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_str()),
            Value::Jid(jid) => Cow::Owned(jid.to_string()),
        }
    }

    /// True for an empty string (the encoder skips such attributes).
    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_empty())
    }
}

impl fmt::Display for Value {
    /// The string, or the JID's text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Jid(jid) => fmt::Display::fmt(jid, f),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(Text::from(s))
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Str(Text::from(s.as_str()))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Text::from(s))
    }
}

impl From<Text> for Value {
    fn from(s: Text) -> Value {
        Value::Str(s)
    }
}

impl From<Jid> for Value {
    fn from(jid: Jid) -> Value {
        Value::Jid(jid)
    }
}

impl From<&Jid> for Value {
    fn from(jid: &Jid) -> Value {
        Value::Jid(jid.clone())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Str(Text::from_static(if b { "true" } else { "false" }))
    }
}

/// Decimal digits of `n` (with a leading `-` when `negative`), without allocating.
fn decimal(negative: bool, mut n: u64) -> Text {
    let mut digits = [0u8; 21];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        digits[at] = b'-';
    }
    Text::from(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default())
}

macro_rules! value_from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Str(decimal(false, n as u64))
            }
        }
    )*};
}
value_from_unsigned!(u8, u16, u32, u64, usize);

macro_rules! value_from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Str(decimal(n < 0, i64::from(n).unsigned_abs()))
            }
        }
    )*};
}
value_from_signed!(i32, i64);

/// A node's attributes: unique keys, kept in insertion order (the order they are encoded
/// and displayed in); equality ignores the order.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    entries: Vec<(Text, Value)>,
}

impl Attrs {
    /// No attributes.
    pub fn new() -> Attrs {
        Attrs {
            entries: Vec::new(),
        }
    }

    /// No attributes, with room for `n`.
    #[inline]
    pub fn with_capacity(n: usize) -> Attrs {
        Attrs {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`: replaces the value in place if the key exists, else appends.
    /// Returns the previous value.
    pub fn insert(&mut self, key: impl Into<Text>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    /// Keeps only the attributes for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    /// The attributes in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + Clone + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Appends without checking for an existing key (the decoder checks all keys at once).
    #[inline]
    pub(crate) fn push_unchecked(&mut self, key: Text, value: Value) {
        self.entries.push((key, value));
    }

    /// A key that appears twice, if any. Linear for the usual handful of attributes,
    /// sorting beyond that so hostile input cannot make it quadratic.
    #[inline]
    pub(crate) fn find_duplicate(&self) -> Option<&str> {
        match self.entries.as_slice() {
            [] | [_] => None,
            [(a, _), (b, _)] => (a == b).then_some(a.as_str()),
            _ => self.find_duplicate_among_many(),
        }
    }

    fn find_duplicate_among_many(&self) -> Option<&str> {
        const LINEAR_UP_TO: usize = 12;
        if self.entries.len() <= LINEAR_UP_TO {
            for (i, (key, _)) in self.entries.iter().enumerate() {
                if self
                    .entries
                    .iter()
                    .skip(i + 1)
                    .any(|(other, _)| other == key)
                {
                    return Some(key);
                }
            }
            return None;
        }
        // A heap sort: little code in a crate built for speed, and never quadratic.
        let keys: BinaryHeap<&str> = self.entries.iter().map(|(k, _)| k.as_str()).collect();
        keys.into_sorted_vec()
            .windows(2)
            .find(|pair| pair.first() == pair.get(1))
            .and_then(|pair| pair.first().copied())
    }
}

impl PartialEq for Attrs {
    fn eq(&self, other: &Attrs) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.len() <= 12 {
            return self.iter().all(|(k, v)| other.get(k) == Some(v));
        }
        // Keys are unique, so comparing the lists sorted by key compares the sets.
        fn sorted(attrs: &Attrs) -> Vec<ByKey<'_>> {
            attrs
                .entries
                .iter()
                .map(ByKey)
                .collect::<BinaryHeap<_>>()
                .into_sorted_vec()
        }
        sorted(self) == sorted(other)
    }
}

impl Eq for Attrs {}

/// An attribute, ordered by key (keys are unique) and equal when key and value are.
#[derive(PartialEq, Eq)]
struct ByKey<'a>(&'a (Text, Value));

impl Ord for ByKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.0.cmp(&other.0.0)
    }
}

impl PartialOrd for ByKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Into<Text>, V: Into<Value>> FromIterator<(K, V)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Attrs {
        let mut attrs = Attrs::new();
        for (k, v) in iter {
            attrs.insert(k, v);
        }
        attrs
    }
}

/// What a node contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Content {
    /// Nothing (`<tag/>`).
    #[default]
    None,
    /// Child nodes (possibly an empty list, which is encoded and decoded as such).
    Nodes(Vec<Node>),
    /// Bytes. String content on the wire (tokens, packed digits, JIDs) decodes to the
    /// bytes of its UTF-8 text.
    Bytes(Vec<u8>),
}

/// One element of a stanza: `<tag key="value" …>content</tag>`.
///
/// Build with [`Node::new`] and the chaining methods; read with the accessors and the
/// `required_*`/`optional_*` helpers, which return a [`NodeError`] naming the tag and
/// attribute when something is missing or malformed. `Display` (and `Debug`) render
/// readable XML for logs.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The tag (never empty in a valid node).
    pub tag: Text,
    /// The attributes.
    pub attrs: Attrs,
    /// The content.
    pub content: Content,
}

/// Why a node does not have the shape a caller needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// A required attribute is absent.
    #[error("<{tag}> has no attribute {attr:?}")]
    MissingAttr {
        /// The node's tag.
        tag: String,
        /// The attribute.
        attr: String,
    },
    /// An attribute is present but not what was expected (a JID where a string was
    /// needed, a number that does not parse, …).
    #[error("<{tag}> attribute {attr:?} = {value:?} is not {expected}")]
    InvalidAttr {
        /// The node's tag.
        tag: String,
        /// The attribute.
        attr: String,
        /// The value, as text.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A required child is absent.
    #[error("<{tag}> has no <{child}> child")]
    MissingChild {
        /// The node's tag.
        tag: String,
        /// The child's tag.
        child: String,
    },
    /// The content is not what was expected.
    #[error("<{tag}> content is not {expected}")]
    InvalidContent {
        /// The node's tag.
        tag: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The node's tag is not the one expected.
    #[error("expected <{expected}>, got <{tag}>")]
    UnexpectedTag {
        /// The node's tag.
        tag: String,
        /// The expected tag.
        expected: String,
    },
}

/// Building.
impl Node {
    /// A node with a tag, no attributes and no content.
    pub fn new(tag: impl Into<Text>) -> Node {
        Node {
            tag: tag.into(),
            attrs: Attrs::new(),
            content: Content::None,
        }
    }

    /// Sets an attribute (replacing an existing one with the same key).
    #[must_use]
    pub fn attr(mut self, key: impl Into<Text>, value: impl Into<Value>) -> Node {
        self.attrs.insert(key, value);
        self
    }

    /// Sets an attribute when `value` is `Some`.
    #[must_use]
    pub fn attr_opt<V: Into<Value>>(self, key: impl Into<Text>, value: Option<V>) -> Node {
        match value {
            Some(value) => self.attr(key, value),
            None => self,
        }
    }

    /// Appends child nodes (the content becomes a node list if it was not one).
    #[must_use]
    pub fn children(mut self, children: impl IntoIterator<Item = Node>) -> Node {
        match &mut self.content {
            Content::Nodes(nodes) => nodes.extend(children),
            content => *content = Content::Nodes(children.into_iter().collect()),
        }
        self
    }

    /// Sets byte content.
    #[must_use]
    pub fn bytes(mut self, bytes: impl Into<Vec<u8>>) -> Node {
        self.content = Content::Bytes(bytes.into());
        self
    }

    /// Sets the content.
    #[must_use]
    pub fn content(mut self, content: Content) -> Node {
        self.content = content;
        self
    }
}

/// Reading.
impl Node {
    /// The raw value of an attribute.
    pub fn attr_value(&self, key: &str) -> Option<&Value> {
        self.attrs.get(key)
    }

    /// A string attribute (`None` when absent or JID-valued; see [`Node::attr_text`]).
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).and_then(Value::as_str)
    }

    /// A JID-valued attribute (`None` when absent or a string; see [`Node::optional_jid`],
    /// which also parses strings).
    pub fn jid_attr(&self, key: &str) -> Option<&Jid> {
        self.attrs.get(key).and_then(Value::as_jid)
    }

    /// An attribute as text, whatever its type.
    pub fn attr_text(&self, key: &str) -> Option<Cow<'_, str>> {
        self.attrs.get(key).map(Value::to_text)
    }

    /// True when the attribute is present.
    pub fn has_attr(&self, key: &str) -> bool {
        self.attrs.contains(key)
    }

    /// The child nodes (empty unless the content is a node list).
    pub fn child_nodes(&self) -> &[Node] {
        match &self.content {
            Content::Nodes(nodes) => nodes,
            _ => &[],
        }
    }

    /// The first child with this tag.
    pub fn child(&self, tag: &str) -> Option<&Node> {
        self.child_nodes().iter().find(|n| n.tag == tag)
    }

    /// The node at a path of tags below this one (`node.child_path(&["usync", "list"])`).
    pub fn child_path(&self, tags: &[&str]) -> Option<&Node> {
        tags.iter().try_fold(self, |node, tag| node.child(tag))
    }

    /// All children with this tag.
    pub fn children_by_tag<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.child_nodes().iter().filter(move |n| n.tag == tag)
    }

    /// The byte content, if the content is bytes.
    pub fn content_bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Takes the child nodes (empty unless the content is a node list).
    pub fn into_child_nodes(self) -> Vec<Node> {
        match self.content {
            Content::Nodes(nodes) => nodes,
            _ => Vec::new(),
        }
    }

    /// Takes the byte content, if the content is bytes (no copy of large payloads).
    pub fn into_content_bytes(self) -> Option<Vec<u8>> {
        match self.content {
            Content::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The byte content as UTF-8 text, if it is bytes and valid UTF-8.
    pub fn content_str(&self) -> Option<&str> {
        self.content_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Typed reading for the layers above: errors name the tag and the attribute or child.
impl Node {
    /// Checks the tag.
    pub fn expect_tag(&self, expected: &str) -> Result<&Node, NodeError> {
        if self.tag == expected {
            Ok(self)
        } else {
            Err(NodeError::UnexpectedTag {
                tag: self.tag.to_string(),
                expected: expected.to_owned(),
            })
        }
    }

    /// A required string attribute.
    pub fn required_attr(&self, key: &str) -> Result<&str, NodeError> {
        match self.attrs.get(key) {
            Some(Value::Str(s)) => Ok(s),
            Some(value @ Value::Jid(_)) => Err(self.invalid_attr(key, value, "a string")),
            None => Err(self.missing_attr(key)),
        }
    }

    /// An optional string attribute: `Ok(None)` when absent, an error when JID-valued.
    pub fn optional_attr(&self, key: &str) -> Result<Option<&str>, NodeError> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(_) => self.required_attr(key).map(Some),
        }
    }

    /// A required JID attribute (a JID value, or a string that parses as one).
    pub fn required_jid(&self, key: &str) -> Result<Jid, NodeError> {
        self.optional_jid(key)?
            .ok_or_else(|| self.missing_attr(key))
    }

    /// An optional JID attribute (a JID value, or a string that parses as one).
    pub fn optional_jid(&self, key: &str) -> Result<Option<Jid>, NodeError> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(Value::Jid(jid)) => Ok(Some(jid.clone())),
            Some(value @ Value::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.invalid_attr(key, value, "a JID")),
        }
    }

    /// A required attribute parsed with `FromStr` (numbers, enums of the layer above).
    pub fn required_parse<T: FromStr>(&self, key: &str) -> Result<T, NodeError> {
        self.optional_parse(key)?
            .ok_or_else(|| self.missing_attr(key))
    }

    /// An optional attribute parsed with `FromStr`.
    pub fn optional_parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, NodeError> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(value @ Value::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.invalid_attr(key, value, std::any::type_name::<T>())),
            Some(value) => Err(self.invalid_attr(key, value, std::any::type_name::<T>())),
        }
    }

    /// A required unsigned integer attribute (ids, counts, unix times).
    pub fn required_u64(&self, key: &str) -> Result<u64, NodeError> {
        self.required_parse(key)
    }

    /// An optional unsigned integer attribute.
    pub fn optional_u64(&self, key: &str) -> Result<Option<u64>, NodeError> {
        self.optional_parse(key)
    }

    /// An optional boolean attribute: `true`/`1` or `false`/`0`.
    pub fn optional_bool(&self, key: &str) -> Result<Option<bool>, NodeError> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::Str(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(value) => Err(self.invalid_attr(key, value, "a boolean")),
        }
    }

    /// The first child with this tag, or an error naming both tags.
    pub fn required_child(&self, tag: &str) -> Result<&Node, NodeError> {
        self.child(tag).ok_or_else(|| NodeError::MissingChild {
            tag: self.tag.to_string(),
            child: tag.to_owned(),
        })
    }

    /// The byte content, or an error.
    pub fn required_bytes(&self) -> Result<&[u8], NodeError> {
        self.content_bytes()
            .ok_or_else(|| self.invalid_content("bytes"))
    }

    /// The byte content as exactly `N` bytes (keys, signatures, ids), or an error.
    pub fn required_array<const N: usize>(&self) -> Result<[u8; N], NodeError> {
        self.content_bytes()
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| self.invalid_content(byte_count_text(N)))
    }

    /// The byte content read as a big-endian unsigned integer of 1 to 8 bytes (3-byte
    /// pre-key ids, 4-byte registration ids), or an error.
    pub fn required_be_uint(&self) -> Result<u64, NodeError> {
        match self.content_bytes() {
            Some(bytes) if (1..=8).contains(&bytes.len()) => {
                Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
            }
            _ => Err(self.invalid_content("a big-endian integer of 1 to 8 bytes")),
        }
    }

    /// The byte content of the first child with this tag.
    pub fn child_bytes(&self, tag: &str) -> Result<&[u8], NodeError> {
        self.required_child(tag)?.required_bytes()
    }

    /// The byte content of the first child with this tag, as exactly `N` bytes.
    pub fn child_array<const N: usize>(&self, tag: &str) -> Result<[u8; N], NodeError> {
        self.required_child(tag)?.required_array()
    }

    fn missing_attr(&self, key: &str) -> NodeError {
        NodeError::MissingAttr {
            tag: self.tag.to_string(),
            attr: key.to_owned(),
        }
    }

    fn invalid_attr(&self, key: &str, value: &Value, expected: &'static str) -> NodeError {
        NodeError::InvalidAttr {
            tag: self.tag.to_string(),
            attr: key.to_owned(),
            value: value.to_text().into_owned(),
            expected,
        }
    }

    fn invalid_content(&self, expected: &'static str) -> NodeError {
        NodeError::InvalidContent {
            tag: self.tag.to_string(),
            expected,
        }
    }
}

/// Names for the fixed sizes the protocol uses, so errors read well without allocating.
fn byte_count_text(n: usize) -> &'static str {
    match n {
        1 => "exactly 1 byte",
        2 => "exactly 2 bytes",
        3 => "exactly 3 bytes",
        4 => "exactly 4 bytes",
        16 => "exactly 16 bytes",
        32 => "exactly 32 bytes",
        33 => "exactly 33 bytes",
        64 => "exactly 64 bytes",
        _ => "bytes of the expected length",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        Node::new("iq")
            .attr("id", "1.2-3")
            .attr("to", Jid::server_jid())
            .attr("t", 1_700_000_000u64)
            .attr("count", "x")
            .children([
                Node::new("registration").bytes(vec![0, 0, 1, 2]),
                Node::new("key").bytes(vec![7; 32]),
                Node::new("item").attr("id", "1"),
                Node::new("item").attr("id", "2"),
            ])
    }

    #[test]
    fn builder_and_accessors() {
        let node = sample();
        assert_eq!(node.str_attr("id"), Some("1.2-3"));
        assert_eq!(node.str_attr("to"), None);
        assert_eq!(node.jid_attr("to"), Some(&Jid::server_jid()));
        assert_eq!(node.attr_text("to").as_deref(), Some("s.whatsapp.net"));
        assert_eq!(node.children_by_tag("item").count(), 2);
        assert_eq!(node.child("item").and_then(|n| n.str_attr("id")), Some("1"));
        assert_eq!(
            node.child("registration").and_then(Node::content_bytes),
            Some(&[0, 0, 1, 2][..])
        );
        assert!(node.child("nope").is_none());
        let replaced = node.clone().attr("id", String::from("9"));
        assert_eq!(replaced.str_attr("id"), Some("9"));
        assert_eq!(replaced.attrs.len(), 4);
        assert_eq!(
            Node::new("a")
                .attr_opt("x", None::<&'static str>)
                .attrs
                .len(),
            0
        );
        let appended = Node::new("a")
            .children([Node::new("b")])
            .children([Node::new("c")]);
        assert_eq!(appended.child_nodes().len(), 2);
        assert_eq!(appended.clone().into_content_bytes(), None);
        assert_eq!(
            appended.into_child_nodes(),
            [Node::new("b"), Node::new("c")]
        );
        assert_eq!(
            Node::new("k").bytes(vec![1]).into_content_bytes(),
            Some(vec![1])
        );
    }

    #[test]
    fn typed_helpers() {
        let node = sample();
        assert_eq!(node.required_attr("id"), Ok("1.2-3"));
        assert_eq!(node.required_jid("to"), Ok(Jid::server_jid()));
        assert_eq!(node.required_u64("t"), Ok(1_700_000_000));
        assert_eq!(node.optional_u64("missing"), Ok(None));
        assert_eq!(
            node.required_attr("missing"),
            Err(NodeError::MissingAttr {
                tag: "iq".into(),
                attr: "missing".into()
            })
        );
        assert!(matches!(
            node.required_u64("count"),
            Err(NodeError::InvalidAttr { ref attr, ref value, .. }) if attr == "count" && value == "x"
        ));
        assert!(matches!(
            node.required_attr("to"),
            Err(NodeError::InvalidAttr {
                expected: "a string",
                ..
            })
        ));
        assert!(matches!(
            node.required_jid("count"),
            Err(NodeError::InvalidAttr {
                expected: "a JID",
                ..
            })
        ));
        let with_text_jid = Node::new("m").attr("from", "123:4@s.whatsapp.net");
        assert_eq!(
            with_text_jid.required_jid("from"),
            Ok(Jid::pn("123").with_device(4))
        );
        assert_eq!(
            node.child("registration").map(Node::required_be_uint),
            Some(Ok(258))
        );
        assert_eq!(node.child_array::<32>("key"), Ok([7; 32]));
        assert_eq!(
            node.child_array::<33>("key"),
            Err(NodeError::InvalidContent {
                tag: "key".into(),
                expected: "exactly 33 bytes"
            })
        );
        assert_eq!(
            node.child_bytes("value"),
            Err(NodeError::MissingChild {
                tag: "iq".into(),
                child: "value".into()
            })
        );
        assert!(node.expect_tag("iq").is_ok());
        assert!(node.expect_tag("message").is_err());
        let flags = Node::new("f")
            .attr("a", true)
            .attr("b", "0")
            .attr("c", "yes");
        assert_eq!(flags.optional_bool("a"), Ok(Some(true)));
        assert_eq!(flags.optional_bool("b"), Ok(Some(false)));
        assert!(flags.optional_bool("c").is_err());
        let msg = NodeError::MissingAttr {
            tag: "iq".into(),
            attr: "id".into(),
        }
        .to_string();
        assert_eq!(msg, "<iq> has no attribute \"id\"");
    }

    #[test]
    fn attribute_order_does_not_matter_for_equality() {
        let a = Node::new("x").attr("a", "1").attr("b", "2");
        let b = Node::new("x").attr("b", "2").attr("a", "1");
        assert_eq!(a, b);
        assert_ne!(a, Node::new("x").attr("a", "1").attr("b", "3"));
        assert_ne!(a, Node::new("x").attr("a", "1"));
        let many: Attrs = (0..40)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let reversed: Attrs = (0..40)
            .rev()
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        assert_eq!(many, reversed);
        let changed: Attrs = (0..40)
            .map(|i| (format!("k{i}"), format!("v{}", i.min(38))))
            .collect();
        assert_ne!(many, changed);
        assert_eq!(many.iter().next().map(|(k, _)| k), Some("k0"));
    }

    #[test]
    fn duplicate_detection() {
        let mut small = Attrs::new();
        small.push_unchecked("a".into(), "1".into());
        small.push_unchecked("b".into(), "1".into());
        assert_eq!(small.find_duplicate(), None);
        small.push_unchecked("a".into(), "2".into());
        assert_eq!(small.find_duplicate(), Some("a"));
        let mut large: Attrs = (0..30).map(|i| (format!("k{i}"), "v")).collect();
        assert_eq!(large.find_duplicate(), None);
        large.push_unchecked("k17".into(), "v".into());
        assert_eq!(large.find_duplicate(), Some("k17"));
    }
}
