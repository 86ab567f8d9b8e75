// The simulator's control API (wa-sim, HTTP JSON, CORS *): what the "simulated phone"
// buttons call. Only used when config.json names a simulator.

export class SimControl {
  /** @param {string} base e.g. `http://127.0.0.1:8080/control` */
  constructor(base) {
    this.base = base.replace(/\/$/, '');
  }

  async #call(method, path, body) {
    const response = await fetch(this.base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!response.ok) {
      const message = (data && (data.error || data.message)) || text || response.statusText;
      throw new Error(`wa-sim ${method} ${path}: ${response.status} ${message}`);
    }
    return data;
  }

  accounts() { return this.#call('GET', '/accounts'); }
  connections() { return this.#call('GET', '/connections'); }
  /** The phone of `phone` (default: the first account) scans a QR string. */
  scanQr(qr, phone) { return this.#call('POST', '/scan-qr', phone ? { qr, phone } : { qr }); }
  /** The phone of `phone` takes the pairing code the client showed. */
  enterPairingCode(phone, code) { return this.#call('POST', '/pairing-code', { phone, code }); }
  /** A simulated contact sends a text and/or a document. */
  sendMessage(request) { return this.#call('POST', '/messages', request); }
  fault(request) { return this.#call('POST', '/faults', request); }
  restart() { return this.#call('POST', '/restart', {}); }
  unlink(jid) { return this.#call('POST', '/unlink', { jid }); }
  received(phone) { return this.#call('GET', `/accounts/${encodeURIComponent(phone)}/received`); }
}

/** A small valid one-page PDF, base64, for "contact sends a document". */
export function samplePdfBase64(title = 'Reservation 4711') {
  const text = `BT /F1 18 Tf 72 720 Td (${title.replace(/[()\\]/g, '')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return btoa(pdf);
}
