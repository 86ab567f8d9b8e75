// The demo page: one card per session, each driving one `WaClient`.
// Plain ES module, no build step: `./pkg/` is the `wasm-pack --target web` package.

import init, * as wasm from './pkg/wa_wasm.js';
import { SimControl, samplePdfBase64 } from './sim.js';

const SESSIONS_KEY = 'wa-demo-sessions';
const SERVER_KEY = 'wa-demo-server';
const DEFAULT_SESSION = 'demo';
const LOG_LINES = 200;

const $ = (selector, root = document) => root.querySelector(selector);

/** What the page connects to: saved settings, else `?url=&root=`, else config.json. */
const server = { url: '', root: '', control: '' };
/** @type {SimControl | null} */
let sim = null;
/** @type {Map<string, SessionCard>} */
const cards = new Map();
let WaClient = null;

function savedSessions() {
  try {
    const names = JSON.parse(localStorage.getItem(SESSIONS_KEY) || '[]');
    return Array.isArray(names) ? names.filter((n) => typeof n === 'string') : [];
  } catch {
    return [];
  }
}

function saveSessions() {
  localStorage.setItem(SESSIONS_KEY, JSON.stringify([...cards.keys()]));
}

function errorText(error) {
  if (error && typeof error === 'object') {
    const code = error.code ? `[${error.code}] ` : '';
    return code + (error.message || String(error));
  }
  return String(error);
}

/** `15550001000:3@s.whatsapp.net` → `+15550001000 (device 3)`. */
function displayJid(jid) {
  if (!jid) return '—';
  const text = typeof jid === 'string' ? jid : jid.toString();
  const match = /^(\d+)(?::(\d+))?@/.exec(text);
  if (!match) return text;
  return `+${match[1]}${match[2] ? ` (device ${match[2]})` : ''}`;
}

function phoneOfJid(jid) {
  const match = /^(\d+)/.exec(String(jid || ''));
  return match ? match[1] : '';
}

const TICKS = {
  pending: ['🕓', 'waiting to be sent'],
  sent: ['✓', 'sent to the server'],
  delivered: ['✓✓', 'delivered'],
  read: ['✓✓', 'read'],
  played: ['✓✓', 'played'],
  failed: ['⚠', 'failed'],
};
const STATUS_RANK = { pending: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 5 };

/** Maps receipt/status names from events to the tick names above. */
function normaliseStatus(value) {
  const text = String(value || '').toLowerCase().replace(/_/g, '-');
  if (text.startsWith('deliver') || text === 'receipt') return 'delivered';
  if (text.startsWith('read')) return 'read';
  if (text.startsWith('play')) return 'played';
  if (text.startsWith('server') || text === 'sent' || text === 'ack') return 'sent';
  if (text.startsWith('fail') || text === 'error') return 'failed';
  return text || 'sent';
}

class SessionCard {
  constructor(name) {
    this.name = name;
    this.wa = null;
    this.unsubscribe = [];
    this.qr = null;
    this.qrCount = 0;
    this.pairingCode = null;
    this.countdownTimer = null;
    this.outgoing = new Map();
    /** message-status events that came before their send resolved, by id. */
    this.earlyStatus = new Map();
    this.el = $('#session-card').content.firstElementChild.cloneNode(true);
    this.el.dataset.session = name;
    this.el.dataset.qrCount = '0';
    $('.name', this.el).textContent = name;
    this.#wire();
    $('#sessions').append(this.el);
  }

  role(name) {
    return $(`[data-role="${name}"]`, this.el);
  }

  log(kind, data) {
    const pre = this.role('log');
    const line = `${new Date().toISOString().slice(11, 23)} ${kind} ${data === undefined ? '' : JSON.stringify(data, replacer)}`;
    const lines = (pre.textContent ? pre.textContent.split('\n') : []).concat(line);
    pre.textContent = lines.slice(-LOG_LINES).join('\n');
  }

