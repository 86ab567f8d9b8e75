// Link and reconnect timings of the Baileys client against the `wa-sim` binary on
// loopback: the reference side of `cargo xtask bench`'s link/reconnect rows.
//
//   node bench/link_baileys.mjs <wa-sim binary> <out.json> [rounds]
//
// scan → open: from the moment Baileys shows a QR (the simulated phone scans it at
// once) to `connection: open` after the 515 restart and login.
// reconnect → open: from creating a socket with the stored credentials to `open`.
// Each figure is the median of `rounds` (default 5) runs, each with a fresh socket;
// every link uses a fresh auth state, so the phone links a new companion each round.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';

import makeWASocket, { DisconnectReason, useMultiFileAuthState } from 'baileys';
import pino from 'pino';

import { baileysOptions, controlApi, startSim } from '../tests/interop/sim.mjs';

const require = createRequire(import.meta.url);
const [simBin, outPath, roundsArg] = process.argv.slice(2);
if (!simBin || !outPath) {
    console.error('usage: node bench/link_baileys.mjs <wa-sim binary> <out.json> [rounds]');
    process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 5);
const STEP_TIMEOUT_MS = 30_000;
const logger = pino({ level: 'silent' });

async function scan(sim, qr) {
    await controlApi(sim.control)('POST', '/scan-qr', { qr });
}

/** Opens a Baileys socket on `state`; resolves with it once `open`, scanning any QR. */
function openSocket(sim, state, saveCreds, marks) {
    return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for open')), STEP_TIMEOUT_MS);
        const connect = () => {
            const sock = makeWASocket(baileysOptions(sim.ws, state, logger));
            sock.ev.on('creds.update', saveCreds);
            sock.ev.on('connection.update', update => {
                if (update.qr && marks.qrAt === undefined) {
                    marks.qrAt = performance.now();
                    scan(sim, update.qr).catch(reject);
                }
                if (update.connection === 'open') {
                    marks.openAt = performance.now();
                    clearTimeout(timer);
                    resolvePromise(sock);
                }
                if (update.connection === 'close') {
                    const code = update.lastDisconnect?.error?.output?.statusCode;
                    if (code === DisconnectReason.restartRequired) connect();
                    else if (marks.openAt === undefined) reject(new Error(`closed with ${code}`));
                }
            });
        };
        connect();
    });
}

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sim = await startSim(simBin, ['--port', '0', '--seed', '1', '--log', 'error'], {
    timeoutMs: STEP_TIMEOUT_MS,
});
const link = [];
const reconnect = [];
try {
    for (let round = 0; round < ROUNDS; round++) {
        const dir = mkdtempSync(join(tmpdir(), 'baileys-link-'));
        try {
            const { state, saveCreds } = await useMultiFileAuthState(dir);
            const linking = {};
            const first = await openSocket(sim, state, saveCreds, linking);
            link.push(linking.openAt - linking.qrAt);
            first.end(undefined);
            await new Promise(r => setTimeout(r, 200));

            const stored = await useMultiFileAuthState(dir);
            const again = { start: performance.now() };
            const second = await openSocket(sim, stored.state, stored.saveCreds, again);
            if (again.qrAt !== undefined) throw new Error('stored credentials showed a QR');
            reconnect.push(again.openAt - again.start);
            second.end(undefined);
            await new Promise(r => setTimeout(r, 200));
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }
} finally {
    sim.child.kill();
}

const result = {
    client: `baileys ${require('baileys/package.json').version}`,
    node: process.version,
    rounds: ROUNDS,
    scan_to_open_ms: median(link),
    reconnect_to_open_ms: median(reconnect),
    samples: { scan_to_open_ms: link, reconnect_to_open_ms: reconnect },
};
mkdirSync(dirname(resolve(outPath)), { recursive: true });
writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n');
console.log(`baileys scan → open ${result.scan_to_open_ms.toFixed(1)} ms, reconnect → open ${result.reconnect_to_open_ms.toFixed(1)} ms (median of ${ROUNDS})`);
// Baileys leaves timers (pre-key upload) running after end().
process.exit(0);
