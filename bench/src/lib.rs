//! Workloads for `cargo xtask bench`: each export runs an operation a number of
//! times inside wasm so that `bench/run.mjs` can time this crate, compiled to
//! WebAssembly, against Baileys and libsignal in the same Node process.
//!
//! Kept out of the library so the production wasm carries none of it. Every
//! workload returns a value derived from its results so nothing is optimised away.

use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_wasm::binary::{Node, decode, encode_into};
use wa_wasm::signal::group::{
    create_distribution, group_decrypt, group_encrypt, process_distribution,
};
use wa_wasm::signal::session::{decrypt, encrypt, process_bundle};
use wa_wasm::signal::store::{IdentityStore, InMemorySignalStore};
use wa_wasm::signal::{
    IdentityKeyPair, PreKey, PreKeyBundle, PreKeyId, ProtocolAddress, RegistrationId,
    SenderKeyName, SignedPreKey, SignedPreKeyId,
};
use wasm_bindgen::prelude::*;

/// The shared stanza corpus, decoded and encoded repeatedly.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CodecBench {
    stanzas: Vec<Vec<u8>>,
    nodes: Vec<Node>,
    buffer: Vec<u8>,
}

#[wasm_bindgen]
impl CodecBench {
    /// Takes the corpus as `u32` big-endian length-prefixed stanza encodings.
    #[wasm_bindgen(constructor)]
    pub fn new(prefixed: &[u8]) -> Result<CodecBench, JsError> {
        let mut stanzas = Vec::new();
        let mut rest = prefixed;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| JsError::new("truncated length"))?;
            let len = u32::from_be_bytes(*len) as usize;
            if tail.len() < len {
                return Err(JsError::new("truncated stanza"));
            }
            let (stanza, tail) = tail.split_at(len);
            stanzas.push(stanza.to_vec());
            rest = tail;
        }
        let nodes = stanzas
            .iter()
            .map(|s| decode(s).map_err(|e| JsError::new(&e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CodecBench {
            stanzas,
            nodes,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// Decodes every stanza `iterations` times; returns the number of top-level attributes seen.
    pub fn decode(&self, iterations: u32) -> Result<u32, JsError> {
        let mut seen = 0u32;
        for _ in 0..iterations {
            for stanza in &self.stanzas {
                let node = decode(stanza).map_err(|e| JsError::new(&e.to_string()))?;
                seen = seen.wrapping_add(node.attrs.len() as u32);
            }
        }
        Ok(seen)
    }

    /// Encodes every node `iterations` times into a reused buffer; returns the bytes written.
    pub fn encode(&mut self, iterations: u32) -> Result<u32, JsError> {
        let mut written = 0u32;
        for _ in 0..iterations {
            for node in &self.nodes {
                self.buffer.clear();
                encode_into(node, &mut self.buffer).map_err(|e| JsError::new(&e.to_string()))?;
                written = written.wrapping_add(self.buffer.len() as u32);
            }
        }
        Ok(written)
    }
}

/// Two parties with an established 1:1 session and a group sender key.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SignalBench {
    rng: StdRng,
    alice: InMemorySignalStore,
    bob: InMemorySignalStore,
    alice_address: ProtocolAddress,
    bob_address: ProtocolAddress,
    group: SenderKeyName,
    bundle: PreKeyBundle,
    fresh_alice: InMemorySignalStore,
    fresh_bob: InMemorySignalStore,
}

fn err(e: impl ToString) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl SignalBench {
    /// Sets up both parties from a fixed seed.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<SignalBench, JsError> {
        let mut rng = StdRng::seed_from_u64(7);
        let alice =
            InMemorySignalStore::new(IdentityKeyPair::generate(&mut rng), RegistrationId::new(1));
        let bob_identity = IdentityKeyPair::generate(&mut rng);
        let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(2));
        let signed = SignedPreKey::generate(SignedPreKeyId(1), &bob_identity, 0, &mut rng);
        let one_time = PreKey::generate(PreKeyId(1), &mut rng);
        bob.add_signed_pre_key(&signed);
        bob.add_pre_key(&one_time);
        let bundle = PreKeyBundle {
            registration_id: bob.local_registration_id(),
            device_id: 1,
            identity_key: *bob_identity.identity_key(),
            signed_pre_key_id: signed.id,
            signed_pre_key: signed.key_pair.public,
            signed_pre_key_signature: signed.signature,
            pre_key: Some((one_time.id, one_time.key_pair.public)),
        };
        let mut bench = SignalBench {
            rng,
            fresh_alice: alice.clone(),
            fresh_bob: bob.clone(),
            alice,
            bob,
            alice_address: ProtocolAddress::new("alice", 1),
            bob_address: ProtocolAddress::new("bob", 1),
            group: SenderKeyName::new("120363000000000001@g.us", ProtocolAddress::new("alice", 1)),
            bundle,
        };
        let built = process_bundle(
            &bench.alice,
            &bench.bob_address,
            &bench.bundle,
            &mut bench.rng,
        )
        .map_err(err)?;
        bench.alice.apply(built.changes);
        // One message each way so both sides hold a confirmed session.
        bench.one_to_one(1, 32)?;
        let reply = encrypt(&bench.bob, &bench.alice_address, b"ok").map_err(err)?;
        bench.bob.apply(reply.changes);
        let opened = decrypt(
            &bench.alice,
            &bench.bob_address,
            &reply.value,
            &mut bench.rng,
        )
        .map_err(err)?;
        bench.alice.apply(opened.changes);

        let distribution =
            create_distribution(&bench.alice, &bench.group, &mut bench.rng).map_err(err)?;
        bench.alice.apply(distribution.changes);
        let processed =
            process_distribution(&bench.bob, &bench.group, &distribution.value).map_err(err)?;
        bench.bob.apply(processed.changes);
        Ok(bench)
    }

    /// Alice encrypts and Bob decrypts `count` messages of `size` bytes, committing
    /// each side's changes as a client would. Returns the plaintext bytes recovered.
    pub fn one_to_one(&mut self, count: u32, size: usize) -> Result<u32, JsError> {
        let plaintext = vec![0x42u8; size];
        let mut total = 0u32;
        for _ in 0..count {
            let sent = encrypt(&self.alice, &self.bob_address, &plaintext).map_err(err)?;
            self.alice.apply(sent.changes);
            let opened =
                decrypt(&self.bob, &self.alice_address, &sent.value, &mut self.rng).map_err(err)?;
            self.bob.apply(opened.changes);
            total = total.wrapping_add(opened.value.len() as u32);
        }
        Ok(total)
    }

    /// Sender-key encrypt by Alice and decrypt by Bob, `count` times.
    pub fn group(&mut self, count: u32, size: usize) -> Result<u32, JsError> {
        let plaintext = vec![0x42u8; size];
        let mut total = 0u32;
        for _ in 0..count {
            let sent =
                group_encrypt(&self.alice, &self.group, &plaintext, &mut self.rng).map_err(err)?;
            self.alice.apply(sent.changes);
            let opened = group_decrypt(&self.bob, &self.group, &sent.value).map_err(err)?;
            self.bob.apply(opened.changes);
            total = total.wrapping_add(opened.value.len() as u32);
        }
        Ok(total)
    }

    /// Session setup from a bundle plus the first pkmsg decrypt, `count` times.
    pub fn session_setup(&mut self, count: u32) -> Result<u32, JsError> {
        let mut total = 0u32;
        for _ in 0..count {
            let mut alice = self.fresh_alice.clone();
            let built = process_bundle(&alice, &self.bob_address, &self.bundle, &mut self.rng)
                .map_err(err)?;
            alice.apply(built.changes);
            let sent = encrypt(&alice, &self.bob_address, b"hello").map_err(err)?;
            let opened = decrypt(
                &self.fresh_bob,
                &self.alice_address,
                &sent.value,
                &mut self.rng,
            )
            .map_err(err)?;
            total = total.wrapping_add(opened.value.len() as u32);
        }
        Ok(total)
    }
}