  #wire() {
    const on = (action, handler) =>
      $(`[data-action="${action}"]`, this.el).addEventListener('click', (event) => {
        event.preventDefault();
        this.#guard(action, handler);
      });
    on('connect', () => this.wa.connect());
    on('logout', async () => {
      await this.wa.logout();
      this.#resetLink();
    });
    on('clear', async () => {
      const ok = window.confirm(
        `Clear the stored session "${this.name}"?\n\nThis deletes its keys in this browser ` +
          'without telling the server. The phone keeps showing the linked device until you ' +
          'remove it there. Use it only when the stored session is corrupted.',
      );
      if (!ok) return;
      await this.wa.clearSession();
      this.#resetLink();
      this.role('me').textContent = '—';
    });
    on('remove', async () => {
      const linked = this.wa && this.wa.status().sessionStored;
      const ok = window.confirm(
        `Remove the session "${this.name}" from this browser?` +
          (linked ? '\n\nIt is still linked: use "Log out" first to unlink it from the phone too.' : ''),
      );
      if (!ok) return;
      await this.close();
      if (typeof WaClient.removeSession === 'function') await WaClient.removeSession(this.name);
    });
    on('sim-scan', async () => {
      if (!this.qr) throw new Error('no QR code yet: press Connect first');
      const phone = this.role('sim-phone').value || undefined;
      const result = await sim.scanQr(this.qr, phone);
      this.log('sim scan-qr', result);
    });
    on('sim-code', async () => {
      const phone = this.role('sim-phone').value;
      if (!phone) throw new Error('choose a simulated phone');
      if (!this.pairingCode || this.pairingCodePhone !== phone) {
        await this.#requestPairingCode(`+${phone}`);
        await this.#waitFor(() => this.pairingCode && this.pairingCodePhone === phone, 10000);
      }
      await sim.enterPairingCode(phone, this.pairingCode);
      this.log('sim pairing-code', { phone, code: this.pairingCode });
    });
    this.role('pair-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const phone = new FormData(event.target).get('phone');
      this.#guard('pairing code', () => this.#requestPairingCode(String(phone)));
    });
    this.role('send-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.#guard('send', () => this.#send(event.target));
    });
  }

  async #guard(what, action) {
    // A button pressed while the client is still opening waits for it.
    if (this.opening) await this.opening;
    if (!this.wa && what !== 'remove') {
      this.log('error', `${what}: the client is not open`);
      return;
    }
    try {
      await action();
    } catch (error) {
      this.log('error', `${what}: ${errorText(error)}`);
      this.el.dataset.lastError = errorText(error);
    }
  }

  async #waitFor(predicate, ms) {
    const end = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #requestPairingCode(phone) {
    const digits = phone.replace(/\D/g, '');
    // The code may arrive as a `pairing-code` event before the promise resolves.
    this.pendingCodePhone = digits;
    const result = await this.wa.requestPairingCode(phone);
    const code = typeof result === 'string' ? result : result && result.code;
    if (code) this.#showPairingCode(code, digits);
  }

  #showPairingCode(code, phone) {
    this.pairingCode = code;
    this.pairingCodePhone = phone || this.pendingCodePhone || '';
    this.role('pairing-code').textContent = code;
    this.el.dataset.pairingCode = code;
    this.log('pairing code', code);
  }

  #resetLink() {
    this.qr = null;
    this.pairingCode = null;
    this.role('qr').innerHTML = '';
    this.role('pairing-code').textContent = '';
    delete this.el.dataset.pairingCode;
  }

  async open() {
    const options = {
      session: this.name,
      url: server.url || undefined,
      browser: ['wa-wasm demo', 'Chrome', '1.0'],
      logLevel: 'info',
    };
    if (server.root) options.rootKey = server.root;
    try {
      this.wa = await WaClient.open(options);
    } catch (error) {
      this.#state({ state: 'error', reason: errorText(error) });
      this.log('open failed', errorText(error));
      return;
    }
    const subscribe = (name, handler) => {
      try {
        const off = this.wa.on(name, (event) => {
          this.log(name, event);
          handler(event);
        });
        if (typeof off === 'function') this.unsubscribe.push(off);
      } catch (error) {
        this.log('cannot subscribe', `${name}: ${errorText(error)}`);
      }
    };
    subscribe('qr', (event) => this.#onQr(event));
    subscribe('connection', (event) => this.#state(event));
    subscribe('message', (event) => this.#onMessage(event));
    subscribe('receipt', (event) => this.#onReceipt(event));
    subscribe('message-status', (event) => this.#onStatus(event));
    subscribe('pairing-code', (event) =>
      this.#showPairingCode(typeof event === 'string' ? event : event.code, event.phone),
    );
    subscribe('error', (event) => {
      this.el.dataset.lastError = errorText(event);
    });
    subscribe('tab', () => this.#renderStatus());
    subscribe('paired', () => this.#renderStatus());
    subscribe('duplicate-link', () => this.#renderStatus());
    this.#updateSendForm();
    // Followers learn the owner's state through the client; keep the card in step.
    this.statusTimer = setInterval(() => this.#renderStatus(), 1000);
    const status = this.#renderStatus();
    // A stored session reconnects by itself after a reload; a new one waits for Connect.
    if (status && (status.sessionStored || status.me)) {
      this.#guard('connect', () => this.wa.connect());
    }
  }

  #renderStatus() {
    let status = null;
    try {
      status = this.wa.status();
    } catch (error) {
      this.log('status failed', errorText(error));
      return null;
    }
    if (!status) return null;
    if (status.state && this.el.dataset.state !== status.state) {
      const last = status.lastDisconnect || {};
      const retryAt = status.reconnecting && status.reconnecting.at;
      this.#state({
        state: status.state,
        reason: last.reason,
        code: last.code,
        willReconnect: Boolean(retryAt),
        retryInMs: retryAt ? Math.max(0, retryAt - Date.now()) : null,
      }, false);
    }
    this.role('me').textContent = displayJid(status.me);
    this.el.dataset.me = status.me ? String(status.me) : '';
    const role = status.role || (status.owner === false ? 'follower' : status.owner ? 'owner' : '');
    this.role('role').textContent = role ? `(this tab: ${role})` : '';
    this.el.dataset.role = role;
    const warning = status.duplicateOf || status.duplicates || status.duplicateLink;
    const box = this.role('warning');
    box.hidden = !warning || (Array.isArray(warning) && warning.length === 0);
    if (!box.hidden) {
      box.textContent = `The same phone number is linked in another stored session: ${JSON.stringify(warning)}`;
    }
    return status;
  }

  #state(event, refresh = true) {
    const state = event.state || 'closed';
    this.el.dataset.state = state;
    this.role('state').textContent = state;
    const reason = [event.reason, event.code].filter((v) => v !== undefined && v !== null && v !== '');
    this.role('reason').textContent = reason.length ? `(${reason.join(', ')})` : '';
    this.#countdown(event.willReconnect ? event.retryInMs : null);
    const linking = state === 'qr' || state === 'pairing';
    this.role('link').hidden = !linking;
    if (state === 'open') this.#resetLink();
    if (refresh && this.wa) this.#renderStatus();
  }

  #countdown(retryInMs) {
    clearInterval(this.countdownTimer);
    const el = this.role('countdown');
    if (typeof retryInMs !== 'number') {
      el.textContent = '';
      return;
    }
    const until = Date.now() + retryInMs;
    const tick = () => {
      const left = until - Date.now();
      el.textContent = left > 0 ? `retrying in ${(left / 1000).toFixed(1)} s` : 'retrying…';
      if (left <= 0) clearInterval(this.countdownTimer);
    };
    tick();
    this.countdownTimer = setInterval(tick, 200);
  }

  #onQr(event) {
    this.qr = event.qr || event.code || null;
    this.qrCount += 1;
    this.el.dataset.qrCount = String(this.qrCount);
    this.el.dataset.qr = this.qr || '';
    this.role('qr').innerHTML = event.svg || '';
    this.role('link').hidden = false;
  }

  #updateSendForm() {
    const canText = typeof this.wa.sendText === 'function';
    const canDocument = typeof this.wa.sendDocument === 'function';
    const form = this.role('send-form');
    $('button', form).disabled = !canText && !canDocument;
    form.elements.file.disabled = !canDocument;
    this.role('send-note').textContent =
      canText || canDocument ? '' : 'This build of the package cannot send messages yet (no sendText).';
  }

  async #send(form) {
    const data = new FormData(form);
    const to = String(data.get('to') || '').trim();
    const text = String(data.get('text') || '');
    const file = form.elements.file.files[0];
    let result;
    let entry;
    if (file) {
      entry = this.#addEntry({ fromMe: true, to, text, document: { fileName: file.name } });
      // A File is a Blob: the package reads it (and takes its MIME type).
      result = await this.wa.sendDocument(to, file, { fileName: file.name, caption: text || undefined });
    } else {
      if (!text) throw new Error('write a text or choose a document');
      entry = this.#addEntry({ fromMe: true, to, text });
      result = await this.wa.sendText(to, text);
    }
    const { id } = result;
    entry.dataset.id = id;
    this.outgoing.set(id, entry);
    // A status may have come before the promise resolved.
    const early = this.earlyStatus.get(id);
    this.earlyStatus.delete(id);
    if (early) this.#tick(entry, early);
    form.elements.text.value = '';
    form.elements.file.value = '';
  }

  #addEntry({ fromMe, from, to, text, document: doc, timestamp, pushName, message, ticks = fromMe }) {
    const li = document.createElement('li');
    li.className = fromMe ? 'out' : 'in';
    const who = fromMe
      ? `to ${/@/.test(String(to)) ? displayJid(to) : to}`
      : `from ${pushName ? `${pushName} ` : ''}${displayJid(from)}`;
    const when = timestamp ? new Date(timestamp > 1e12 ? timestamp : timestamp * 1000) : new Date();
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = `${when.toLocaleTimeString()} ${who}`;
    li.append(meta);
    if (text) {
      const body = document.createElement('span');
      body.className = 'text';
      body.dataset.role = 'text';
      body.textContent = text;
      li.append(body);
    }
    if (doc) li.append(this.#documentLink(doc, message));
    if (ticks) {
      const mark = document.createElement('span');
      mark.className = 'ticks';
      mark.dataset.role = 'ticks';
      li.append(mark);
      this.#tick(li, 'pending');
    }
    this.role('inbox').prepend(li);
    return li;
  }

  #documentLink(doc, message) {
    const name = doc.fileName || doc.file_name || 'document';
    const mime = doc.mimeType || doc.mimetype || 'application/octet-stream';
    const bytes = doc.data || doc.bytes;
    const link = document.createElement('a');
    link.className = 'document';
    link.dataset.role = 'document';
    link.textContent = `📄 ${name}`;
    if (bytes) {
      link.href = URL.createObjectURL(new Blob([bytes], { type: mime }));
      link.download = name;
      link.dataset.size = String(bytes.length || bytes.byteLength || 0);
    } else if (typeof doc.download === 'function' || downloader(this.wa)) {
      link.href = '#';
      link.addEventListener('click', async (event) => {
        if (link.download) return;
        event.preventDefault();
        try {
          const data = typeof doc.download === 'function'
            ? await doc.download()
            : await downloader(this.wa).call(this.wa, message || doc);
          link.href = URL.createObjectURL(new Blob([data], { type: mime }));
          link.download = name;
          link.dataset.size = String(data.length || data.byteLength || 0);
          link.click();
        } catch (error) {
          this.log('download failed', errorText(error));
        }
      });
    }
    return link;
  }

  #tick(entry, status) {
    const name = normaliseStatus(status);
    const current = entry.dataset.status;
    if (current && (STATUS_RANK[current] ?? 0) >= (STATUS_RANK[name] ?? 0)) return;
    entry.dataset.status = name;
    const [mark, title] = TICKS[name] || [name, name];
    const ticks = $('[data-role="ticks"]', entry);
    ticks.textContent = mark;
    ticks.title = title;
    ticks.className = `ticks ${name}`;
  }

  #onMessage(msg) {
    if (!msg) return;
    const { text, document: doc } = messageParts(msg);
    const entry = this.#addEntry({
      fromMe: Boolean(msg.fromMe),
      from: msg.sender || msg.from || msg.chat,
      to: msg.chat || msg.to,
      text,
      document: doc,
      timestamp: msg.timestamp,
      pushName: msg.pushName,
      message: msg,
      // Sent from our phone or another linked device: its ticks live there.
      ticks: false,
    });
    if (msg.id) entry.dataset.id = msg.id;
  }

  #onReceipt(receipt) {
    for (const id of receipt.ids) {
      const entry = this.outgoing.get(id);
      if (entry && (receipt.type === 'delivered' || receipt.type === 'read')) this.#tick(entry, receipt.type);
    }
  }

  #onStatus(event) {
    const entry = this.outgoing.get(event.id);
    if (entry) this.#tick(entry, event.status);
    else this.earlyStatus.set(event.id, event.status);
  }

  async close() {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    clearInterval(this.countdownTimer);
    clearInterval(this.statusTimer);
    try {
      if (this.wa && typeof this.wa.close === 'function') await this.wa.close();
      else if (this.wa && typeof this.wa.free === 'function') this.wa.free();
    } catch (error) {
      console.warn('closing', this.name, error);
    }
    this.wa = null;
    this.el.remove();
    cards.delete(this.name);
    saveSessions();
  }
}

