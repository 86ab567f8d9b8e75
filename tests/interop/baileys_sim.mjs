// Independence check: the real Baileys client (npm `baileys`, 7.0.0-rc14) links to the
// `wa-sim` binary by QR, reconnects after the 515 restart, sends a text that a simulated
// contact decrypts, and receives one (by phone number and LID-addressed).
//
// --test-force-exit: Baileys leaves a 30 s pre-key upload timer running after `end()`.
//
// Usage: node --test --test-force-exit tests/interop/baileys_sim.mjs   (WA_SIM_BIN = path of the wa-sim binary)
// Run by `cargo test -p wa-sim --test baileys`, which builds the binary and sets WA_SIM_BIN.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import makeWASocket, { DisconnectReason, useMultiFileAuthState } from 'baileys';
import pino from 'pino';

import { baileysOptions, controlApi, startSim } from './sim.mjs';

const ME = '15550001000';
const ALICE = '15550001001';
const BOB = '15550001002';
const STEP_TIMEOUT_MS = 60_000;

const logger = pino({ level: 'warn' });

function startWaSim() {
    const bin = process.env.WA_SIM_BIN;
    assert.ok(bin, 'WA_SIM_BIN must name the wa-sim binary');
    return startSim(bin, ['--port', '0', '--seed', '42', '--log', process.env.WA_SIM_LOG ?? 'warn'], {
        timeoutMs: STEP_TIMEOUT_MS,
    });
}

async function control(sim, method, path, body) {
    return controlApi(sim.control)(method, path, body);
}

function withTimeout(promise, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_TIMEOUT_MS);
        }),
    ]).finally(() => clearTimeout(timer));
}

async function waitFor(what, check) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (Date.now() < deadline) {
        const value = await check();
        if (value) return value;
        await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`timed out: ${what}`);
}

test('Baileys links to wa-sim by QR, restarts after 515, sends and receives', async t => {
    const sim = await startWaSim();
    const authDir = mkdtempSync(join(tmpdir(), 'baileys-sim-'));
    t.after(() => {
        sim.child.kill();
        rmSync(authDir, { recursive: true, force: true });
    });
    const { state, saveCreds } = await useMultiFileAuthState(authDir);

    const events = { closes: [], qrs: 0, opened: 0, incoming: [] };
    let sock;
    let onOpen;
    const opened = new Promise(resolve => (onOpen = resolve));
    const connect = () => {
        sock = makeWASocket(baileysOptions(sim.ws, state, logger));
        sock.ev.on('creds.update', saveCreds);
        sock.ev.on('messages.upsert', ({ messages }) => {
            for (const message of messages) {
                events.incoming.push(message);
            }
        });
        sock.ev.on('connection.update', async update => {
            if (update.qr) {
                events.qrs += 1;
                try {
                    await control(sim, 'POST', '/scan-qr', { qr: update.qr });
                } catch (err) {
                    logger.error({ err }, 'scan failed');
                }
            }
            if (update.connection === 'open') {
                events.opened += 1;
                onOpen();
            }
            if (update.connection === 'close') {
                const code = update.lastDisconnect?.error?.output?.statusCode;
                events.closes.push(code);
                if (code === DisconnectReason.restartRequired) {
                    connect();
                }
            }
        });
    };
    connect();

    await withTimeout(opened, 'connection open after pairing and 515');
    assert.equal(events.qrs >= 1, true, 'a QR was shown and scanned');
    assert.deepEqual(events.closes, [DisconnectReason.restartRequired], 'one 515 restart');
    assert.match(state.creds.me.id, new RegExp(`^${ME}:\\d+@s\\.whatsapp\\.net$`));
    assert.match(state.creds.me.lid ?? '', /@lid$/);

    const accounts = await control(sim, 'GET', '/accounts');
    const me = accounts.find(a => a.phone === ME);
    const companion = me.devices.find(d => d.kind === 'companion');
    assert.ok(companion, 'the simulator lists the linked companion');
    await waitFor('pre-keys uploaded', async () => {
        const account = await control(sim, 'GET', `/accounts/${ME}`);
        return account.devices.find(d => d.kind === 'companion' && d.pre_keys >= 100);
    });

    // Baileys → simulated contact.
    const text = 'hello from Baileys';
    await withTimeout(sock.sendMessage(`${ALICE}@s.whatsapp.net`, { text }), 'sendMessage');
    const received = await waitFor('Alice decrypts the text', async () => {
        const list = await control(sim, 'GET', `/accounts/${ALICE}/received`);
        return list.find(m => m.text === text);
    });
    assert.equal(received.chat, `${ME}@s.whatsapp.net`);
    // Our own phone got the "sent from another device" copy.
    const mine = await control(sim, 'GET', `/accounts/${ME}/received`);
    assert.ok(mine.some(m => m.text === text && m.from_own_device && m.chat === `${ALICE}@s.whatsapp.net`));

    // Simulated contact → Baileys.
    const reply = 'hola from Alice';
    await control(sim, 'POST', '/messages', { from: ALICE, to: ME, text: reply });
    const incoming = await waitFor('Baileys decrypts the reply', async () =>
        events.incoming.find(m => (m.message?.conversation ?? m.message?.extendedTextMessage?.text) === reply),
    );
    assert.equal(incoming.key.fromMe, false);
    // And Baileys acknowledged it with a delivery receipt.
    await waitFor('delivery receipt', async () => {
        const receipts = await control(sim, 'GET', `/accounts/${ALICE}/receipts`);
        return receipts.length > 0;
    });

    // A LID-addressed message (from=<lid>, sender_pn=<pn>) from another contact.
    await control(sim, 'POST', `/accounts/${BOB}/behaviour`, { lid_addressing: true });
    const viaLid = 'hello by LID from Bob';
    await control(sim, 'POST', '/messages', { from: BOB, to: ME, text: viaLid });
    const lidMessage = await waitFor('Baileys decrypts a LID-addressed message', async () =>
        events.incoming.find(m => m.message?.conversation === viaLid),
    );
    assert.match(lidMessage.key.remoteJid, /@lid$/);

    sock.end(undefined);
});
