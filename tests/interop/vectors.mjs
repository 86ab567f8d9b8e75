// Produces the known-answer vectors of `src/signal/` with independent
// implementations: the `libsignal` npm package (1:1 sessions) and Baileys'
// sender key classes (groups), run with fixed keys instead of random ones.
//
//   node tests/interop/vectors.mjs      (needs `npm ci`)
//
// Prints JSON; the Rust tests hold the same values in hex.

import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';

const require = createRequire(import.meta.url);
const curve = require('libsignal/src/curve.js');
const crypto = require('libsignal/src/crypto.js');
const curveJs = require('curve25519-js');
const libsignal = require('libsignal');

const hex = (b) => Buffer.from(b).toString('hex');

/** A clamped private key derived from a label. */
function privateKey(label) {
  const k = createHash('sha256').update(label).digest();
  k[0] &= 248; k[31] &= 127; k[31] |= 64;
  return k;
}
function keyPair(label) {
  const privKey = privateKey(label);
  return { privKey, pubKey: curve.getPublicFromPrivateKey(privKey) };
}

// Key generation and signatures become deterministic: keys come from a queue,
// signature randomness is fixed.
let queue = [];
curve.generateKeyPair = () => {
  if (!queue.length) throw new Error('key queue empty');
  return queue.shift();
};
let signatureRandom = Buffer.alloc(64, 0x11);
curve.calculateSignature = (privKey, message) =>
  Buffer.from(curveJs.sign(privKey, message, signatureRandom));

const out = {};

// --- KDF chain step: chain key -> message keys.
{
  const chainKey = Buffer.from([...Array(32).keys()]);
  const seed = crypto.calculateMAC(chainKey, Buffer.from([1]));
  const next = crypto.calculateMAC(chainKey, Buffer.from([2]));
  const keys = crypto.deriveSecrets(seed, Buffer.alloc(32), Buffer.from('WhisperMessageKeys'));
  out.chain = {
    chain_key: hex(chainKey), seed: hex(seed), next_chain_key: hex(next),
    cipher_key: hex(keys[0]), mac_key: hex(keys[1]), iv: hex(keys[2].slice(0, 16)),
  };
}

// --- Root key step.
{
  const rootKey = Buffer.alloc(32, 0xab);
  const ours = keyPair('root step ours');
  const theirs = keyPair('root step theirs');
  const shared = curve.calculateAgreement(theirs.pubKey, ours.privKey);
  const [newRoot, chainKey] = crypto.deriveSecrets(shared, rootKey, Buffer.from('WhisperRatchet'), 2);
  out.root_step = {
    root_key: hex(rootKey), our_private: hex(ours.privKey), their_public: hex(theirs.pubKey),
    new_root_key: hex(newRoot), chain_key: hex(chainKey),
  };
}

// --- Full 1:1 transcript between two libsignal instances.
const keys = {
  alice_identity: keyPair('alice identity'),
  bob_identity: keyPair('bob identity'),
  bob_signed_pre_key: keyPair('bob signed pre-key'),
  bob_one_time_pre_key: keyPair('bob one-time pre-key'),
  alice_base: keyPair('alice base key'),
  alice_ratchet_1: keyPair('alice ratchet 1'),
  bob_ratchet_1: keyPair('bob ratchet 1'),
  alice_ratchet_2: keyPair('alice ratchet 2'),
};

function makeStore(identity, registrationId, preKeys, signedPreKeys) {
  const sessions = new Map();
  return {
    getOurIdentity: async () => identity,
    getOurRegistrationId: async () => registrationId,
    isTrustedIdentity: async () => true,
    loadSession: async (id) => {
      const s = sessions.get(id);
      return s ? libsignal.SessionRecord.deserialize(s) : undefined;
    },
    storeSession: async (id, record) => { sessions.set(id, record.serialize()); },
    loadPreKey: async (id) => preKeys.get(id),
    removePreKey: async (id) => { preKeys.delete(id); },
    loadSignedPreKey: async (id) => signedPreKeys.get(id),
    sessions,
  };
}