/** Text and document of a `message` event, whatever shape its content has. */
function messageParts(msg) {
  switch (msg.type) {
    case 'document':
      return { text: msg.document.caption ?? undefined, document: msg.document };
    case 'image': {
      const extension = (msg.image.mimetype.split('/')[1] || 'jpg').replace('jpeg', 'jpg');
      return { text: msg.image.caption ?? undefined, document: { ...msg.image, fileName: `image.${extension}` } };
    }
    case 'unsupported':
      return { text: `(${msg.kind} message)` };
    default:
      return { text: msg.text };
  }
}

/** The client's download command, if the package has one. */
function downloader(wa) {
  return wa && typeof wa.downloadMedia === 'function' ? wa.downloadMedia : null;
}

function replacer(key, value) {
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (key === 'svg' && typeof value === 'string') return `<svg ${value.length} chars>`;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function addCard(name) {
  if (cards.has(name)) return cards.get(name);
  const card = new SessionCard(name);
  cards.set(name, card);
  saveSessions();
  fillSimPhones(card);
  card.opening = card.open().finally(() => {
    card.opening = null;
  });
  return card;
}

let simAccounts = [];

async function refreshSim() {
  if (!sim) return;
  try {
    simAccounts = await sim.accounts();
  } catch (error) {
    $('#sim-log').textContent = `cannot reach the simulator: ${errorText(error)}`;
    return;
  }
  const options = (select, withEmpty) => {
    const current = select.value;
    select.replaceChildren();
    if (withEmpty) select.append(new Option(withEmpty, ''));
    for (const account of simAccounts) {
      select.append(new Option(`${account.name} +${account.phone}`, account.phone));
    }
    if (current) select.value = current;
  };
  const form = $('#sim-message');
  options(form.elements.from);
  options(form.elements.to);
  if (!form.elements.from.dataset.touched && simAccounts[1]) form.elements.from.value = simAccounts[1].phone;
  const target = $('#sim-fault').elements.target;
  const current = target.value;
  target.replaceChildren(new Option('every connection', ''));
  for (const account of simAccounts) {
    for (const device of account.devices || []) {
      if (device.kind !== 'simulated') target.append(new Option(`${device.jid}${device.connected ? ' (online)' : ''}`, device.jid));
    }
  }
  target.value = current;
  for (const card of cards.values()) fillSimPhones(card);
}

function fillSimPhones(card) {
  if (!sim) return;
  card.role('sim-link').hidden = false;
  const select = card.role('sim-phone');
  const current = select.value;
  select.replaceChildren();
  for (const account of simAccounts) select.append(new Option(`${account.name} +${account.phone}`, account.phone));
  if (current) select.value = current;
}

function simLog(text) {
  const pre = $('#sim-log');
  pre.textContent = `${new Date().toISOString().slice(11, 19)} ${text}\n${pre.textContent}`.slice(0, 8000);
}

function wireSimulator() {
  $('#simulator').hidden = false;
  const message = $('#sim-message');
  message.elements.from.addEventListener('change', () => { message.elements.from.dataset.touched = '1'; });
  for (const select of document.querySelectorAll('#simulator select')) select.addEventListener('focus', refreshSim);
  message.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(message);
    const request = { from: data.get('from'), to: data.get('to') };
    const text = String(data.get('text') || '');
    if (data.get('pdf')) {
      request.document = {
        file_name: 'reservation.pdf',
        mimetype: 'application/pdf',
        data_base64: samplePdfBase64(),
        caption: text || undefined,
      };
    } else {
      request.text = text;
    }
    try {
      simLog(`message sent: ${JSON.stringify(await sim.sendMessage(request))}`);
    } catch (error) {
      simLog(errorText(error));
    }
  });
  const fault = $('#sim-fault');
  fault.addEventListener('submit', async (event) => {
    event.preventDefault();
    const option = fault.elements.kind.selectedOptions[0];
    const request = { kind: option.value };
    for (const [key, value] of Object.entries(option.dataset)) {
      request[key] = key === 'step' ? value : Number(value);
    }
    if (fault.elements.target.value) request.target = fault.elements.target.value;
    try {
      await sim.fault(request);
      simLog(`fault injected: ${JSON.stringify(request)}`);
    } catch (error) {
      simLog(errorText(error));
    }
  });
  $('#sim-restart').addEventListener('click', async () => {
    try {
      await sim.restart();
      simLog('server restarted');
    } catch (error) {
      simLog(errorText(error));
    }
  });
}

