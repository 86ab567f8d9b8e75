// Side-by-side benchmarks: this project's wasm build against Baileys (npm `baileys`)
// and libsignal (npm `libsignal`), in one Node process on the same machine.
//
//   node bench/run.mjs <path to the wasm-pack --target nodejs package of bench/> <out.json>
//
// `cargo xtask bench` builds the package and runs this. Each figure is the median of
// several timed rounds after a warm-up; ratios are "how many times faster ours is"
// (their time ÷ our time), so higher is better for us.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [pkgDir, outPath] = process.argv.slice(2);
if (!pkgDir || !outPath) {
  console.error('usage: node bench/run.mjs <bench pkg dir> <out.json>');
  process.exit(2);
}
const ours = require(resolve(pkgDir, 'wa_bench.js'));

// Quiet libsignal's console logging so the table stays readable.
console.info = console.debug = () => {};
const libsignal = require('libsignal');
const { GroupCipher, GroupSessionBuilder, SenderKeyName, SenderKeyRecord } =
  await import('baileys/lib/Signal/Group/index.js');
const { BufferJSON } = await import('baileys/lib/Utils/generics.js');
const { decodeDecompressedBinaryNode, encodeBinaryNode } = require('baileys/lib/WABinary/index.js');
const waConstants = require('baileys/lib/WABinary/constants.js');
const baileysVersion = require('baileys/package.json').version;

const ROUNDS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median microseconds per call of `run` (sync or async). */
async function time(run, callsPerRound) {
  for (let i = 0; i < Math.max(3, callsPerRound / 4); i++) await run();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < callsPerRound; i++) await run();
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / callsPerRound);
  }
  return median(rounds);
}

const rows = [];
const row = (name, unit, oursUs, theirsUs) =>
  rows.push({ name, unit, ours_us: oursUs, theirs_us: theirsUs, ratio: theirsUs / oursUs });

// (a) binary node codec over the shared stanza corpus.
const corpusText = readFileSync(new URL('../tests/data/stanza_corpus.txt', import.meta.url), 'utf8');
const stanzas = corpusText.split('\n').filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => Buffer.from(l.split(' ')[1], 'hex'));
const prefixed = Buffer.concat(stanzas.flatMap((s) => {
  const len = Buffer.alloc(4); len.writeUInt32BE(s.length); return [len, s];
}));
const codec = new ours.CodecBench(prefixed);
const theirNodes = stanzas.map((s) => decodeDecompressedBinaryNode(s, waConstants));
const corpusBytes = stanzas.reduce((n, s) => n + s.length, 0);
const unit = `corpus (${stanzas.length} stanzas, ${corpusBytes} B)`;
row('codec decode', unit,
  await time(() => codec.decode(1), 300),
  await time(() => { for (const s of stanzas) decodeDecompressedBinaryNode(s, waConstants); }, 300));
row('codec encode', unit,
  await time(() => codec.encode(1), 300),
  await time(() => { for (const n of theirNodes) encodeBinaryNode(n); }, 300));

// (b) Signal: 1:1 encrypt+decrypt and sender-key encrypt+decrypt of 200-byte messages.
const signal = new ours.SignalBench();
const plaintext = Buffer.alloc(200, 0x42);

function memoryStore(identity, registrationId) {
  const sessions = new Map(); const preKeys = new Map(); const signed = new Map(); const senderKeys = new Map();
  return {
    preKeys, signed,
    getOurIdentity: async () => identity,
    getOurRegistrationId: async () => registrationId,
    isTrustedIdentity: async () => true,
    loadSession: async (id) => sessions.has(id)
      ? libsignal.SessionRecord.deserialize(JSON.parse(sessions.get(id))) : undefined,
    storeSession: async (id, record) => { sessions.set(id, JSON.stringify(record.serialize())); },
    loadPreKey: async (id) => preKeys.get(id),
    removePreKey: async (id) => { preKeys.delete(id); },
    loadSignedPreKey: async (id) => signed.get(id),
    loadSenderKey: async (name) => {
      const bytes = senderKeys.get(name.toString());
      return bytes ? SenderKeyRecord.deserialize(bytes) : new SenderKeyRecord();
    },
    storeSenderKey: async (name, record) => {
      senderKeys.set(name.toString(), Buffer.from(JSON.stringify(record.serialize(), BufferJSON.replacer)));
    },
  };
}
const kh = libsignal.keyhelper;
const aliceStore = memoryStore(kh.generateIdentityKeyPair(), kh.generateRegistrationId());
const bobIdentity = kh.generateIdentityKeyPair();
const bobStore = memoryStore(bobIdentity, kh.generateRegistrationId());
const bobSigned = kh.generateSignedPreKey(bobIdentity, 1);
bobStore.signed.set(1, bobSigned.keyPair);
const bobPre = kh.generatePreKey(1);
bobStore.preKeys.set(1, bobPre.keyPair);
const aliceAddr = new libsignal.ProtocolAddress('alice', 1);
const bobAddr = new libsignal.ProtocolAddress('bob', 1);
await new libsignal.SessionBuilder(aliceStore, bobAddr).initOutgoing({
  registrationId: await bobStore.getOurRegistrationId(),
  identityKey: bobIdentity.pubKey,
  signedPreKey: { keyId: 1, publicKey: bobSigned.keyPair.pubKey, signature: bobSigned.signature },
  preKey: { keyId: 1, publicKey: bobPre.keyPair.pubKey },
});
const aliceCipher = new libsignal.SessionCipher(aliceStore, bobAddr);
const bobCipher = new libsignal.SessionCipher(bobStore, aliceAddr);
async function theirOneToOne() {
  const { type, body } = await aliceCipher.encrypt(plaintext);
  if (type === 3) await bobCipher.decryptPreKeyWhisperMessage(body);
  else await bobCipher.decryptWhisperMessage(body);
}
await theirOneToOne();
{ const { body } = await bobCipher.encrypt(plaintext); await aliceCipher.decryptWhisperMessage(body); }
row('signal 1:1 encrypt+decrypt', 'message (200 B)',
  await time(() => signal.one_to_one(1, 200), 300), await time(theirOneToOne, 300));

const groupName = new SenderKeyName('120363000000000001@g.us', aliceAddr);
const distribution = await new GroupSessionBuilder(aliceStore).create(groupName);
await new GroupSessionBuilder(bobStore).process(groupName, distribution);
const aliceGroup = new GroupCipher(aliceStore, groupName);
const bobGroup = new GroupCipher(bobStore, groupName);
row('signal sender-key encrypt+decrypt', 'message (200 B)',
  await time(() => signal.group(1, 200), 300),
  await time(async () => bobGroup.decrypt(await aliceGroup.encrypt(plaintext)), 300));

// Table.
const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
const header = ['benchmark', 'per', 'wa-wasm (wasm)', `baileys ${baileysVersion}`, 'ratio'];
const table = rows.map((r) => [r.name, r.unit, fmt(r.ours_us), fmt(r.theirs_us), `${r.ratio.toFixed(2)}×`]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const t of table) console.log(line(t));

mkdirSync(dirname(resolve(outPath)), { recursive: true });
writeFileSync(outPath, JSON.stringify({
  node: process.version, baileys: baileysVersion, libsignal: require('libsignal/package.json').version, rows,
}, null, 2) + '\n');
console.log(`\nwritten ${outPath}`);
