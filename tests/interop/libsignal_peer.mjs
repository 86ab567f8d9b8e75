// An independent Signal peer for tests/signal_interop.rs: the `libsignal` npm
// package for 1:1 sessions and Baileys' sender key classes for groups, with
// in-memory stores that keep serialised records (as real stores do).
//
// Protocol: one request per line on stdin, words separated by spaces, binary
// values in hex; one answer per line on stdout: `ok [values…]` or `err <text>`.
//
//   identity                                   -> ok <identity key, 33 bytes>
//   bundle <pre-key id>                        -> ok <registration id> <identity> <signed id> <signed key> <signature> <pre-key id> <pre-key>
//   process_bundle <name> <device> <registration id> <identity> <signed id> <signed key> <signature> [<pre-key id> <pre-key>] -> ok
//   encrypt <name> <device> <plaintext>        -> ok <pkmsg|msg> <body>
//   decrypt <name> <device> <pkmsg|msg> <body> -> ok <plaintext>
//   group_create <group> <name> <device>       -> ok <distribution message>
//   group_process <group> <name> <device> <distribution message> -> ok
//   group_encrypt <group> <name> <device> <plaintext> -> ok <skmsg>
//   group_decrypt <group> <name> <device> <skmsg>     -> ok <plaintext>

import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';

// libsignal logs with console.info/log; keep stdout for answers only.
const log = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
console.log = console.info = console.debug = log;

const require = createRequire(import.meta.url);
const libsignal = require('libsignal');
const { GroupCipher, GroupSessionBuilder, SenderKeyDistributionMessage, SenderKeyName, SenderKeyRecord } =
  await import('baileys/lib/Signal/Group/index.js');
const { BufferJSON } = await import('baileys/lib/Utils/generics.js');

const identity = libsignal.keyhelper.generateIdentityKeyPair();
const registrationId = libsignal.keyhelper.generateRegistrationId();
const signedPreKey = libsignal.keyhelper.generateSignedPreKey(identity, 1);
const preKeys = new Map();
const sessions = new Map();
const senderKeys = new Map();

const store = {
  getOurIdentity: async () => identity,
  getOurRegistrationId: async () => registrationId,
  isTrustedIdentity: async () => true,
  loadSession: async (id) =>
    sessions.has(id) ? libsignal.SessionRecord.deserialize(JSON.parse(sessions.get(id))) : undefined,
  storeSession: async (id, record) => { sessions.set(id, JSON.stringify(record.serialize())); },
  loadPreKey: async (id) => preKeys.get(id),
  removePreKey: async (id) => { preKeys.delete(id); },
  loadSignedPreKey: async (id) => (id === signedPreKey.keyId ? signedPreKey.keyPair : undefined),
  loadSenderKey: async (name) => {
    const bytes = senderKeys.get(name.toString());
    return bytes ? SenderKeyRecord.deserialize(bytes) : new SenderKeyRecord();
  },
  storeSenderKey: async (name, record) => {
    senderKeys.set(name.toString(), Buffer.from(JSON.stringify(record.serialize(), BufferJSON.replacer)));
  },
};

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const bin = (text) => Buffer.from(text, 'hex');
const address = (name, device) => new libsignal.ProtocolAddress(name, Number(device));
const senderKeyName = (group, name, device) => new SenderKeyName(group, address(name, device));

const handlers = {
  identity: () => [hex(identity.pubKey)],
  bundle: ([preKeyId]) => {
    const preKey = libsignal.keyhelper.generatePreKey(Number(preKeyId));
    preKeys.set(preKey.keyId, preKey.keyPair);
    return [registrationId, hex(identity.pubKey), signedPreKey.keyId, hex(signedPreKey.keyPair.pubKey),
      hex(signedPreKey.signature), preKey.keyId, hex(preKey.keyPair.pubKey)];
  },
  process_bundle: async ([name, device, regId, identityKey, signedId, signedKey, signature, preKeyId, preKey]) => {
    const bundle = {
      registrationId: Number(regId),
      identityKey: bin(identityKey),
      signedPreKey: { keyId: Number(signedId), publicKey: bin(signedKey), signature: bin(signature) },
    };
    if (preKeyId !== undefined) bundle.preKey = { keyId: Number(preKeyId), publicKey: bin(preKey) };
    await new libsignal.SessionBuilder(store, address(name, device)).initOutgoing(bundle);
    return [];
  },
  encrypt: async ([name, device, plaintext]) => {
    const { type, body } = await new libsignal.SessionCipher(store, address(name, device)).encrypt(bin(plaintext));
    return [type === 3 ? 'pkmsg' : 'msg', hex(body)];
  },
  decrypt: async ([name, device, type, body]) => {
    const cipher = new libsignal.SessionCipher(store, address(name, device));
    const plaintext = type === 'pkmsg'
      ? await cipher.decryptPreKeyWhisperMessage(bin(body))
      : await cipher.decryptWhisperMessage(bin(body));
    return [hex(plaintext)];
  },
  group_create: async ([group, name, device]) => {
    const message = await new GroupSessionBuilder(store).create(senderKeyName(group, name, device));
    return [hex(message.serialize())];
  },
  group_process: async ([group, name, device, distribution]) => {
    const message = new SenderKeyDistributionMessage(null, null, null, null, bin(distribution));
    await new GroupSessionBuilder(store).process(senderKeyName(group, name, device), message);
    return [];
  },
  group_encrypt: async ([group, name, device, plaintext]) =>
    [hex(await new GroupCipher(store, senderKeyName(group, name, device)).encrypt(bin(plaintext)))],
  group_decrypt: async ([group, name, device, message]) =>
    [hex(await new GroupCipher(store, senderKeyName(group, name, device)).decrypt(bin(message)))],
};

const lines = createInterface({ input: process.stdin, terminal: false });
for await (const line of lines) {
  const [op, ...args] = line.trim().split(/\s+/);
  let answer;
  try {
    const handler = handlers[op];
    if (!handler) throw new Error(`unknown request ${op}`);
    answer = ['ok', ...(await handler(args))].join(' ');
  } catch (error) {
    answer = `err ${String(error && error.message || error).replace(/\s+/g, ' ')}`;
  }
  process.stdout.write(answer + '\n');
}
