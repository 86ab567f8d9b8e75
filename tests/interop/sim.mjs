// Shared by the Node scripts that run the real Baileys client against wa-sim: starting
// the `wa-sim` binary, calling its control API, and the Baileys socket options every
// script uses (the simulator's WebSocket, no history sync, no online presence).

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { Browsers } from 'baileys';

/** Starts `wa-sim` with `args` and resolves with its banner fields once it listens. */
export function startSim(bin, args, { timeoutMs = 60_000, stderr = 'inherit' } = {}) {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', stderr] });
    // Never leave a simulator behind, even when the script dies.
    process.on('exit', () => child.kill());
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('wa-sim did not start')), timeoutMs);
        child.on('exit', code => reject(new Error(`wa-sim exited early (${code})`)));
        createInterface({ input: child.stdout }).on('line', line => {
            const match = /^wa-sim listening ws=(\S+) root=([0-9a-f]{64}) control=(\S+)$/.exec(line);
            if (match) {
                clearTimeout(timer);
                resolve({ child, ws: match[1], root: match[2], control: match[3] });
            }
        });
    });
}

/** A function calling the control API at `controlUrl`: JSON in, JSON out, throws on an HTTP error. */
export function controlApi(controlUrl) {
    return async (method, path, body) => {
        const response = await fetch(`${controlUrl}${path}`, {
            method,
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
        return text ? JSON.parse(text) : null;
    };
}

/** Options for `makeWASocket` against the simulator at `ws`. */
export function baileysOptions(ws, state, logger) {
    return {
        waWebSocketUrl: ws,
        auth: state,
        logger,
        browser: Browsers.ubuntu('Chrome'),
        markOnlineOnConnect: false,
        syncFullHistory: false,
        shouldSyncHistoryMessage: () => false,
    };
}