{
  const aliceStore = makeStore(keys.alice_identity, 1234, new Map(), new Map());
  const bobStore = makeStore(keys.bob_identity, 5678,
    new Map([[31, keys.bob_one_time_pre_key]]), new Map([[7, keys.bob_signed_pre_key]]));
  const aliceAddr = new libsignal.ProtocolAddress('alice', 1);
  const bobAddr = new libsignal.ProtocolAddress('bob', 2);
  const X3DH_ROOT = {};

  queue = [keys.alice_base, keys.alice_ratchet_1];
  await new libsignal.SessionBuilder(aliceStore, bobAddr).initOutgoing({
    registrationId: 5678,
    identityKey: keys.bob_identity.pubKey,
    signedPreKey: { keyId: 7, publicKey: keys.bob_signed_pre_key.pubKey, signature: Buffer.alloc(64) },
    preKey: { keyId: 31, publicKey: keys.bob_one_time_pre_key.pubKey },
  });
  const aliceSession = (await aliceStore.loadSession(bobAddr.toString())).getOpenSession();
  const sendingChain = aliceSession.getChain(keys.alice_ratchet_1.pubKey);

  // The responder's root key right after X3DH (before any ratchet turn).
  const builder = new libsignal.SessionBuilder(bobStore, aliceAddr);
  const responder = await builder.initSession(false, keys.bob_one_time_pre_key, keys.bob_signed_pre_key,
    keys.alice_identity.pubKey, keys.alice_base.pubKey, undefined, 1234);
  X3DH_ROOT.root_key = hex(responder.currentRatchet.rootKey);

  const alice = new libsignal.SessionCipher(aliceStore, bobAddr);
  const bob = new libsignal.SessionCipher(bobStore, aliceAddr);
  const p1 = await alice.encrypt(Buffer.from('m1 hello'));
  const p2 = await alice.encrypt(Buffer.from('m2 second'));
  queue = [keys.bob_ratchet_1];
  await bob.decryptPreKeyWhisperMessage(p1.body);
  await bob.decryptPreKeyWhisperMessage(p2.body);
  const m3 = await bob.encrypt(Buffer.from('r1 reply'));
  queue = [keys.alice_ratchet_2];
  await alice.decryptWhisperMessage(m3.body);
  const m4 = await alice.encrypt(Buffer.from('m3 after ratchet'));

  out.transcript = {
    private_keys: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, hex(v.privKey)])),
    x3dh_root_key: X3DH_ROOT.root_key,
    alice_root_key_after_first_turn: hex(aliceSession.currentRatchet.rootKey),
    alice_sending_chain_key: hex(sendingChain.chainKey.key),
    pkmsg_1: hex(p1.body), pkmsg_2: hex(p2.body), bob_msg_1: hex(m3.body), alice_msg_3: hex(m4.body),
    types: [p1.type, p2.type, m3.type, m4.type],
  };
}

// --- Sender keys, with Baileys' classes (imported after the patches above).
{
  const G = await import('baileys/lib/Signal/Group/index.js');
  const seed = Buffer.alloc(32, 0x5a);
  const chain = new G.SenderChainKey(0, seed);
  const mk0 = chain.getSenderMessageKey();
  const signing = keyPair('sender signing key');
  const skdm = new G.SenderKeyDistributionMessage(987654, 0, seed, signing.pubKey);
  const messages = [];
  let ck = chain;
  for (const [i, text] of ['group one', 'group two'].entries()) {
    const mk = ck.getSenderMessageKey();
    const ciphertext = crypto.encrypt(mk.getCipherKey(), Buffer.from(text), mk.getIv());
    signatureRandom = Buffer.alloc(64, 0x21 + i);
    messages.push(hex(new G.SenderKeyMessage(987654, i, ciphertext, signing.privKey).serialize()));
    ck = ck.getNext();
  }
  out.group = {
    chain_key: hex(seed), iv: hex(mk0.getIv()), cipher_key: hex(mk0.getCipherKey()),
    next_chain_key: hex(chain.getNext().getSeed()),
    signing_private: hex(signing.privKey), skdm: hex(skdm.serialize()), skmsg: messages,
  };
}

console.log(JSON.stringify(out, null, 1));
