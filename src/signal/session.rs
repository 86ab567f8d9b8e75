//! 1:1 sessions: X3DH from a pre-key bundle, encryption, and decryption of
//! `pkmsg` and `msg`.
//!
//! Every function reads the store and returns an [`Outcome`] whose changes the
//! caller commits; a failed call returns an error and changes nothing.

use rand_core::CryptoRng;
use zeroize::Zeroize;

use super::address::ProtocolAddress;
use super::error::SignalError;
use super::keys::PreKeyBundle;
use super::ratchet::{ChainKey, RootKey, derive_initial_keys};
use super::state::{PendingPreKey, ReceiverChain, SenderChain, SessionRecord, SessionState};
use super::store::{
    IdentityStore, Outcome, PreKeyStore, SessionStore, SignalChanges, SignedPreKeyStore,
    note_identity,
};
use super::wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};
use crate::crypto::KeyPair;

/// Derives the first root and chain keys from the X3DH agreements, in the
/// order both sides agree on: `0xFF × 32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4]`.
fn x3dh(agreements: &[[u8; 32]]) -> (RootKey, ChainKey) {
    let mut secret = Vec::with_capacity(32 * (agreements.len() + 1));
    secret.extend_from_slice(&[0xff; 32]);
    for agreement in agreements {
        secret.extend_from_slice(agreement);
    }
    let keys = derive_initial_keys(&secret);
    secret.zeroize();
    keys
}

/// Starts a session with `remote` from its pre-key bundle (we are the initiator).
///
/// The bundle's signed pre-key signature is always verified. The new session
/// becomes current (an older one is archived); messages to `remote` are
/// `pkmsg` until its first reply. A changed identity is accepted and reported
/// in [`SignalChanges::identity_changes`].
pub fn process_bundle<S: IdentityStore + SessionStore + ?Sized>(
    store: &S,
    remote: &ProtocolAddress,
    bundle: &PreKeyBundle,
    rng: &mut impl CryptoRng,
) -> Result<Outcome<()>, SignalError> {
    bundle.verify_signature()?;
    let mut record = store.session(remote)?.unwrap_or_default();
    let mut changes = SignalChanges::default();
    note_identity(store, remote, &bundle.identity_key, &mut changes)?;

    let local = store.local_identity();
    let base = KeyPair::generate(rng);
    let their_identity = bundle.identity_key.public_key();
    let mut agreements = vec![
        local.private_key().agree(&bundle.signed_pre_key),
        base.private.agree(their_identity),
        base.private.agree(&bundle.signed_pre_key),
    ];
    if let Some((_, one_time)) = &bundle.pre_key {
        agreements.push(base.private.agree(one_time));
    }
    let (root_key, chain_key) = x3dh(&agreements);
    agreements.zeroize();

    let ratchet = KeyPair::generate(rng);
    let (root_key, sending) = root_key.create_chain(&bundle.signed_pre_key, &ratchet.private);
    let state = SessionState {
        remote_identity: bundle.identity_key,
        remote_registration_id: bundle.registration_id,
        root_key,
        base_key: base.public,
        initiated_by_us: true,
        previous_counter: 0,
        sender_chain: SenderChain {
            ratchet,
            chain_key: sending,
        },
        receiver_chains: vec![ReceiverChain {
            ratchet_key: bundle.signed_pre_key,
            chain_key,
            skipped: Default::default(),
        }],
        pending_pre_key: Some(PendingPreKey {
            pre_key_id: bundle.pre_key.as_ref().map(|(id, _)| *id),
            signed_pre_key_id: bundle.signed_pre_key_id,
            base_key: base.public,
        }),
    };
    record.promote(state);
    changes.sessions.insert(remote.clone(), record);
    Ok(Outcome { value: (), changes })
}

