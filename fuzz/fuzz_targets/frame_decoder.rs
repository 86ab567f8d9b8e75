//! Arbitrary bytes, cut into arbitrary chunks, through a `FrameDecoder` (both
//! the client-side decoder and the server-side one that expects the intro).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_wasm::noise::FrameDecoder;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let mut decoder = if control & 1 == 0 {
        FrameDecoder::new()
    } else {
        FrameDecoder::expecting_intro()
    }
    .with_max_frame_size(MAX);
    // Chunk sizes come from the control byte, cycling through 1..=32.
    let mut size = usize::from(control >> 1) % 32 + 1;
    let mut rest = data;
    let mut total = 0usize;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        size = size % 32 + 1;
        if decoder.push(chunk).is_err() {
            assert!(decoder.push(b"x").is_err(), "a failed decoder must stay failed");
            break;
        }
        while let Some(frame) = decoder.next_frame() {
            assert!(frame.len() <= MAX);
            total += frame.len() + 3;
        }
    }
    assert!(total <= data.len());
    let _ = decoder.finish();
});