async function loadServerSettings() {
  let config = {};
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (response.ok) config = await response.json();
  } catch {
    // No config.json: a static copy of the page pointed at the real service.
  }
  const params = new URLSearchParams(location.search);
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SERVER_KEY) || '{}');
  } catch {
    saved = {};
  }
  // A saved simulator address goes stale when the simulator restarts on another port.
  const simUrls = [config.ws, config.relay].filter(Boolean);
  const savedIsStaleSim = saved.sim && !simUrls.includes(saved.url);
  const source = params.has('url') ? { url: params.get('url'), root: params.get('root') || '' }
    : saved.url !== undefined && !savedIsStaleSim ? saved
      : { url: config.ws || '', root: config.root || '' };
  server.url = source.url || '';
  server.root = source.root || '';
  server.control = config.control || '';
  const form = $('#server-form');
  form.elements.url.value = server.url;
  form.elements.root.value = server.root;
  const save = (settings) => {
    localStorage.setItem(SERVER_KEY, JSON.stringify(settings));
    form.elements.url.value = settings.url;
    form.elements.root.value = settings.root;
    $('#boot').textContent = 'Server settings saved; reload the page to reopen the sessions with them.';
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save({ url: form.elements.url.value.trim(), root: form.elements.root.value.trim(), sim: false });
  });
  $('#use-sim').disabled = !config.ws;
  $('#use-sim').addEventListener('click', () => save({ url: config.ws, root: config.root, sim: true }));
  $('#use-relay').hidden = !config.relay;
  $('#use-relay').addEventListener('click', () => save({ url: config.relay, root: config.root, sim: true }));
  $('#use-real').addEventListener('click', () => save({ url: 'wss://web.whatsapp.com/ws/chat', root: '', sim: false }));
  if (server.control && (!server.url || simUrls.includes(server.url))) sim = new SimControl(server.control);
}