/// Encrypts `plaintext` for `remote` with the current session: a `pkmsg` until
/// the peer has answered, a `msg` afterwards.
pub fn encrypt<S: IdentityStore + SessionStore + ?Sized>(
    store: &S,
    remote: &ProtocolAddress,
    plaintext: &[u8],
) -> Result<Outcome<CiphertextMessage>, SignalError> {
    let mut record = store.session(remote)?.ok_or(SignalError::NoSession)?;
    let local = store.local_identity();
    let message = record
        .current_mut()
        .ok_or(SignalError::NoSession)?
        .encrypt(
            plaintext,
            local.identity_key(),
            store.local_registration_id(),
        )?;
    let mut changes = SignalChanges::default();
    changes.sessions.insert(remote.clone(), record);
    Ok(Outcome {
        value: message,
        changes,
    })
}

/// Decrypts a `pkmsg` from `remote`.
///
/// A repeated pre-key message (same base key as a session we already have)
/// is decrypted with that session; otherwise a new session is built from our
/// signed pre-key and the named one-time pre-key, which the changes then
/// remove. A changed identity is accepted and reported.
pub fn decrypt_prekey_message<S>(
    store: &S,
    remote: &ProtocolAddress,
    message: &PreKeySignalMessage,
    rng: &mut impl CryptoRng,
) -> Result<Outcome<Vec<u8>>, SignalError>
where
    S: IdentityStore + SessionStore + PreKeyStore + SignedPreKeyStore + ?Sized,
{
    let local = store.local_identity();
    let mut record = store.session(remote)?.unwrap_or_default();
    let mut changes = SignalChanges::default();

    if let Some(result) = record.decrypt_with_base_key(
        message.base_key(),
        message.message(),
        local.identity_key(),
        rng,
    ) {
        let plaintext = result?;
        save_first_identity(store, remote, &record, &mut changes)?;
        changes.sessions.insert(remote.clone(), record);
        return Ok(Outcome {
            value: plaintext,
            changes,
        });
    }

    let signed_pre_key = store.signed_pre_key(message.signed_pre_key_id())?.ok_or(
        SignalError::InvalidSignedPreKeyId(message.signed_pre_key_id().0),
    )?;
    let one_time = match message.pre_key_id() {
        Some(id) => Some(
            store
                .pre_key(id)?
                .ok_or(SignalError::InvalidPreKeyId(id.0))?,
        ),
        None => None,
    };

    let their_identity = message.identity_key().public_key();
    let their_base = message.base_key();
    let mut agreements = vec![
        signed_pre_key.key_pair.private.agree(their_identity),
        local.private_key().agree(their_base),
        signed_pre_key.key_pair.private.agree(their_base),
    ];
    if let Some(one_time) = &one_time {
        agreements.push(one_time.key_pair.private.agree(their_base));
    }
    let (root_key, chain_key) = x3dh(&agreements);
    agreements.zeroize();

    let mut state = SessionState {
        remote_identity: *message.identity_key(),
        remote_registration_id: message.registration_id(),
        root_key,
        base_key: *their_base,
        initiated_by_us: false,
        previous_counter: 0,
        sender_chain: SenderChain {
            ratchet: signed_pre_key.key_pair.clone(),
            chain_key,
        },
        receiver_chains: Vec::new(),
        pending_pre_key: None,
    };
    let plaintext = state.decrypt(message.message(), local.identity_key(), rng)?;

    note_identity(store, remote, message.identity_key(), &mut changes)?;
    record.promote(state);
    changes.sessions.insert(remote.clone(), record);
    if let Some(one_time) = one_time
        && !changes.removed_pre_keys.contains(&one_time.id)
    {
        changes.removed_pre_keys.push(one_time.id);
    }
    Ok(Outcome {
        value: plaintext,
        changes,
    })
}

/// Decrypts a `msg` from `remote`, with the current session or, failing that,
/// an archived one (which then becomes current).
pub fn decrypt_message<S: IdentityStore + SessionStore + ?Sized>(
    store: &S,
    remote: &ProtocolAddress,
    message: &SignalMessage,
    rng: &mut impl CryptoRng,
) -> Result<Outcome<Vec<u8>>, SignalError> {
    let mut record = store.session(remote)?.ok_or(SignalError::NoSession)?;
    let plaintext = record.decrypt(message, store.local_identity().identity_key(), rng)?;
    let mut changes = SignalChanges::default();
    save_first_identity(store, remote, &record, &mut changes)?;
    changes.sessions.insert(remote.clone(), record);
    Ok(Outcome {
        value: plaintext,
        changes,
    })
}

