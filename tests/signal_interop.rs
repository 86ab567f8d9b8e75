//! Interop with independent implementations: the `libsignal` npm package (1:1)
//! and Baileys' sender key classes (groups), driven by
//! `tests/interop/libsignal_peer.mjs` over stdin/stdout.
//!
//! Needs Node.js and the npm packages of `package.json` (`npm ci`); without
//! them these tests fail rather than skip.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod signal_common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use signal_common::Party;
use wa_wasm::crypto::PublicKey;
use wa_wasm::signal::{
    CiphertextMessage, IdentityKey, PreKeyBundle, PreKeyId, ProtocolAddress, RegistrationId,
    SenderKeyDistributionMessage, SenderKeyMessage, SignalError, SignedPreKeyId,
};

/// The peer process (started and stopped by this test only).
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        if Command::new("node").arg("--version").output().is_err() {
            panic!(
                "the interop tests need Node.js on PATH; install it, then run `npm ci` in {}",
                root.display()
            );
        }
        for package in ["libsignal/package.json", "baileys/package.json"] {
            if !root.join("node_modules").join(package).is_file() {
                panic!(
                    "node_modules/{package} is missing: run `npm ci` in {} (the interop tests need the libsignal and baileys npm packages)",
                    root.display()
                );
            }
        }
        let mut child = Command::new("node")
            .arg("tests/interop/libsignal_peer.mjs")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request; `Err` carries the peer's error text.
    fn call(&mut self, request: &str) -> Result<Vec<String>, String> {
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let line = line.trim_end();
        match line.split_once(' ').unwrap_or((line, "")) {
            ("ok", rest) => Ok(rest.split_whitespace().map(str::to_owned).collect()),
            ("err", text) => Err(text.to_owned()),
            _ => panic!("peer answered {line:?} to {request:?}"),
        }
    }

    fn ok(&mut self, request: &str) -> Vec<String> {
        self.call(request)
            .unwrap_or_else(|error| panic!("peer failed {request:?}: {error}"))
    }

    fn identity(&mut self) -> IdentityKey {
        IdentityKey::deserialize(&hex::decode(&self.ok("identity")[0]).unwrap()).unwrap()
    }

    fn bundle(&mut self, pre_key_id: u32) -> PreKeyBundle {
        let v = self.ok(&format!("bundle {pre_key_id}"));
        let key = |s: &str| PublicKey::from_slice(&hex::decode(s).unwrap()).unwrap();
        PreKeyBundle {
            registration_id: RegistrationId::new(v[0].parse().unwrap()),
            device_id: 2,
            identity_key: IdentityKey::new(key(&v[1])),
            signed_pre_key_id: SignedPreKeyId(v[2].parse().unwrap()),
            signed_pre_key: key(&v[3]),
            signed_pre_key_signature: hex::decode(&v[4]).unwrap().try_into().unwrap(),
            pre_key: Some((PreKeyId(v[5].parse().unwrap()), key(&v[6]))),
        }
    }

    fn process_bundle(&mut self, from: &ProtocolAddress, bundle: &PreKeyBundle) {
        let (id, key) = bundle.pre_key.unwrap();
        self.ok(&format!(
            "process_bundle {} {} {} {} {} {} {} {} {}",
            from.name(),
            from.device_id(),
            bundle.registration_id.value(),
            hex::encode(bundle.identity_key.serialize()),
            bundle.signed_pre_key_id.0,
            hex::encode(bundle.signed_pre_key.to_prefixed()),
            hex::encode(bundle.signed_pre_key_signature),
            id.0,
            hex::encode(key.to_prefixed()),
        ));
    }

    fn encrypt(&mut self, to: &ProtocolAddress, plaintext: &[u8]) -> CiphertextMessage {
        let v = self.ok(&format!(
            "encrypt {} {} {}",
            to.name(),
            to.device_id(),
            hex::encode(plaintext)
        ));
        CiphertextMessage::parse(&v[0], &hex::decode(&v[1]).unwrap())
            .unwrap()
            .unwrap()
    }

    fn decrypt(
        &mut self,
        from: &ProtocolAddress,
        message: &CiphertextMessage,
    ) -> Result<Vec<u8>, String> {
        self.call(&format!(
            "decrypt {} {} {} {}",
            from.name(),
            from.device_id(),
            message.enc_type(),
            hex::encode(message.serialized())
        ))
        .map(|v| hex::decode(&v[0]).unwrap())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_address() -> ProtocolAddress {
    ProtocolAddress::new("node", 2)
}

/// Sends `count` messages each way per round, delivered in a shuffled order,
/// so the ratchet turns in both directions with out-of-order delivery.
fn exchange_rounds(peer: &mut Peer, rust: &mut Party, rounds: u8, seed: u64) {
    let node = node_address();
    let mut order_rng = StdRng::seed_from_u64(seed);
    for round in 0..rounds {
        let count = 1 + usize::from(round % 4);
        let mut to_node: Vec<_> = (0..count)
            .map(|i| {
                let text = format!("rust round {round} message {i}").into_bytes();
                (rust.send(&node, &text), text)
            })
            .collect();
        to_node.shuffle(&mut order_rng);
        for (message, text) in &to_node {
            assert_eq!(
                &peer.decrypt(&rust.address, message).unwrap(),
                text,
                "round {round}"
            );
        }
        let mut to_rust: Vec<_> = (0..count)
            .map(|i| {
                let text = format!("node round {round} message {i}").into_bytes();
                (peer.encrypt(&rust.address, &text), text)
            })
            .collect();
        to_rust.shuffle(&mut order_rng);
        for (message, text) in &to_rust {
            assert_eq!(message.enc_type(), "msg");
            assert_eq!(
                &rust.receive(&node, message).unwrap(),
                text,
                "round {round}"
            );
        }
    }
}

#[test]
fn rust_starts_the_session_with_libsignal() {
    let mut peer = Peer::start();
    let mut rust = Party::new("rust", 1);
    let node = node_address();
    let bundle = peer.bundle(7);
    let outcome =
        wa_wasm::signal::session::process_bundle(&rust.store, &node, &bundle, &mut rust.rng)
            .expect("libsignal's bundle signature verifies");
    rust.commit(outcome.changes);

    let pkmsgs: Vec<_> = (0..3u8).map(|i| rust.send(&node, &[b'p', i])).collect();
    assert!(pkmsgs.iter().all(|m| m.enc_type() == "pkmsg"));
    for index in [2usize, 0, 1] {
        assert_eq!(
            peer.decrypt(&rust.address, &pkmsgs[index]).unwrap(),
            [b'p', index as u8]
        );
    }
    assert!(
        peer.decrypt(&rust.address, &pkmsgs[1]).is_err(),
        "libsignal rejects a replay"
    );
    exchange_rounds(&mut peer, &mut rust, 24, 1);
    assert_eq!(peer.identity(), bundle.identity_key);
}

#[test]
fn libsignal_starts_the_session_with_rust() {
    let mut peer = Peer::start();
    let mut rust = Party::new("rust", 1);
    let node = node_address();
    peer.process_bundle(&rust.address, &rust.bundle(Some(3)));
    let pkmsgs: Vec<_> = (0..3u8)
        .map(|i| peer.encrypt(&rust.address, &[b'q', i]))
        .collect();
    assert!(pkmsgs.iter().all(|m| m.enc_type() == "pkmsg"));
    for index in [1usize, 2, 0] {
        assert_eq!(
            rust.receive(&node, &pkmsgs[index]).unwrap(),
            [b'q', index as u8]
        );
    }
    assert_eq!(
        rust.receive(&node, &pkmsgs[0]),
        Err(SignalError::DuplicateMessage { counter: 0 })
    );
    assert_eq!(
        rust.store.pre_key_count(),
        signal_common::PRE_KEYS as usize - 1
    );
    assert_eq!(rust.session(&node).unwrap().previous_state_count(), 0);
    exchange_rounds(&mut peer, &mut rust, 24, 2);
}

#[test]
fn sender_keys_both_ways() {
    const GROUP: &str = "120363111111111111@g.us";
    let mut peer = Peer::start();
    let mut rust = Party::new("rust", 1);
    let node = node_address();

    // Ours to Baileys: distribution, then messages delivered out of order.
    let skdm = rust.distribution(GROUP);
    peer.ok(&format!(
        "group_process {GROUP} {} {} {}",
        rust.address.name(),
        rust.address.device_id(),
        hex::encode(skdm.serialized())
    ));
    let sent: Vec<_> = (0..6u8)
        .map(|i| rust.group_send(GROUP, &[b'g', i]))
        .collect();
    for index in [0usize, 3, 1, 5, 2, 4] {
        let v = peer.ok(&format!(
            "group_decrypt {GROUP} {} {} {}",
            rust.address.name(),
            rust.address.device_id(),
            hex::encode(sent[index].serialized())
        ));
        assert_eq!(hex::decode(&v[0]).unwrap(), [b'g', index as u8]);
    }

    // Baileys' to ours, with the distribution message sent pairwise first.
    peer.process_bundle(&rust.address, &rust.bundle(Some(1)));
    let v = peer.ok(&format!(
        "group_create {GROUP} {} {}",
        node.name(),
        node.device_id()
    ));
    let node_skdm = hex::decode(&v[0]).unwrap();
    let carrier = peer.encrypt(&rust.address, &node_skdm);
    let received = rust.receive(&node, &carrier).unwrap();
    let parsed = SenderKeyDistributionMessage::from_bytes(&received).unwrap();
    rust.process_distribution(GROUP, &node, &parsed);
    let messages: Vec<_> = (0..8u8)
        .map(|i| {
            let v = peer.ok(&format!(
                "group_encrypt {GROUP} {} {} {}",
                node.name(),
                node.device_id(),
                hex::encode([b'n', i])
            ));
            SenderKeyMessage::from_bytes(&hex::decode(&v[0]).unwrap()).unwrap()
        })
        .collect();
    // Baileys 7.0.0-rc14 leaves gaps between iterations; they must not matter.
    assert!(
        messages
            .windows(2)
            .all(|w| w[1].iteration() > w[0].iteration())
    );
    for index in [7usize, 0, 4, 2, 6, 1, 3, 5] {
        assert_eq!(
            rust.group_receive(GROUP, &node, &messages[index]).unwrap(),
            [b'n', index as u8]
        );
    }
    assert!(matches!(
        rust.group_receive(GROUP, &node, &messages[4]),
        Err(SignalError::DuplicateMessage { .. })
    ));
}
