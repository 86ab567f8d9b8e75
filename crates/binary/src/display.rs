//! The readable text form of nodes, for logs and test failures.
//!
//! Owns `Display`/`Debug` for [`Node`]: escaped XML such as
//! `<iq id="1.2-3" to="s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>`, one line by
//! default, indented with `{:#}`. Byte content shows as text when it is printable UTF-8,
//! else as `hex:…`; long content is cut and its total length noted. Does not own any
//! parser: this form is for people, the wire form is `encode`/`decode`.

use std::fmt::{self, Write};

use super::node::{Content, Node, Value};

/// Printable byte content longer than this many bytes is cut.
const MAX_TEXT: usize = 256;
/// Binary content longer than this many bytes is cut.
const MAX_HEX: usize = 64;

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = f.alternate().then_some(0);
        write_node(f, self, indent)
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node, indent: Option<usize>) -> fmt::Result {
    f.write_char('<')?;
    Escaped(f).write_str(&node.tag)?;
    for (key, value) in node.attrs.iter() {
        f.write_char(' ')?;
        Escaped(f).write_str(key)?;
        f.write_str("=\"")?;
        match value {
            Value::Str(s) => Escaped(f).write_str(s)?,
            Value::Jid(jid) => write!(Escaped(f), "{jid}")?,
        }
        f.write_char('"')?;
    }
    match &node.content {
        Content::None => return f.write_str("/>"),
        Content::Nodes(children) => {
            f.write_char('>')?;
            let child_indent = indent.map(|n| n + 1);
            for child in children {
                new_line(f, child_indent)?;
                write_node(f, child, child_indent)?;
            }
            if !children.is_empty() {
                new_line(f, indent)?;
            }
        }
        Content::Bytes(bytes) => {
            f.write_char('>')?;
            write_bytes(f, bytes)?;
        }
    }
    f.write_str("</")?;
    Escaped(f).write_str(&node.tag)?;
    f.write_char('>')
}

fn new_line(f: &mut fmt::Formatter<'_>, indent: Option<usize>) -> fmt::Result {
    match indent {
        Some(depth) => {
            f.write_char('\n')?;
            (0..depth).try_for_each(|_| f.write_str("  "))
        }
        None => Ok(()),
    }
}

fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let printable = std::str::from_utf8(bytes).ok().filter(|text| {
        text.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    });
    match printable {
        Some(text) if text.len() <= MAX_TEXT => Escaped(f).write_str(text),
        Some(text) => {
            let cut = (0..=MAX_TEXT)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            Escaped(f).write_str(text.get(..cut).unwrap_or_default())?;
            write!(f, "…[{} bytes]", bytes.len())
        }
        None => {
            f.write_str("hex:")?;
            bytes
                .iter()
                .take(MAX_HEX)
                .try_for_each(|b| write!(f, "{b:02x}"))?;
            if bytes.len() > MAX_HEX {
                write!(f, "…[{} bytes]", bytes.len())?;
            }
            Ok(())
        }
    }
}

/// Writes text with XML's special characters and control characters escaped.
struct Escaped<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain_from = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                c if c.is_control() => "",
                _ => continue,
            };
            self.0.write_str(s.get(plain_from..i).unwrap_or_default())?;
            if escape.is_empty() {
                write!(self.0, "&#x{:x};", u32::from(c))?;
            } else {
                self.0.write_str(escape)?;
            }
            plain_from = i + c.len_utf8();
        }
        self.0.write_str(s.get(plain_from..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Jid, Node};

    #[test]
    fn renders_escaped_xml() {
        let iq = Node::new("iq")
            .attr("id", "1.2-3")
            .attr("to", Jid::server_jid())
            .attr("type", "get")
            .attr("xmlns", "w:p")
            .children([Node::new("ping")]);
        assert_eq!(
            iq.to_string(),
            r#"<iq id="1.2-3" to="s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>"#
        );
        assert_eq!(format!("{iq:?}"), iq.to_string());
        let odd = Node::new("a")
            .attr("q", "x\"<&>\ny")
            .bytes(b"1 < 2\t".to_vec());
        assert_eq!(
            odd.to_string(),
            r#"<a q="x&quot;&lt;&amp;&gt;&#xa;y">1 &lt; 2&#x9;</a>"#
        );
        assert_eq!(Node::new("e").children([]).to_string(), "<e></e>");
    }

    #[test]
    fn bytes_as_text_or_hex_and_cut() {
        assert_eq!(
            Node::new("b").bytes(vec![0, 1, 0xff]).to_string(),
            "<b>hex:0001ff</b>"
        );
        let long = Node::new("b").bytes(vec![0xab; 100]).to_string();
        assert_eq!(long, format!("<b>hex:{}…[100 bytes]</b>", "ab".repeat(64)));
        let text = Node::new("b")
            .bytes("é".repeat(200).into_bytes())
            .to_string();
        assert_eq!(text, format!("<b>{}…[400 bytes]</b>", "é".repeat(128)));
        assert_eq!(
            Node::new("b").bytes("olá".as_bytes()).to_string(),
            "<b>olá</b>"
        );
    }

    #[test]
    fn alternate_form_indents() {
        let node =
            Node::new("a").children([Node::new("b").children([Node::new("c")]), Node::new("d")]);
        assert_eq!(
            format!("{node:#}"),
            "<a>\n  <b>\n    <c/>\n  </b>\n  <d/>\n</a>"
        );
    }
}