/// Decrypts either kind of 1:1 message.
pub fn decrypt<S>(
    store: &S,
    remote: &ProtocolAddress,
    message: &CiphertextMessage,
    rng: &mut impl CryptoRng,
) -> Result<Outcome<Vec<u8>>, SignalError>
where
    S: IdentityStore + SessionStore + PreKeyStore + SignedPreKeyStore + ?Sized,
{
    match message {
        CiphertextMessage::Pkmsg(message) => decrypt_prekey_message(store, remote, message, rng),
        CiphertextMessage::Msg(message) => decrypt_message(store, remote, message, rng),
    }
}

/// Saves the session's identity if none is saved yet (a store that lost it).
fn save_first_identity<S: IdentityStore + ?Sized>(
    store: &S,
    remote: &ProtocolAddress,
    record: &SessionRecord,
    changes: &mut SignalChanges,
) -> Result<(), SignalError> {
    if store.remote_identity(remote)?.is_none()
        && let Some(identity) = record.remote_identity()
    {
        changes.identities.insert(remote.clone(), identity);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::signal::keys::{
        IdentityKeyPair, PreKey, PreKeyId, RegistrationId, SignedPreKey, SignedPreKeyId,
    };
    use crate::signal::store::{InMemorySignalStore, SessionStore};
    use crate::signal::test_support::{QueueRng, key_pair};

    // Private keys and expected bytes from two `libsignal` npm instances run
    // with the same keys (tests/interop/vectors.mjs).
    const ALICE_IDENTITY: &str = "8035bdbfc8764bc8378c88f2b9aea9e662c73c46a1e1c71b64d5dadc0523db5a";
    const BOB_IDENTITY: &str = "0876df1c894cf6363e224fe412cac4eba35c14c9a172a2260c6ded5e037ae641";
    const BOB_SIGNED_PRE_KEY: &str =
        "182dc868ebef96b901e5e345ea061342e702554520588fc78a249cb284db6b68";
    const BOB_ONE_TIME_PRE_KEY: &str =
        "e80721e130ea68a10d29c9de2c10989334e2b4f1b184ae4799fb9512dfcf7d6a";
    const ALICE_BASE: &str = "808d3c7be136d94562b06020e8eb8044e66d9746de6a8873198d6d3e3f759178";
    const ALICE_RATCHET_1: &str =
        "00e74384d2c77a26385d36f8a2f865640522ed87988a869aa3353c562214f562";
    const BOB_RATCHET_1: &str = "085093e8a440c7198dd2429e9d58ed1a006d6131c9076c36a033048fb2a8bd6a";
    const ALICE_RATCHET_2: &str =
        "70d421dd64fbe2d64eb7b37eae8513b78a29c1a066e73e5858d251562b251548";

    const X3DH_ROOT_KEY: &str = "e53265a186a832e5b12f9ee75d0715d75e3ef1df7b3772229fb6c9ba62acdc76";
    const ALICE_ROOT_AFTER_FIRST_TURN: &str =
        "ac574eb28ae7e0e8c0446f69cbb92645e9f22be9e65e04260a93a362e61dbc66";
    const ALICE_SENDING_CHAIN_KEY: &str =
        "7e049efbc521f34febfd85fb036761b8fa1b3b4878160ddbaead0c72d4ce286a";
    const PKMSG_1: &str = "33081f122105eacd8cc43f57b5d7a218e686b3ae2eb16b18e0d13dd5e0fab062d1cba8375a421a2105d26e55a89604c35812a4578b547faed8e6a96f7d8791c9870bad727c9aadb9712242330a210573117970ac7aab0083bdda0ac4971a834705138cd0f49978247676e31087e63d1000180022107cee4d45951c05cddcf1e2d78c52eb4a818bc23eb937294828d2093007";
    const PKMSG_2: &str = "33081f122105eacd8cc43f57b5d7a218e686b3ae2eb16b18e0d13dd5e0fab062d1cba8375a421a2105d26e55a89604c35812a4578b547faed8e6a96f7d8791c9870bad727c9aadb9712242330a210573117970ac7aab0083bdda0ac4971a834705138cd0f49978247676e31087e63d10011800221055bf58651dc6af2481522fcc3c49b59993236ee0df495a9928d2093007";
    const BOB_MSG_1: &str = "330a21059b79a5b10f238ae28220636a9d675e1b9949a80dc75470f2a7882db48d2f553b10001800221078b727f5fcca2245fa146118b65882ee67f66b06c16f1aa9";
    const ALICE_MSG_3: &str = "330a2105962a5a6e4f7947373d9117fa454cfc3c049c6feda2599bb010f96300ba6b0302100018012220cc8e82352b6bc8c359188a7bac586c8c487573f778a5b6710153144c6b9f7272ac86acd10262d603";

    struct Fixture {
        alice: InMemorySignalStore,
        bob: InMemorySignalStore,
        bundle: PreKeyBundle,
    }

    fn alice_address() -> ProtocolAddress {
        ProtocolAddress::new("alice", 1)
    }

    fn bob_address() -> ProtocolAddress {
        ProtocolAddress::new("bob", 2)
    }

    fn fixture() -> Fixture {
        let alice = InMemorySignalStore::new(
            IdentityKeyPair::from(key_pair(ALICE_IDENTITY)),
            RegistrationId::new(1234),
        );
        let bob_identity = IdentityKeyPair::from(key_pair(BOB_IDENTITY));
        let mut bob = InMemorySignalStore::new(bob_identity.clone(), RegistrationId::new(5678));
        let signed_key = key_pair(BOB_SIGNED_PRE_KEY);
        let signature = bob_identity.private_key().sign(
            &signed_key.public.to_prefixed(),
            &mut StdRng::seed_from_u64(0),
        );
        let signed = SignedPreKey {
            id: SignedPreKeyId(7),
            key_pair: signed_key,
            signature,
            timestamp: 0,
        };
        let one_time = PreKey {
            id: PreKeyId(31),
            key_pair: key_pair(BOB_ONE_TIME_PRE_KEY),
        };
        bob.add_signed_pre_key(&signed);
        bob.add_pre_key(&one_time);
        let bundle = PreKeyBundle {
            registration_id: RegistrationId::new(5678),
            device_id: 2,
            identity_key: *bob_identity.identity_key(),
            signed_pre_key_id: signed.id,
            signed_pre_key: signed.key_pair.public,
            signed_pre_key_signature: signed.signature,
            pre_key: Some((one_time.id, one_time.key_pair.public)),
        };
        Fixture { alice, bob, bundle }
    }

    #[test]
    fn x3dh_master_secret_matches_libsignal() {
        let bob_identity = key_pair(BOB_IDENTITY);
        let signed = key_pair(BOB_SIGNED_PRE_KEY);
        let one_time = key_pair(BOB_ONE_TIME_PRE_KEY);
        let alice_identity = key_pair(ALICE_IDENTITY).public;
        let alice_base = key_pair(ALICE_BASE).public;
        // Responder's order, as in decrypt_prekey_message.
        let (root, _) = x3dh(&[
            signed.private.agree(&alice_identity),
            bob_identity.private.agree(&alice_base),
            signed.private.agree(&alice_base),
            one_time.private.agree(&alice_base),
        ]);
        assert_eq!(hex::encode(root.0), X3DH_ROOT_KEY);
    }

    #[test]
    fn transcript_matches_libsignal_byte_for_byte() {
        let Fixture {
            mut alice,
            mut bob,
            bundle,
        } = fixture();
        let mut rng = QueueRng::new(&[ALICE_BASE, ALICE_RATCHET_1]);
        let outcome = process_bundle(&alice, &bob_address(), &bundle, &mut rng).unwrap();
        {
            let record = outcome.changes.sessions.get(&bob_address()).unwrap();
            let state = record.clone().current_mut().unwrap().clone();
            assert_eq!(hex::encode(state.root_key.0), ALICE_ROOT_AFTER_FIRST_TURN);
            assert_eq!(
                hex::encode(state.sender_chain.chain_key.key),
                ALICE_SENDING_CHAIN_KEY
            );
        }
        alice.apply(outcome.changes);

        for (plaintext, expected) in [(&b"m1 hello"[..], PKMSG_1), (b"m2 second", PKMSG_2)] {
            let sent = encrypt(&alice, &bob_address(), plaintext).unwrap();
            assert_eq!(sent.value.enc_type(), "pkmsg");
            assert_eq!(hex::encode(sent.value.serialized()), expected);
            alice.apply(sent.changes);
        }

        let mut rng = QueueRng::new(&[BOB_RATCHET_1]);
        for (bytes, plaintext) in [(PKMSG_1, &b"m1 hello"[..]), (PKMSG_2, b"m2 second")] {
            let message = PreKeySignalMessage::from_bytes(&hex::decode(bytes).unwrap()).unwrap();
            let got = decrypt_prekey_message(&bob, &alice_address(), &message, &mut rng).unwrap();
            assert_eq!(got.value, plaintext);
            bob.apply(got.changes);
        }
        let reply = encrypt(&bob, &alice_address(), b"r1 reply").unwrap();
        assert_eq!(reply.value.enc_type(), "msg");
        assert_eq!(hex::encode(reply.value.serialized()), BOB_MSG_1);
        bob.apply(reply.changes);

        let mut rng = QueueRng::new(&[ALICE_RATCHET_2]);
        let message = SignalMessage::from_bytes(&hex::decode(BOB_MSG_1).unwrap()).unwrap();
        let got = decrypt_message(&alice, &bob_address(), &message, &mut rng).unwrap();
        assert_eq!(got.value, b"r1 reply");
        alice.apply(got.changes);
        let sent = encrypt(&alice, &bob_address(), b"m3 after ratchet").unwrap();
        assert_eq!(sent.value.enc_type(), "msg");
        assert_eq!(hex::encode(sent.value.serialized()), ALICE_MSG_3);
    }

    #[test]
    fn receiving_chains_are_bounded() {
        let Fixture {
            mut alice,
            mut bob,
            bundle,
        } = fixture();
        let mut rng = StdRng::seed_from_u64(11);
        let outcome = process_bundle(&alice, &bob_address(), &bundle, &mut rng).unwrap();
        alice.apply(outcome.changes);
        let first = encrypt(&alice, &bob_address(), b"first").unwrap();
        alice.apply(first.changes);
        let got = decrypt(&bob, &alice_address(), &first.value, &mut rng).unwrap();
        bob.apply(got.changes);
        let mut stale = None;
        for round in 0..8 {
            let to_alice = encrypt(&bob, &alice_address(), b"ping").unwrap();
            bob.apply(to_alice.changes);
            let got = decrypt(&alice, &bob_address(), &to_alice.value, &mut rng).unwrap();
            alice.apply(got.changes);
            let to_bob = encrypt(&alice, &bob_address(), b"pong").unwrap();
            alice.apply(to_bob.changes);
            if round == 0 {
                // Held back while the ratchet turns more than five times.
                let extra = encrypt(&alice, &bob_address(), b"stale").unwrap();
                alice.apply(extra.changes);
                stale = Some(extra.value);
            }
            let got = decrypt(&bob, &alice_address(), &to_bob.value, &mut rng).unwrap();
            bob.apply(got.changes);
        }
        let mut record = bob.session(&alice_address()).unwrap().unwrap();
        let state = record.current_mut().unwrap();
        assert_eq!(
            state.receiver_chains.len(),
            crate::signal::MAX_RECEIVER_CHAINS
        );
        assert_eq!(
            decrypt(&bob, &alice_address(), &stale.unwrap(), &mut rng).unwrap_err(),
            SignalError::BadMac
        );
    }
}
