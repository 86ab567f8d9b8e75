use rand::SeedableRng;
use wa_wasm::crypto::KeyPair;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn xeddsa_sign_verify_in_browser() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let key = KeyPair::generate(&mut rng);
    let other = KeyPair::generate(&mut rng);
    let signature = key.private.sign(b"hello from the browser", &mut rng);
    assert!(key.public.verify(b"hello from the browser", &signature));
    assert!(!other.public.verify(b"hello from the browser", &signature));
    assert_eq!(
        key.private.agree(&other.public),
        other.private.agree(&key.public)
    );
}
