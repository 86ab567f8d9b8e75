use wa_wasm::binary::{Jid, Node, decode, encode, pack, unpack};
use wasm_bindgen_test::wasm_bindgen_test;

/// protocol-facts §4.7, first worked example (frame payload as Baileys writes it).
const PING: [u8; 23] = [
    0x00, 0xf8, 0x0a, 0x19, 0x08, 0xff, 0x83, 0x1b, 0x2a, 0x3f, 0x11, 0xfa, 0x00, 0x03, 0x04, 0x29,
    0x16, 0x57, 0xf8, 0x01, 0xf8, 0x01, 0x56,
];

#[wasm_bindgen_test]
fn binary_nodes_round_trip_in_browser() {
    let ping = Node::new("iq")
        .attr("id", "1.2-3")
        .attr("to", Jid::server_jid())
        .attr("type", "get")
        .attr("xmlns", "w:p")
        .children([Node::new("ping")]);
    assert_eq!(unpack(&PING).unwrap(), ping);
    assert_eq!(pack(&ping).unwrap(), PING);
    let message = Node::new("message")
        .attr("id", "3EB0C767D26A1D8E7BA5D2")
        .attr("to", Jid::lid("209876543210987").with_device(3))
        .children([Node::new("enc")
            .attr("v", "2")
            .attr("type", "msg")
            .bytes(vec![7; 300])]);
    assert_eq!(decode(&encode(&message).unwrap()).unwrap(), message);
    assert!(decode(&PING[1..PING.len() - 1]).is_err());
}
