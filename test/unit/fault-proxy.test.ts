import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../../src/dev/fault-proxy.js';

// ---- a tiny S3-like upstream: GET/HEAD with Range, ETag and If-Match; PUT stores the body ----

interface Obj {
  data: Buffer;
  etag: string;
}
const objects = new Map<string, Obj>();
const upstreamSeen = { requests: 0, hosts: [] as string[] };
let upstream: Server;
let upstreamUrl: string;

const etagOf = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
const put = (key: string, data: Buffer) => objects.set(key, { data, etag: etagOf(data) });

before(async () => {
  put('b/a', randomBytes(300 * 1024));
  put('b/c', randomBytes(1000));
  for (let i = 0; i < 4; i++) put(`b/k${i}`, Buffer.from(`object ${i}`));
  upstream = createServer((req, res) => {
    upstreamSeen.requests++;
    upstreamSeen.hosts.push(req.headers.host ?? '');
    const key = decodeURIComponent((req.url ?? '/').split('?')[0].slice(1));
    if (req.method === 'PUT') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        put(key, Buffer.concat(parts));
        res.writeHead(200, { etag: objects.get(key)!.etag, 'content-length': 0 }).end();
      });
      return;
    }
    const obj = objects.get(key);
    if (!obj) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== obj.etag) {
      res.writeHead(412, { 'content-type': 'application/xml' }).end('<Error><Code>PreconditionFailed</Code></Error>');
      return;
    }
    let start = 0;
    let end = obj.data.length; // exclusive
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      if (m[1] === '') start = Math.max(0, end - Number(m[2]));
      else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]) + 1);
      }
    }
    const headers: Record<string, string | number> = {
      etag: obj.etag,
      'content-length': end - start,
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
    };
    if (m) headers['content-range'] = `bytes ${start}-${end - 1}/${obj.data.length}`;
    res.writeHead(m ? 206 : 200, headers);
    res.end(req.method === 'HEAD' ? undefined : obj.data.subarray(start, end));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const addr = upstream.address();
  assert.ok(addr && typeof addr === 'object');
  upstreamUrl = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** Every test ends within this, whatever the proxy does. */
const BOUNDED = { timeout: 10_000 };

/** Runs `fn` with a proxy in front of the upstream, always stopping it. */
async function withProxy(plan: FaultPlan | undefined, fn: (p: FaultProxy) => Promise<void>): Promise<void> {
  const p = await startFaultProxy({ upstream: upstreamUrl, plan });
  try {
    await fn(p);
  } finally {
    await p.stop();
  }
}

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  error?: NodeJS.ErrnoException;
  /** The server closed the connection cleanly (FIN, no error). */
  ended: boolean;
  timedOut: boolean;
}

/**
 * One GET over a bare TCP socket, so that a reset, a clean early close and a stall can be told apart
 * exactly. `idleMs` destroys the socket after that long without data (a client-side timeout).
 */
function rawGet(endpoint: string, target: string, idleMs = 5000): Promise<RawAnswer> {
  const port = Number(new URL(endpoint).port);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    let ended = false;
    let timedOut = false;
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    s.setTimeout(idleMs, () => {
      timedOut = true;
      s.destroy();
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => (ended = true));
    s.on('error', (e) => (error = e));
    s.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = (split < 0 ? all : all.subarray(0, split)).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
      }
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head[0] ?? '')?.[1] ?? 0);
      resolve({ status, headers, body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4), error, ended, timedOut });
    });
  });
}

async function fetchBytes(url: string, init?: RequestInit): Promise<{ status: number; etag: string | null; body: Buffer }> {
  const r = await fetch(url, init);
  return { status: r.status, etag: r.headers.get('etag'), body: Buffer.from(await r.arrayBuffer()) };
}

/** Waits (bounded) until `cond` holds. */
async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

