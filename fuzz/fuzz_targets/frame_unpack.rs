//! Unpacks arbitrary frame payloads: the flag byte and bounded zlib inflation, then the
//! node. Also feeds the input, compressed, through the zlib path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::binary::{pack, unpack};

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = unpack(data) {
        let payload = pack(&node).expect("an unpacked node packs");
        assert!(unpack(&payload).is_ok(), "packed node does not unpack");
    }
    let mut compressed = vec![0x02];
    compressed.extend(miniz_oxide::deflate::compress_to_vec_zlib(data, 1));
    let plain: Vec<u8> = std::iter::once(0).chain(data.iter().copied()).collect();
    assert_eq!(unpack(&compressed), unpack(&plain), "compression changed the result");
});