async function main() {
  await loadServerSettings();
  await init();
  WaClient = wasm.WaClient;
  if (typeof WaClient !== 'function' || typeof WaClient.open !== 'function') {
    $('#boot').textContent = `This build of the package (version ${wasm.version ? wasm.version() : '?'}) has no WaClient.`;
    document.body.dataset.ready = 'no-client';
    return;
  }
  $('#boot').textContent = `wa-wasm ${wasm.version ? wasm.version() : ''} loaded; connecting to ${server.url || "WhatsApp"}.`;
  if (sim) {
    wireSimulator();
    await refreshSim();
  }
  $('#add-session').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = event.target.elements.session;
    const name = input.value.trim();
    if (name) addCard(name);
    input.value = '';
  });
  const names = new Set(savedSessions());
  if (typeof WaClient.sessions === 'function') {
    try {
      for (const info of await WaClient.sessions()) names.add(typeof info === 'string' ? info : info.name || info.session);
    } catch (error) {
      console.warn('WaClient.sessions()', error);
    }
  }
  if (names.size === 0) names.add(DEFAULT_SESSION);
  for (const name of names) if (name) addCard(name);
  window.waDemo = { cards, sim, server, WaClient };
  document.body.dataset.ready = 'yes';
}

main().catch((error) => {
  $('#boot').textContent = `The demo could not start: ${errorText(error)}`;
  document.body.dataset.ready = 'failed';
  console.error(error);
});
