// Runs the demo page end to end in Debian's Chromium (playwright-core) against wa-sim:
// link via the simulated phone, reload and come back `open` without a QR, two tabs with
// one socket, messaging (text and PDF both ways, delivery ticks), logout, clear session.
//
// Started by `cargo xtask test` (xtask/src/demo.rs), which serves the demo and starts a
// fresh wa-sim, with:
//   DEMO_URL        the demo page, e.g. http://127.0.0.1:41234/
//   WA_SIM_CONTROL  the simulator's control API, e.g. http://127.0.0.1:41000/control
//   CHROMIUM        the browser binary (default /usr/bin/chromium)
//   ARTIFACTS       where screenshots and the console log go (default artifacts/playwright)
//   RELAY_WS        deploy/nginx/wa-relay.conf run by nginx in front of wa-sim (optional)
// Prints TAP-like lines and `# pass N` / `# fail N` / `# skip N`; exits 1 if a step fails.

import { mkdirSync, writeFileSync, appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const DEMO_URL = required('DEMO_URL');
const CONTROL = required('WA_SIM_CONTROL').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACTS || 'artifacts/playwright';
const ME = '15550001000';
const ALICE = '15550001001';
const BOB = '15550001002';
const RELAY_WS = process.env.RELAY_WS;
const SESSION = 'demo';
const LINK_TIMEOUT = 30_000;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (run this through \`cargo xtask test\`)`);
    process.exit(2);
  }
  return value;
}

mkdirSync(ARTIFACTS, { recursive: true });
for (const file of readdirSync(ARTIFACTS)) rmSync(join(ARTIFACTS, file), { force: true });
const consoleLog = join(ARTIFACTS, 'console.log');
writeFileSync(consoleLog, '');

