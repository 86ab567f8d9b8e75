// Computes the Noise known-answer vectors of `src/noise/tests/kat.rs` with an
// independent implementation: the `baileys` npm package (its Noise handler,
// protobuf encoder and libsignal's curve code; X25519 through Node's OpenSSL).
//
//   node tests/interop/noise_vectors.mjs            # prints the vectors
//   node tests/interop/noise_vectors.mjs --check    # exits 1 if kat.rs differs
//
// Baileys only implements the client; the server side is driven with the same
// handler's building blocks (`authenticate`, `mixIntoKey`, `encrypt`,
// `decrypt`), started with the client's ephemeral as its "own" public key so
// that its initial hash mixes the prologue and then the client's ephemeral, as
// a responder's must.

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { strict as assert } from 'node:assert';
import curve from 'libsignal/src/curve.js';
import { makeNoiseHandler, Curve, proto } from 'baileys';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

const clamp = (bytes) => {
  const key = Buffer.from(bytes);
  key[0] &= 248;
  key[31] &= 127;
  key[31] |= 64;
  return key;
};

// Key pair whose private key is 32 copies of `byte`, clamped (as in the Rust fixture).
const keyPair = (byte) => {
  const priv = clamp(Buffer.alloc(32, byte));
  const der = createPublicKey(
    createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' }),
  ).export({ format: 'der', type: 'spki' });
  return { private: priv, public: Buffer.from(der.subarray(der.length - 32)) };
};

const silent = { level: 'silent', child: () => silent, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const frame = (payload) => Buffer.concat([Buffer.from([payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff]), payload]);
const hex = (bytes) => Buffer.from(bytes).toString('hex');

const NOISE_HEADER = Buffer.from([0x57, 0x41, 6, 3]);
const clientStatic = keyPair(0x11);
const clientEphemeral = keyPair(0x22);
const serverStatic = keyPair(0x33);
const serverEphemeral = keyPair(0x44);
const root = keyPair(0x55);

// Inputs shared with kat.rs.
const CHAIN = Buffer.from(
  '0a760a32080810071a207b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14209cc2bbc20628e4c3bbc20612408991a0f6ab9971f120ae50a9b50a9630515a2fefbdd826edbbdf7e7028bbe4a4d970e493c5a1ed2f6db239478c6ee55395707816323e0b1b3da0031503a5ba8712760a32080710001a20219e4d800da968d2a5fcb009c784f4746c7138edb9ee4844b739e830b05cf4242098bbbbc20628e8cabbc20612405df5da2519ac3c228241e1aed4797b786f99c63986b678a15691fb5114e25016fcf57062ed5cc7a189db39e0f2aa84df1649dafd605e2c64a6906d8f7927d60f',
  'hex',
);
const CLIENT_PAYLOAD = Buffer.from('kat client payload');
const FIRST_UP = Buffer.from('\0first frame from the client');
const ROUTING_INFO = Buffer.from('route');

// The fixture chain must be signed correctly (libsignal's XEdDSA verify).
const chain = proto.CertChain.decode(CHAIN);
const djb = (key) => Buffer.concat([Buffer.from([5]), key]);
assert.ok(curve.verifySignature(djb(root.public), chain.intermediate.details, chain.intermediate.signature));
const intermediate = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate.details);
assert.ok(curve.verifySignature(djb(intermediate.key), chain.leaf.details, chain.leaf.signature));
assert.ok(!curve.verifySignature(djb(intermediate.key), chain.intermediate.details, chain.leaf.signature));
const leaf = proto.CertChain.NoiseCertificate.Details.decode(chain.leaf.details);
assert.equal(hex(leaf.key), hex(serverStatic.public));

// -> e
const client = makeNoiseHandler({ keyPair: clientEphemeral, NOISE_HEADER, logger: silent });
const helloBytes = proto.HandshakeMessage.encode({ clientHello: { ephemeral: clientEphemeral.public } }).finish();
const clientHello = client.encodeFrame(helloBytes);

const routed = makeNoiseHandler({ keyPair: clientEphemeral, NOISE_HEADER, logger: silent, routingInfo: ROUTING_INFO });
const clientHelloRouted = routed.encodeFrame(helloBytes);

// <- e, ee, s, es
const server = makeNoiseHandler({
  keyPair: { private: serverEphemeral.private, public: clientEphemeral.public },
  NOISE_HEADER,
  logger: silent,
});
server.authenticate(serverEphemeral.public);
server.mixIntoKey(Curve.sharedKey(serverEphemeral.private, clientEphemeral.public));
const encryptedServerStatic = server.encrypt(serverStatic.public);
server.mixIntoKey(Curve.sharedKey(serverStatic.private, clientEphemeral.public));
const encryptedChain = server.encrypt(CHAIN);
const serverHelloBytes = proto.HandshakeMessage.encode({
  serverHello: { ephemeral: serverEphemeral.public, static: encryptedServerStatic, payload: encryptedChain },
}).finish();
const serverHello = frame(Buffer.from(serverHelloBytes));

// -> s, se (as Baileys' socket.ts does it)
const encryptedClientStatic = client.processHandshake(proto.HandshakeMessage.decode(serverHelloBytes), clientStatic);
const encryptedPayload = client.encrypt(CLIENT_PAYLOAD);
const finishBytes = proto.HandshakeMessage.encode({
  clientFinish: { static: encryptedClientStatic, payload: encryptedPayload },
}).finish();
const clientFinish = client.encodeFrame(finishBytes);
await client.finishInit();

// The server side reads it back.
assert.equal(hex(server.decrypt(encryptedClientStatic)), hex(clientStatic.public));
server.mixIntoKey(Curve.sharedKey(serverEphemeral.private, clientStatic.public));
assert.equal(hex(server.decrypt(encryptedPayload)), hex(CLIENT_PAYLOAD));

const firstUp = client.encodeFrame(FIRST_UP);

const vectors = {
  CLIENT_HELLO: hex(clientHello),
  CLIENT_HELLO_ROUTED: hex(clientHelloRouted),
  SERVER_HELLO: hex(serverHello),
  CLIENT_FINISH: hex(clientFinish),
  FIRST_UP_FRAME: hex(firstUp),
};

if (process.argv.includes('--check')) {
  const kat = readFileSync(new URL('../../src/noise/tests/kat.rs', import.meta.url), 'utf8');
  let failed = false;
  for (const [name, value] of Object.entries(vectors)) {
    const found = kat.match(new RegExp(`const ${name}: &str =\\s*"([0-9a-f]*)"`, 's'));
    if (!found || found[1] !== value) {
      console.error(`${name} differs from kat.rs`);
      failed = true;
    }
  }
  if (failed) process.exit(1);
  console.log(`${Object.keys(vectors).length} passed, 0 failed`);
} else {
  for (const [name, value] of Object.entries(vectors)) console.log(`${name} ${value}`);
}