test('without a plan every byte passes through unchanged: GET, Range, HEAD, PUT, 404', BOUNDED, async () => {
  await withProxy(undefined, async (p) => {
    assert.match(p.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const a = objects.get('b/a')!;
    const full = await fetchBytes(`${p.endpoint}/b/a`);
    assert.equal(full.status, 200);
    assert.equal(full.etag, a.etag);
    assert.ok(full.body.equals(a.data));

    const part = await fetch(`${p.endpoint}/b/a`, { headers: { range: 'bytes=1000-70999' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1000-70999/${a.data.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(a.data.subarray(1000, 71000)));

    const head = await fetch(`${p.endpoint}/b/a`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(a.data.length));

    const upload = randomBytes(200 * 1024);
    const putRes = await fetch(`${p.endpoint}/b/uploaded%20file?x-id=PutObject`, { method: 'PUT', body: upload });
    assert.equal(putRes.status, 200);
    assert.equal(putRes.headers.get('etag'), etagOf(upload));
    assert.ok(objects.get('b/uploaded file')!.data.equals(upload));
    // the Host header the client signed is kept
    assert.equal(upstreamSeen.hosts.at(-1), new URL(p.endpoint).host);

    const missing = await fetchBytes(`${p.endpoint}/b/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /NoSuchKey/);

    const s = p.stats();
    assert.equal(s.requests, 5);
    assert.equal(s.forwarded, 5);
    assert.equal(s.bytesUploaded, upload.length);
    assert.equal(s.bytesForwarded, a.data.length + 70000 + missing.body.length);
    assert.ok(Object.values(s.injected).every((n) => n === 0));
  });
});

test('an absolute-form request target cannot leave the upstream: the host in it is ignored', BOUNDED, async () => {
  await withProxy(undefined, async (p) => {
    const r = await rawGet(p.endpoint, 'http://example.invalid/b/c');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(objects.get('b/c')!.data));
  });
});

test('slowDown comes in bursts with an S3 XML body; internalError stops after maxPerKey', BOUNDED, async () => {
  await withProxy({ rules: [{ fault: 'slowDown', count: 1, burst: 3, keys: /^b\/k/ }] }, async (p) => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetchBytes(`${p.endpoint}/b/k1`);
      statuses.push(r.status);
      if (r.status === 503) {
        assert.match(r.body.toString(), /<Error><Code>SlowDown<\/Code>.*<Resource>\/b\/k1<\/Resource>/s);
      } else assert.equal(r.body.toString(), 'object 1');
    }
    assert.deepEqual(statuses, [503, 503, 503, 200]);
    assert.equal((await fetchBytes(`${p.endpoint}/b/k2`)).status, 200); // the count was spent on k1
    assert.equal(p.stats().injected.slowDown, 3);
    assert.equal(p.stats().forwarded, 2); // injected errors never reach the upstream

    p.setPlan({ rules: [{ fault: 'internalError', probability: 1, maxPerKey: 2 }] });
    for (const key of ['b/k0', 'b/k3']) {
      const seen: number[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await fetchBytes(`${p.endpoint}/${key}`);
        seen.push(r.status);
        if (r.status === 500) assert.match(r.body.toString(), /<Code>InternalError<\/Code>/);
        if (r.status === 200) break;
      }
      assert.deepEqual(seen, [500, 500, 200], key);
    }
    assert.equal(p.stats().injected.internalError, 4);
  });
});

test('random faults are deterministic for a seed, differ for another seed, and honour the method filter', BOUNDED, async () => {
  const plan = (seed: number): FaultPlan => ({ seed, rules: [{ fault: 'slowDown', probability: 0.4, methods: ['GET'] }] });
  await withProxy(plan(42), async (p) => {
    const run = async () => {
      const out: number[] = [];
      for (let i = 0; i < 40; i++) out.push((await fetch(`${p.endpoint}/b/k${i % 4}`)).status);
      return out.join('');
    };
    const first = await run();
    p.setPlan(plan(42));
    assert.equal(await run(), first);
    p.setPlan(plan(43));
    assert.notEqual(await run(), first);
    const faults = (first.match(/503/g) ?? []).length;
    assert.ok(faults > 0 && faults < 40, `a 0.4 chance gave ${faults} faults in 40`);

    p.setPlan({ rules: [{ fault: 'slowDown', methods: ['GET'] }] });
    assert.equal((await fetch(`${p.endpoint}/b/k0`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${p.endpoint}/b/k0`)).status, 503);
  });
});

test('resetMidBody: headers and part of the body, then a connection reset', BOUNDED, async () => {
  const a = objects.get('b/a')!;
  await withProxy({ rules: [{ fault: 'resetMidBody', count: 2, afterBytes: 100_000 }] }, async (p) => {
    const r = await rawGet(p.endpoint, '/b/a');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(a.data.length));
    assert.equal(r.error?.code, 'ECONNRESET');
    assert.equal(r.ended, false);
    assert.equal(r.body.length, 100_000);
    assert.ok(r.body.equals(a.data.subarray(0, 100_000)));

    // the way an HTTP client sees it: reading the body fails
    const res = await fetch(`${p.endpoint}/b/a`);
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer());
    assert.equal(p.stats().injected.resetMidBody, 2);
    assert.ok((await fetchBytes(`${p.endpoint}/b/a`)).body.equals(a.data)); // count spent
  });
});

