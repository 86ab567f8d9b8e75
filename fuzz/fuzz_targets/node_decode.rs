//! Decodes arbitrary bytes as a WABinary node. Whatever decodes must encode again, and
//! that encoding must decode to the same node (attributes with empty values aside, which
//! the encoder drops) and be canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::binary::{Content, Node, decode, encode};

fn without_empty_attrs(mut node: Node) -> Node {
    node.attrs.retain(|_, value| !value.is_empty());
    if let Content::Nodes(children) = node.content {
        node.content = Content::Nodes(children.into_iter().map(without_empty_attrs).collect());
    }
    node
}

fuzz_target!(|data: &[u8]| {
    let Ok(node) = decode(data) else { return };
    let bytes = encode(&node).expect("a decoded node encodes");
    let again = decode(&bytes).expect("an encoded node decodes");
    assert_eq!(encode(&again).expect("encodes again"), bytes, "encoding is not canonical");
    let _ = node.to_string();
    assert_eq!(again, without_empty_attrs(node), "round trip changed the node");
});
