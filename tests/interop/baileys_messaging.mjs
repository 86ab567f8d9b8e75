// Interop: the real Baileys client (npm `baileys`, 7.0.0-rc14), linked to Alice's phone
// in a running wa-sim, decrypts a text and a PDF sent by the wa-wasm engine (the PDF
// blob is downloaded from wa-sim and opened with Baileys' media keys, MAC checked), then
// sends a text and a PDF (encrypted by Baileys, uploaded to wa-sim over plain HTTP) that
// the engine decrypts.
//
// Protocol on stdout (one line each): READY, GOT_TEXT <text>, GOT_PDF <sha256 hex> <name>,
// SENT <id>, SENT_PDF <id>. Logs go to stderr. The Rust side (native/tests/baileys_messaging.rs) starts wa-sim, links
// the engine, runs this script and checks each step.
//
// Env: WA_SIM_WS, WA_SIM_CONTROL, WA_ME (the engine's account), WA_CONTACT (Alice),
// WA_PDF (the file Baileys sends back).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import makeWASocket, {
    DisconnectReason,
    downloadEncryptedContent,
    generateWAMessage,
    getMediaKeys,
    useMultiFileAuthState,
} from 'baileys';
import pino from 'pino';

import { baileysOptions, controlApi } from './sim.mjs';

const { WA_SIM_WS: ws, WA_SIM_CONTROL: controlUrl, WA_ME: me, WA_CONTACT: contact, WA_PDF: pdfPath } =
    process.env;
const logger = pino({ level: 'warn' }, pino.destination(2));
const say = line => process.stdout.write(`${line}\n`);

const control = controlApi(controlUrl);

// Baileys' own uploader hard-codes https; the simulator serves plain http on loopback.
async function uploadToSim(filePath, { mediaType, fileEncSha256B64 }) {
    const token = fileEncSha256B64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const response = await fetch(`${new URL(controlUrl).origin}/mms/${mediaType}/${token}?auth=baileys&token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: readFileSync(filePath),
    });
    if (!response.ok) throw new Error(`upload: ${response.status}`);
    const json = await response.json();
    return { mediaUrl: json.url, directPath: json.direct_path };
}

async function openDocument(document) {
    const keys = await getMediaKeys(document.mediaKey, 'document');
    // MAC over iv + ciphertext, first 10 bytes, as WhatsApp does.
    const blob = Buffer.from(await (await fetch(document.url)).arrayBuffer());
    const mac = createHmac('sha256', keys.macKey)
        .update(keys.iv)
        .update(blob.subarray(0, blob.length - 10))
        .digest()
        .subarray(0, 10);
    if (!timingSafeEqual(mac, blob.subarray(blob.length - 10))) throw new Error('media MAC mismatch');
    const stream = await downloadEncryptedContent(document.url, keys);
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return Buffer.concat(chunks);
}

const authDir = mkdtempSync(join(tmpdir(), 'baileys-messaging-'));
const { state, saveCreds } = await useMultiFileAuthState(authDir);
let sock;
let announced = false;
const seen = new Set();

const connect = () => {
    sock = makeWASocket(baileysOptions(ws, state, logger));
    sock.ev.on('creds.update', saveCreds);
    sock.ev.on('connection.update', async update => {
        if (update.qr) await control('POST', '/scan-qr', { qr: update.qr, phone: contact });
        if (update.connection === 'open' && !announced) {
            announced = true;
            // Let the first pre-key upload land before the engine fetches a bundle.
            setTimeout(() => say('READY'), 1500);
        }
        if (update.connection === 'close') {
            const code = update.lastDisconnect?.error?.output?.statusCode;
            if (code === DisconnectReason.restartRequired) connect();
        }
    });
    sock.ev.on('messages.upsert', async ({ messages }) => {
        for (const message of messages) {
            if (message.key.fromMe || seen.has(message.key.id)) continue;
            seen.add(message.key.id);
            const content = message.message ?? {};
            const text = content.conversation ?? content.extendedTextMessage?.text;
            if (text) say(`GOT_TEXT ${text}`);
            const document = content.documentMessage ?? content.documentWithCaptionMessage?.message?.documentMessage;
            if (document) {
                const bytes = await openDocument(document);
                say(`GOT_PDF ${createHash('sha256').update(bytes).digest('hex')} ${document.fileName}`);
                const to = `${me}@s.whatsapp.net`;
                const sent = await sock.sendMessage(to, { text: 'hello from Baileys' });
                say(`SENT ${sent.key.id}`);
                const pdf = await generateWAMessage(
                    to,
                    { document: readFileSync(pdfPath), mimetype: 'application/pdf', fileName: 'reply.pdf' },
                    { upload: uploadToSim, userJid: state.creds.me.id, logger },
                );
                await sock.relayMessage(to, pdf.message, { messageId: pdf.key.id });
                say(`SENT_PDF ${pdf.key.id}`);
            }
        }
    });
};
connect();

process.on('SIGTERM', () => {
    sock?.end(undefined);
    rmSync(authDir, { recursive: true, force: true });
    process.exit(0);
});
setTimeout(() => process.exit(3), 120_000);