test('shortBody: a full Content-Length, fewer bytes, then a clean close', BOUNDED, async () => {
  const a = objects.get('b/a')!;
  await withProxy({ rules: [{ fault: 'shortBody', count: 1, afterBytes: 12345 }] }, async (p) => {
    const r = await rawGet(p.endpoint, '/b/a');
    assert.equal(r.status, 200);
    assert.equal(r.error, undefined);
    assert.equal(r.ended, true);
    assert.equal(Number(r.headers.get('content-length')), a.data.length);
    assert.equal(r.body.length, 12345);
    assert.ok(r.body.equals(a.data.subarray(0, 12345)));
    assert.equal(p.stats().injected.shortBody, 1);
    assert.equal(p.stats().bytesForwarded, 12345);
  });
});

test('stallFirstByte: a client timeout fires, the upstream never sees the request; a finite stall passes', BOUNDED, async () => {
  const c = objects.get('b/c')!;
  await withProxy({ rules: [{ fault: 'stallFirstByte', count: 1, stallMs: 60_000 }] }, async (p) => {
    const before = upstreamSeen.requests;
    await assert.rejects(fetch(`${p.endpoint}/b/c`, { signal: AbortSignal.timeout(150) }), { name: 'TimeoutError' });
    assert.equal(upstreamSeen.requests, before);
    assert.equal(p.stats().forwarded, 0);

    p.setPlan({ rules: [{ fault: 'stallFirstByte', count: 1, stallMs: 50 }] });
    const r = await fetchBytes(`${p.endpoint}/b/c`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(c.data));
    assert.equal(p.stats().injected.stallFirstByte, 2);
  });
});

test('stallMidBody: part of the body then silence until the client gives up; a finite stall completes', BOUNDED, async () => {
  const a = objects.get('b/a')!;
  await withProxy({ rules: [{ fault: 'stallMidBody', count: 1, afterBytes: 4096 }] }, async (p) => {
    const r = await rawGet(p.endpoint, '/b/a', 200);
    assert.equal(r.timedOut, true);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 4096);
    assert.ok(r.body.equals(a.data.subarray(0, 4096)));
    // the client left, so the stall (planned to last forever) ended
    assert.ok(await eventually(() => p.stats().inFlight === 0), 'the stalled answer is still in flight');

    p.setPlan({ rules: [{ fault: 'stallMidBody', count: 1, stallMs: 50 }] });
    const done = await fetchBytes(`${p.endpoint}/b/a`);
    assert.ok(done.body.equals(a.data));
    assert.equal(p.stats().injected.stallMidBody, 2);
  });
});

