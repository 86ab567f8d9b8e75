//! Decodes arbitrary bytes as a stored credentials record, raw and sealed with
//! a valid version byte and checksum (so the protobuf body is reached too).
//! Whatever decodes must re-encode to bytes that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use wa_wasm::store::{CREDENTIALS_FORMAT_VERSION, Credentials};

fn check(bytes: &[u8]) {
    if let Ok(creds) = Credentials::decode(bytes) {
        let encoded = creds.encode();
        let again = Credentials::decode(&encoded).expect("re-encoded credentials decode");
        assert_eq!(again.encode(), encoded);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut sealed = vec![CREDENTIALS_FORMAT_VERSION];
    sealed.extend_from_slice(data);
    let digest = Sha256::digest(&sealed);
    sealed.extend_from_slice(&digest[..4]);
    check(&sealed);
});
