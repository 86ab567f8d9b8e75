// Encodes a set of realistic stanzas with Baileys' own encoder (npm `baileys`, the
// version pinned in package.json) and prints them as test vectors:
//
//   node tests/interop/baileys_nodes.mjs > tests/data/baileys_nodes.txt
//
// Each line is `name hex`, the hex being the frame payload Baileys produces (flag byte 00
// followed by the node). tests/binary/baileys.rs decodes every vector and compares it with
// the structure written out by hand there; keep the two lists in step.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { encodeBinaryNode } = require('baileys/lib/WABinary/index.js');
const { version } = require('baileys/package.json');

// Deterministic filler for ciphertexts, keys and refs; tests/binary/baileys.rs has the
// same function.
const filler = (len, seed) => {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = (seed * 131 + i * 71 + (i >> 3)) & 0xff;
  return out;
};

const node = (tag, attrs = {}, content) =>
  content === undefined ? { tag, attrs } : { tag, attrs, content };

const vectors = [
  // protocol-facts §4.7, first worked example
  ['ping_iq', node('iq', { id: '1.2-3', to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, [node('ping')])],
  // protocol-facts §4.7, second worked example (empty attribute, AD_JID with device 0)
  ['message_empty_attr', node('message', { id: '3EB0ABCDEF', to: '123:0@s.whatsapp.net', x: '' }, Buffer.from([1, 2, 3]))],
  ['message_pkmsg', node('message', { id: '3EB0C767D26A1D8E7BA5D2', to: '5511987654321@s.whatsapp.net', type: 'text' }, [
    node('participants', {}, [
      node('to', { jid: '5511987654321@s.whatsapp.net' }, [node('enc', { v: '2', type: 'pkmsg' }, filler(212, 1))]),
      node('to', { jid: '5511987654321:3@s.whatsapp.net' }, [node('enc', { v: '2', type: 'msg' }, filler(180, 2))]),
      node('to', { jid: '5511912345678:12@s.whatsapp.net' }, [node('enc', { v: '2', type: 'pkmsg' }, filler(220, 3))]),
    ]),
    node('device-identity', {}, filler(160, 4)),
  ])],
  ['message_group_skmsg', node('message', { id: '3EB0AA00BB11CC22DD33EE', to: '120363025246125888@g.us', type: 'text', addressing_mode: 'lid', phash: '2:kXw3rP0' }, [
    node('participants', {}, [
      node('to', { jid: '209876543210987:2@lid' }, [node('enc', { v: '2', type: 'msg' }, filler(150, 5))]),
    ]),
    node('enc', { v: '2', type: 'skmsg' }, filler(120, 6)),
  ])],
  ['receipt_read', node('receipt', { id: '3EB0C767D26A1D8E7BA5D2', to: '5511987654321@s.whatsapp.net', type: 'read', t: '1732272000' }, [
    node('list', {}, [node('item', { id: '3EB0AA00BB11CC22DD33EE' }), node('item', { id: 'ABCDEF0123456789' })]),
  ])],
  ['receipt_peer', node('receipt', { id: '3A1B2C3D4E5F', to: '5511987654321:5@s.whatsapp.net', type: 'peer_msg', category: 'peer' })],
  ['ack_message', node('ack', { class: 'message', id: '3EB0C767D26A1D8E7BA5D2', to: '5511987654321@s.whatsapp.net', from: '5511900000000:7@s.whatsapp.net', t: '1732272001' })],
  ['usync_query', node('iq', { id: '43210.5678-9', to: '@s.whatsapp.net', type: 'get', xmlns: 'usync' }, [
    node('usync', { sid: '43210.5678-8', mode: 'query', last: 'true', index: '0', context: 'message' }, [
      node('query', {}, [node('devices', { version: '2' }), node('lid')]),
      node('list', {}, [node('user', { jid: '5511987654321@s.whatsapp.net' }), node('user', { jid: '5511900000000@s.whatsapp.net' })]),
    ]),
  ])],
  ['prekey_upload', node('iq', { id: '1.2-4', to: '@s.whatsapp.net', type: 'set', xmlns: 'encrypt' }, [
    node('registration', {}, Buffer.from([0x00, 0x00, 0x30, 0x39])),
    node('type', {}, Buffer.from([5])),
    node('identity', {}, filler(32, 7)),
    node('list', {}, [1, 2, 3].map(i => node('key', {}, [node('id', {}, Buffer.from([0, 0, i])), node('value', {}, filler(32, 10 + i))]))),
    node('skey', {}, [node('id', {}, Buffer.from([0, 0, 1])), node('value', {}, filler(32, 20)), node('signature', {}, filler(64, 21))]),
  ])],
  ['pair_device', node('iq', { from: '@s.whatsapp.net', type: 'set', id: '1234567890', xmlns: 'md' }, [
    node('pair-device', {}, [1, 2, 3, 4, 5, 6].map(i => node('ref', {}, Buffer.from(`2@${filler(30, i).toString('base64')}`)))),
  ])],
  ['success', node('success', { t: '1732272000', props: '1234', abprops: '56', location: 'gru', lid: '209876543210987@lid', creation: '1700000000', display_name: '' })],
  ['stream_error_conflict', node('stream:error', { code: '440' }, [node('conflict', { type: 'replaced' })])],
  ['notification_count', node('notification', { from: '@s.whatsapp.net', type: 'encrypt', id: '2841927491', t: '1732272002' }, [node('count', { value: '3' })])],
  ['string_contents', node('strings', {}, [
    node('text', {}, 'Tu reserva está confirmada ✓'),
    node('digits', {}, '5511987654321'),
    node('token', {}, 's.whatsapp.net'),
    node('jid', {}, '5511987654321:3@s.whatsapp.net'),
    node('empty', {}, ''),
  ])],
  ['agent_forms', node('user', { a: '5511987654321_1:2@s.whatsapp.net', b: '5511987654321_128:1@s.whatsapp.net', c: '5511987654321_7:3@s.whatsapp.net', d: '123:0@lid' })],
  ['hosted_forms', node('user', { a: '5511987654321:5@hosted', b: '209876543210987@hosted.lid', c: '209876543210987:1@hosted.lid', d: '5511987654321@hosted' })],
  ['email_like', node('contact', { email: 'support@example.org', name: 'Ana María' })],
  ['large_lists', node('list', { digits: '1'.repeat(130) }, [
    node('blob', {}, filler(300, 9)),
    ...Array.from({ length: 300 }, (_, i) => node('item', { id: String(i) })),
  ])],
  ['double_tokens', node('iq', { xmlns: 'w:sync:app:state', type: 'set', id: '7.7-7' }, [
    node('sync', {}, [node('collection', { name: 'regular_high', version: '12', return_snapshot: 'false' })]),
    node('passive'),
  ])],
];

console.log(`# Produced by tests/interop/baileys_nodes.mjs with baileys ${version} (encodeBinaryNode); do not edit.`);
console.log('# name hex (frame payload: flag byte 00, then the node)');
for (const [name, stanza] of vectors) {
  console.log(`${name} ${encodeBinaryNode(stanza).toString('hex')}`);
}
