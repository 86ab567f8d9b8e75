// Runs Baileys' codec (npm `baileys`, pinned in package.json) over the shared stanza corpus
// that our encoder wrote (tests/data/stanza_corpus.txt):
//
//   node tests/interop/baileys_corpus.mjs [iterations]
//
// 1. Baileys must decode every stanza, and its encoding of what it decoded must decode to
//    the same structure again (our bytes are valid input for an independent decoder).
// 2. It then times Baileys' decode and encode of the whole corpus, the JS side of the
//    comparison with `cargo bench --bench binary -- corpus`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
const { decodeDecompressedBinaryNode, encodeBinaryNode } = require('baileys/lib/WABinary/index.js');
const constants = require('baileys/lib/WABinary/constants.js');
const { version } = require('baileys/package.json');

const path = new URL('../data/stanza_corpus.txt', import.meta.url);
const corpus = readFileSync(path, 'utf8')
  .split('\n')
  .filter(line => line.trim() && !line.startsWith('#'))
  .map(line => {
    const [name, hex] = line.split(' ');
    return { name, bytes: Buffer.from(hex, 'hex') };
  });

const decode = bytes => decodeDecompressedBinaryNode(bytes, constants);
let failures = 0;
for (const { name, bytes } of corpus) {
  try {
    const node = decode(bytes);
    const again = decode(encodeBinaryNode(node).subarray(1));
    if (!isDeepStrictEqual(again, node)) throw new Error('re-encoding changed the node');
  } catch (err) {
    failures++;
    console.error(`${name}: ${err.message}`);
  }
}
const total = corpus.reduce((n, { bytes }) => n + bytes.length, 0);
console.log(`baileys ${version}: ${corpus.length - failures}/${corpus.length} corpus stanzas decode and re-encode (${total} bytes)`);
if (failures) process.exit(1);

const iterations = Number(process.argv[2] ?? 2000);
const nodes = corpus.map(({ bytes }) => decode(bytes));
const time = (label, run) => {
  for (let i = 0; i < Math.min(iterations, 500); i++) run(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  const micros = Number(process.hrtime.bigint() - start) / 1000 / iterations;
  console.log(`${label}: ${micros.toFixed(1)} µs per corpus (${(total / micros).toFixed(1)} MB/s)`);
};
time('baileys decode', () => { for (const { bytes } of corpus) decode(bytes); });
time('baileys encode', () => { for (const node of nodes) encodeBinaryNode(node); });
