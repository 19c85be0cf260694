import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postWebhook } from '../../src/notify/webhook.js';
import { Notifier } from '../../src/notify/notifier.js';
import type { RunCounts, RunEvent } from '../../src/pipeline/events.js';
import { clearSecrets } from '../../src/util/secrets.js';

const closers: (() => void)[] = [];
after(() => {
  for (const c of closers) c();
  clearSecrets();
});

/** A loopback server answering each request with `answer(n)` (n: 1-based request count); returns its URL and the bodies. */
async function serve(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(body);
      answer(bodies.length, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/SECRETTOKEN`, bodies };
}

const fast = { timeoutMs: 300, attempts: 3, backoffMs: 10 };

test('200: delivered at once; 500 then 200: delivered on the third attempt; the body is POSTed as JSON', async () => {
  const ok = await serve((_n, req, res) => res.end(req.headers['content-type']));
  assert.deepEqual(await postWebhook(ok.url, '{"text":"hi"}', fast), { ok: true, attempts: 1, status: 200 });
  assert.deepEqual(ok.bodies, ['{"text":"hi"}']);
  const flaky = await serve((n, _req, res) => {
    res.statusCode = n < 3 ? 503 : 200;
    res.end();
  });
  assert.deepEqual(await postWebhook(flaky.url, '{}', fast), { ok: true, attempts: 3, status: 200 });
  assert.equal(flaky.bodies.length, 3);
});

test('429 is retried (Retry-After honoured, bounded); 404 is final; the error names the status and the answer, never the URL', async () => {
  const limited = await serve((n, _req, res) => {
    res.statusCode = n === 1 ? 429 : 200;
    if (n === 1) res.setHeader('retry-after', '0');
    res.end();
  });
  assert.equal((await postWebhook(limited.url, '{}', fast)).attempts, 2);
  const gone = await serve((_n, _req, res) => {
    res.statusCode = 404;
    res.end('no_service\n');
  });
  const r = await postWebhook(gone.url, '{}', fast);
  assert.deepEqual(r, { ok: false, attempts: 1, error: 'HTTP 404 Not Found: no_service', aborted: false });
  assert.equal(gone.bodies.length, 1);
});

test('no answer, a closed connection, a refused connection: each attempt bounded, then a failure in words', async () => {
  const hang = await serve(() => undefined);
  const t = Date.now();
  const r = await postWebhook(hang.url, '{}', { ...fast, attempts: 2 });
  assert.deepEqual(r, { ok: false, attempts: 2, error: 'no answer within 0.3 s', aborted: false });
  assert.ok(Date.now() - t < 2 * 300 + 2000, 'two attempts of 0.3 s and a short backoff');
  const closing = await serve((_n, req) => req.socket.destroy());
  const c = await postWebhook(closing.url, '{}', fast);
  assert.equal(c.ok, false);
  assert.match(!c.ok ? c.error : '', /the receiver closed the connection|the connection was reset/);
  assert.equal(closing.bodies.length, 3);
  // A port nobody listens on (one just released).
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as AddressInfo).port;
  await new Promise((r) => free.close(r));
  const refused = await postWebhook(`http://127.0.0.1:${port}/hooks/x`, '{}', fast);
  assert.deepEqual(refused, { ok: false, attempts: 3, error: 'connection refused (ECONNREFUSED)', aborted: false });
});

test('an abort stops the attempt in flight and the backoff at once', async () => {
  const hang = await serve(() => undefined);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const t = Date.now();
  const r = await postWebhook(hang.url, '{}', { timeoutMs: 10_000, attempts: 3, signal: ac.signal });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.aborted, true);
  assert.ok(Date.now() - t < 5000);
});

const counts: RunCounts = {
  totalTiles: 4,
  doneTiles: 0,
  totalBytes: 0,
  doneBytes: 0,
  ok: 0,
  empty: 0,
  failed: 0,
  missing: 0,
  rows: 0,
  fetchedBytes: 0,
  parquetBytes: 0,
  elapsedMs: 0,
  mbps: 0,
  reduction: 0,
};

test('the notifier: the observer returns at once, failures are logged once per kind, the drain is bounded and appends to the closed log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-notifier-'));
  const logPath = join(dir, 'run.log');
  await writeFile(logPath, '');
  const bad = await serve((_n, _req, res) => {
    res.statusCode = 500;
    res.end();
  });
  const hang = await serve(() => undefined);
  const n = new Notifier({ urls: [bad.url, hang.url], format: 'slack', every: 1, timeoutMs: 200, attempts: 2, backoffMs: 10 });
  const warned: string[] = [];
  let open = true;
  const id = { run: 'R', dataset: 'out', selection: 's', source: 'src', logPath, warn: (m: string) => open && warned.push(m) > 0 };
  const batch = { index: 1, count: 2, tiles: 2, rows: 0, fitsBytes: 0, fetchedBytes: 0, parquetBytes: 0, reduction: 1, ms: 1, mbps: 0 };
  const events: RunEvent[] = [
    { kind: 'started', id, counts, batches: 2 },
    { kind: 'batch', id, counts, batch },
    { kind: 'batch', id, counts, batch: { ...batch, index: 2 } },
  ];
  // Queued, not sent, on the run path: observer() gives the run nothing to wait for (no promise), and when it has
  // returned no body has reached either server (a check of what happened, not of how long it took).
  const observe: (e: RunEvent) => unknown = n.observer;
  for (const e of events) assert.equal(observe(e), undefined);
  assert.equal(bad.bodies.length + hang.bodies.length, 0, 'queued, not sent, on the run path');
  await new Promise((r) => setTimeout(r, 1500));
  // Webhook 1 answers 500: one line for "started", one for "batch" (not two); webhook 2 never answers.
  assert.equal(warned.filter((w) => w.includes('webhook 1') && w.includes('"started"')).length, 1);
  assert.equal(warned.filter((w) => w.includes('webhook 1') && w.includes('"batch"')).length, 1);
  for (const w of warned) assert.ok(!w.includes('SECRETTOKEN'), w);
  open = false;
  n.observer({ kind: 'finished', id, counts, exitCode: 0, outcomeTable: [], line: 'Run finished.' });
  n.observer({ kind: 'finished', id, counts, exitCode: 0, outcomeTable: [], line: 'Run finished.' });
  const d = Date.now();
  await n.drain();
  assert.ok(Date.now() - d < n.drainBoundMs + 1500, `drained in ${Date.now() - d} ms`);
  const log = await readFile(logPath, 'utf8');
  assert.match(log, /\[WARN\] - Gave up on \d+ notification\(s\) to webhook 2 \(http:\/\/127\.0\.0\.1:\d+\/…\) still unsent 0\.4 s after the run ended\./);
  assert.match(log, /\[WARN\] - Notifications to webhook 1 \(http:\/\/127\.0\.0\.1:\d+\/…\): 0 delivered, 5 not delivered\./);
  assert.ok(!log.includes('SECRETTOKEN'));
});