test('stop() ends a stall that no client timeout would end', BOUNDED, async () => {
  const p = await startFaultProxy({ upstream: upstreamUrl, plan: { rules: [{ fault: 'stallFirstByte' }] } });
  const pending = rawGet(p.endpoint, '/b/c', 60_000);
  assert.ok(await eventually(() => p.stats().injected.stallFirstByte === 1));
  await p.stop();
  const r = await pending;
  assert.equal(r.timedOut, false);
  assert.equal(r.status, 0); // closed before any answer
});

test('replaceObject: after the first ranged GET the object changes (412 on If-Match, new bytes and ETag)', BOUNDED, async () => {
  const a = objects.get('b/a')!;
  await withProxy({ rules: [{ fault: 'replaceObject', keys: /^b\/a$/ }] }, async (p) => {
    const r1 = await fetchBytes(`${p.endpoint}/b/a`, { headers: { range: 'bytes=0-999' } });
    assert.equal(r1.status, 206);
    assert.equal(r1.etag, a.etag);
    assert.ok(r1.body.equals(a.data.subarray(0, 1000)));

    const stale = await fetchBytes(`${p.endpoint}/b/a`, { headers: { range: 'bytes=1000-1999', 'if-match': a.etag } });
    assert.equal(stale.status, 412);
    assert.match(stale.body.toString(), /<Code>PreconditionFailed<\/Code>/);

    const fresh = await fetchBytes(`${p.endpoint}/b/a`, { headers: { range: 'bytes=1000-1999' } });
    assert.equal(fresh.status, 206);
    assert.ok(fresh.etag && fresh.etag !== a.etag);
    assert.equal(fresh.body.length, 1000);
    const old = a.data.subarray(1000, 2000);
    assert.ok(
      fresh.body.every((b, i) => b !== old[i]),
      'every byte of the new object differs',
    );

    const again = await fetchBytes(`${p.endpoint}/b/a`, { headers: { range: 'bytes=1000-1999', 'if-match': fresh.etag } });
    assert.equal(again.status, 206);
    assert.ok(again.body.equals(fresh.body));
    assert.equal((await fetch(`${p.endpoint}/b/a`, { method: 'HEAD' })).headers.get('etag'), fresh.etag);

    // other keys and the upstream itself are untouched
    assert.equal((await fetchBytes(`${p.endpoint}/b/c`, { headers: { 'if-match': objects.get('b/c')!.etag } })).status, 200);
    const direct = await fetchBytes(`${upstreamUrl}/b/a`, { headers: { 'if-match': a.etag } });
    assert.equal(direct.status, 200);
    assert.ok(direct.body.equals(a.data));
    assert.equal(p.stats().injected.replaceObject, 4);

    p.setPlan({ rules: [] }); // a new plan forgets the replacement
    assert.equal((await fetchBytes(`${p.endpoint}/b/a`, { headers: { 'if-match': a.etag } })).status, 200);
  });
});

test('only loopback HTTP upstreams are accepted; bad plans are refused', BOUNDED, async () => {
  for (const bad of [
    'http://10.0.0.1:9000',
    'http://example.com:9000',
    'http://[::1]:9000',
    'https://127.0.0.1:9000',
    'http://127.0.0.1',
    'http://127.0.0.1:9000/bucket',
    'http://user:pw@127.0.0.1:9000',
    'not a url',
  ]) {
    await assert.rejects(startFaultProxy({ upstream: bad }), /fault proxy: upstream/, bad);
  }
  await assert.rejects(startFaultProxy({ upstream: upstreamUrl, plan: { rules: [{ fault: 'slowDown', probability: 2 }] } }), RangeError);
  await withProxy(undefined, async (p) => {
    assert.throws(() => p.setPlan({ rules: [{ fault: 'stallMidBody', afterBytes: -1 }] }), RangeError);
    assert.equal((await fetch(`${p.endpoint}/b/c`)).status, 200); // the old plan is still in force
  });
});