async function control(method, path, body) {
  const response = await fetch(CONTROL + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`wa-sim ${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function eventually(what, check, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ],
});
// One context = one browser profile: the tabs share IndexedDB, Web Locks and BroadcastChannel.
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const pages = [];

async function newTab(label, inContext = context) {
  const page = await inContext.newPage();
  page.on("console", (message) => appendFileSync(consoleLog, `${new Date().toISOString().slice(11, 23)} [${label}] ${message.type()}: ${message.text()}\n`));
  page.on('pageerror', (error) => appendFileSync(consoleLog, `[${label}] pageerror: ${error.message}\n`));
  page.on('dialog', (dialog) => {
    appendFileSync(consoleLog, `[${label}] dialog accepted: ${dialog.message()}\n`);
    dialog.accept();
  });
  pages.push(page);
  return page;
}

async function load(page) {
  await page.goto(DEMO_URL);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30_000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== 'yes') throw new Error(`the page did not start: ${await page.textContent('#boot')}`);
}

const card = (page, session = SESSION) => page.locator(`article.session[data-session="${session}"]`);
const attr = (page, name, session = SESSION) => card(page, session).getAttribute(`data-${name}`);

async function waitState(page, states, timeout = LINK_TIMEOUT, session = SESSION) {
  const wanted = Array.isArray(states) ? states : [states];
  await eventually(`session ${session} in state ${wanted.join('|')}`, async () =>
    wanted.includes(await attr(page, 'state', session)), timeout).catch(async (error) => {
    const log = await card(page, session).locator('[data-role="log"]').textContent().catch(() => '');
    throw new Error(`${error.message}; now ${await attr(page, 'state', session)}\n--- card log ---\n${log.split('\n').slice(-15).join('\n')}`);
  });
}

async function click(page, action, session = SESSION) {
  await card(page, session).locator(`[data-action="${action}"]`).click();
}

/** A screenshot in the middle of a step (the step itself takes one at its end). */
async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${String(stepNumber).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function linkWithSimulatedPhone(page, { session = SESSION, phone = ME } = {}) {
  await click(page, 'connect', session);
  await waitState(page, 'qr', LINK_TIMEOUT, session);
  await eventually('a QR code', async () => (await card(page, session).locator('[data-role="qr"] svg').count()) > 0);
  await shot(page, `qr-shown-${session}`);
  await card(page, session).locator('[data-role="sim-phone"]').selectOption(phone);
  await click(page, 'sim-scan', session);
  await waitState(page, 'open', LINK_TIMEOUT, session);
}

async function linkWithPairingCode(page, { session = SESSION, phone = ME } = {}) {
  await click(page, 'connect', session);
  await waitState(page, 'qr', LINK_TIMEOUT, session);
  await card(page, session).locator('[data-role="sim-phone"]').selectOption(phone);
  await click(page, 'sim-code', session);
  const code = await eventually('a pairing code', () => attr(page, 'pairing-code', session));
  if (!/^[A-Z0-9]{4}-?[A-Z0-9]{4}$/.test(code)) throw new Error(`odd pairing code ${code}`);
  await shot(page, `pairing-code-${session}`);
  await waitState(page, 'open', LINK_TIMEOUT, session);
}

async function ourConnections(phone = ME) {
  const connections = await control('GET', '/connections');
  return connections.filter((c) => String(c.device || '').startsWith(`${phone}:`));
}

async function linkedDevices() {
  const account = await control('GET', `/accounts/${ME}`);
  return account.devices.filter((d) => d.kind !== 'simulated');
}

// ---- the steps ---------------------------------------------------------------------------

const results = [];
let stepNumber = 0;

async function step(name, body, { skip } = {}) {
  stepNumber += 1;
  const label = `${String(stepNumber).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
  if (skip) {
    results.push({ name, status: 'skip' });
    console.log(`ok ${stepNumber} - ${name} # SKIP ${skip}`);
    return;
  }
  const started = Date.now();
  let failure = null;
  try {
    await body();
  } catch (error) {
    failure = error;
  }
  for (const [i, page] of pages.entries()) {
    if (page.isClosed()) continue;
    const suffix = pages.length > 1 ? `-tab${i + 1}` : '';
    await page.screenshot({ path: join(ARTIFACTS, `${label}${suffix}${failure ? '-FAILED' : ''}.png`), fullPage: true })
      .catch(() => {});
  }
  const ms = Date.now() - started;
  if (failure) {
    results.push({ name, status: 'fail' });
    console.log(`not ok ${stepNumber} - ${name} (${ms} ms)`);
    console.log(String(failure.stack || failure).split('\n').map((l) => `  # ${l}`).join('\n'));
  } else {
    results.push({ name, status: 'pass' });
    console.log(`ok ${stepNumber} - ${name} (${ms} ms)`);
  }
  return !failure;
}

const tab1 = await newTab('tab1');
let linked = false;

const loaded = await step('the demo page loads the package and shows a session', async () => {
  await load(tab1);
  await card(tab1).waitFor();
  await tab1.waitForFunction((s) => Boolean(window.waDemo.cards.get(s)?.wa), SESSION, { timeout: 15_000 });
  const missing = await tab1.evaluate((s) => {
    const wa = window.waDemo.cards.get(s).wa;
    return ['sendText', 'sendDocument', 'downloadMedia', 'markRead', 'groups'].filter((m) => typeof wa[m] !== 'function');
  }, SESSION);
  if (missing.length) throw new Error(`the package lacks ${missing.join(', ')}`);
});

linked = loaded && await step('link via the simulated phone (QR scanned through the control API)', async () => {
  await linkWithSimulatedPhone(tab1);
  const me = await attr(tab1, 'me');
  if (!String(me).startsWith(`${ME}:`)) throw new Error(`linked as ${me}, expected a device of ${ME}`);
  const devices = await linkedDevices();
  if (devices.length !== 1) throw new Error(`the phone lists ${devices.length} linked devices`);
});

const notLinked = linked ? undefined : 'not linked';

await step('reload: back to open from the stored session, no QR', async () => {
  await load(tab1);
  await waitState(tab1, 'open');
  const qrs = await attr(tab1, 'qr-count');
  if (qrs !== '0') throw new Error(`${qrs} QR codes were shown after the reload`);
}, { skip: notLinked });

await step('a second tab follows the session over the same socket', async () => {
  const tab2 = await newTab('tab2');
  await load(tab2);
  await waitState(tab2, 'open');
  const qrs = await attr(tab2, 'qr-count');
  if (qrs !== '0') throw new Error(`the second tab showed ${qrs} QR codes`);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const connections = await ourConnections();
  if (connections.length !== 1) {
    throw new Error(`expected one socket for the session, wa-sim has ${connections.length}: ${JSON.stringify(connections)}`);
  }
  await waitState(tab1, 'open', 5_000);
}, { skip: notLinked });

await step('the simulator restarts: the page reconnects by itself', async () => {
  const before = (await ourConnections()).map((c) => c.id);
  await control('POST', '/restart', {});
  await eventually('a new connection after the restart', async () => {
    const now = (await ourConnections()).map((c) => c.id);
    return now.length === 1 && !before.includes(now[0]);
  }, LINK_TIMEOUT);
  for (const page of pages) await waitState(page, 'open');
  const reconnects = await tab1.evaluate((s) => window.waDemo.cards.get(s).wa.status().stats.reconnects, SESSION);
  if (!(reconnects >= 1)) throw new Error(`status().stats.reconnects is ${reconnects}`);
}, { skip: notLinked });

await step('a 503 from the server: reason and retry countdown shown, then open again', async () => {
  const me = await attr(tab1, 'me');
  const countdown = tab1.waitForFunction((session) => {
    const el = document.querySelector(`article.session[data-session="${session}"]`);
    const text = el?.querySelector('[data-role="countdown"]')?.textContent || '';
    const reason = el?.querySelector('[data-role="reason"]')?.textContent || '';
    return /retrying/.test(text) && /503|unavailable/i.test(reason) ? `${reason} ${text}` : false;
  }, SESSION, { polling: 'raf', timeout: 15_000 });
  await control('POST', '/faults', { kind: 'stream_error', code: 503, target: me });
  const shown = await (await countdown).jsonValue();
  await shot(tab1, `countdown ${shown}`.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60));
  await waitState(tab1, 'open');
}, { skip: notLinked });

await step('a second session side by side, linked to another phone', async () => {
  await tab1.locator('[data-testid="new-session-name"]').fill('front-desk');
  await tab1.locator('[data-testid="add-session"]').click();
  await card(tab1, 'front-desk').waitFor();
  await linkWithSimulatedPhone(tab1, { session: 'front-desk', phone: ALICE });
  const me = await attr(tab1, 'me', 'front-desk');
  if (!String(me).startsWith(`${ALICE}:`)) throw new Error(`front-desk linked as ${me}`);
  await waitState(tab1, 'open', 5_000, SESSION);
  if ((await ourConnections(ALICE)).length !== 1) throw new Error('no socket for the second session');
}, { skip: notLinked });


async function sendFromForm(page, { text, file }) {
  const form = card(page).locator('[data-role="send-form"]');
  await form.locator('input[name="to"]').fill(`+${ALICE}`);
  await form.locator('input[name="text"]').fill(text || '');
  if (file) await form.locator('input[name="file"]').setInputFiles(file);
  await form.locator('button[type="submit"]').click();
}

await step('send a text; the contact decrypts it and the ticks reach delivered', async () => {
  const text = `Tu reserva está confirmada ${Date.now()}`;
  await sendFromForm(tab1, { text });
  await eventually('Alice receiving the text', async () =>
    (await control('GET', `/accounts/${ALICE}/received`)).some((m) => JSON.stringify(m).includes(text)));
  const entry = card(tab1).locator('li.out', { hasText: text });
  await eventually('delivery ticks', async () => ['delivered', 'read'].includes(await entry.getAttribute('data-status')));
}, { skip: notLinked });

await step('send a PDF; the contact receives the document', async () => {
  const pdf = Buffer.from('%PDF-1.4\n% wa-wasm demo ticket\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');
  await sendFromForm(tab1, { text: 'ticket', file: { name: 'ticket.pdf', mimeType: 'application/pdf', buffer: pdf } });
  await eventually('Alice receiving ticket.pdf', async () =>
    (await control('GET', `/accounts/${ALICE}/received`)).some((m) => JSON.stringify(m).includes('ticket.pdf')));
  const entry = card(tab1).locator('li.out', { hasText: 'ticket.pdf' });
  await eventually('delivery ticks on the document', async () => ['delivered', 'read'].includes(await entry.getAttribute('data-status')));
}, { skip: notLinked });

await step('receive a text from a contact (both tabs show it)', async () => {
  const text = `Hola desde el simulador ${Date.now()}`;
  await control('POST', '/messages', { from: ALICE, to: ME, text });
  for (const page of pages) {
    await card(page).locator('li.in', { hasText: text }).waitFor({ timeout: 15_000 });
  }
}, { skip: notLinked });

await step('receive a document and download it', async () => {
  const body = '%PDF-1.4\n% reservation from the simulator\n%%EOF\n';
  await control('POST', '/messages', {
    from: ALICE,
    to: ME,
    document: { file_name: 'reservation.pdf', mimetype: 'application/pdf', data_base64: Buffer.from(body).toString('base64'), caption: 'your booking' },
  });
  const link = card(tab1).locator('li.in a[data-role="document"]', { hasText: 'reservation.pdf' });
  await link.waitFor({ timeout: 15_000 });
  const [download] = await Promise.all([tab1.waitForEvent('download', { timeout: 15_000 }), link.click()]);
  const path = join(ARTIFACTS, 'downloaded-reservation.pdf');
  await download.saveAs(path);
  const { readFileSync } = await import('node:fs');
  const got = readFileSync(path, 'utf8');
  if (got !== body) throw new Error(`the downloaded document differs: ${JSON.stringify(got.slice(0, 80))}`);
}, { skip: notLinked });

await step('log out: unlinked on the phone, both tabs leave open', async () => {
  await click(tab1, 'logout');
  await waitState(tab1, ['logged_out', 'closed', 'qr', 'connecting'], 15_000);
  await eventually('the phone to drop the linked device', async () => (await linkedDevices()).length === 0);
  if (pages[1]) await waitState(pages[1], ['logged_out', 'closed', 'qr', 'connecting'], 15_000);
  const stored = await tab1.evaluate((s) => window.waDemo.cards.get(s).wa.status().sessionStored, SESSION);
  if (stored) throw new Error('the session is still stored after logout');
}, { skip: notLinked });

await step('link again with a pairing code the simulated phone enters', async () => {
  if (pages[1]) await pages[1].close();
  pages.splice(1);
  await load(tab1);
  await linkWithPairingCode(tab1);
  const me = await attr(tab1, 'me');
  if (!String(me).startsWith(`${ME}:`)) throw new Error(`linked as ${me}`);
}, { skip: notLinked });

await step('clear a (corrupted) session: confirmation, then a reload shows no session', async () => {
  if ((await attr(tab1, 'state')) !== 'open') await linkWithSimulatedPhone(tab1);
  await click(tab1, 'clear');
  await eventually('the session to be wiped', async () =>
    !(await tab1.evaluate((s) => window.waDemo.cards.get(s).wa.status().sessionStored, SESSION)));
  await load(tab1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const state = await attr(tab1, 'state');
  if (state === 'open') throw new Error('the cleared session came back open');
  const me = await card(tab1).locator('[data-role="me"]').textContent();
  if (me.trim() !== '—') throw new Error(`a linked number is still shown: ${me}`);
}, { skip: notLinked });

await step('remove the second session: its card stays gone after a reload', async () => {
  await card(tab1, 'front-desk').waitFor({ timeout: 10_000 });
  await click(tab1, 'remove', 'front-desk');
  await card(tab1, 'front-desk').waitFor({ state: 'detached', timeout: 10_000 });
  await eventually('the stored session list without it', async () =>
    !(await tab1.evaluate(async () => (await window.waDemo.WaClient.sessions()).map((x) => x.name))).includes('front-desk'));
  await load(tab1);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if ((await card(tab1, 'front-desk').count()) !== 0) throw new Error('the removed session came back');
}, { skip: notLinked });

await step('another browser profile links through the nginx relay (Origin rewritten by nginx)', async () => {
  const profile = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  pages.splice(0, pages.length);
  const page = await newTab('relay', profile);
  const config = await (await fetch(new URL('config.json', DEMO_URL))).json();
  await page.goto(`${DEMO_URL}?url=${encodeURIComponent(RELAY_WS)}&root=${config.root}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });
  const url = await page.evaluate(() => window.waDemo.server.url);
  if (url !== RELAY_WS) throw new Error(`the page uses ${url}, not the relay`);
  await linkWithSimulatedPhone(page, { phone: BOB });
  const me = await attr(page, 'me');
  if (!String(me).startsWith(`${BOB}:`)) throw new Error(`linked as ${me}`);
  if ((await ourConnections(BOB)).length !== 1) throw new Error('wa-sim has no socket for the relayed session');
}, { skip: notLinked || (RELAY_WS ? undefined : 'RELAY_WS is not set') });

await browser.close();

const count = (status) => results.filter((r) => r.status === status).length;
console.log(`# pass ${count('pass')}`);
console.log(`# fail ${count('fail')}`);
console.log(`# skip ${count('skip')}`);
console.log(`# screenshots and console log in ${ARTIFACTS}`);
process.exit(count('fail') > 0 ? 1 : 0);
