/**
 * A fault-injecting HTTP proxy for S3 tests: it sits on 127.0.0.1 in front of a loopback S3 endpoint (s3rver,
 * or a tiny server written inside a test), forwards every request unchanged and, following a plan, answers
 * some of them the way a real object store misbehaves: SlowDown and InternalError answers, connections reset
 * or cleanly closed mid-body, stalls before the first byte or mid-body, and objects that change between two
 * ranged reads. It never listens on nor connects to anything but 127.0.0.1.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { mulberry32 } from '../util/prng.js';

/** The faults the proxy can inject. */
export type FaultKind = 'slowDown' | 'internalError' | 'resetMidBody' | 'shortBody' | 'stallFirstByte' | 'stallMidBody' | 'replaceObject';

export const FAULT_KINDS: readonly FaultKind[] = ['slowDown', 'internalError', 'resetMidBody', 'shortBody', 'stallFirstByte', 'stallMidBody', 'replaceObject'];

/** Faults that need the upstream's response body (never applied to HEAD). */
const BODY_FAULTS: ReadonlySet<FaultKind> = new Set(['resetMidBody', 'shortBody', 'stallMidBody']);

/**
 * One rule of a plan. A request "matches" a rule when its method and key pass the filters and the rule's
 * per-key budget (maxPerKey) is not spent; a matching request then gets the fault if a burst is running on
 * its key, else if the rule's deterministic `count` is not used up, else with `probability`.
 */
export interface FaultRule {
  fault: FaultKind;
  /**
   * Chance in [0, 1] that a matching request gets the fault. The draw is a hash of (seed, rule index, key,
   * how many times this rule matched this key before), so the same plan gives the same faults for the same
   * per-key request sequence, however requests for different keys interleave. Default: 1 without `count`,
   * 0 with it.
   */
  probability?: number;
  /** Deterministic mode: the next `count` matching requests (any key, in arrival order) get the fault. */
  count?: number;
  /** Only these methods (upper case, e.g. ['GET']); default any. Body faults never apply to HEAD. */
  methods?: readonly string[];
  /** Only keys this matches. The key is the decoded URL path without its leading '/' ("bucket/a/b.fits"). */
  keys?: RegExp;
  /** At most this many injections of this rule per key, so that a retrying client eventually succeeds. */
  maxPerKey?: number;
  /** Once the rule fires on a key, the next `burst - 1` matching requests of that key get it too (default 1). */
  burst?: number;
  /** stallFirstByte, stallMidBody: how long to stall, in ms; Infinity (default) = until the client leaves. */
  stallMs?: number;
  /**
   * resetMidBody, shortBody, stallMidBody: body bytes sent before the fault (default half the body). The
   * reset is a real RST sent RESET_PAUSE_MS after those bytes, so that a reader keeping up sees them and
   * then ECONNRESET; a reader that is behind (libuv reading data and the RST in one go) may see a plain end
   * of stream instead. Either way it gets fewer bytes than Content-Length.
   */
  afterBytes?: number;
}

/** What the proxy does: rules are tried in order and the first that fires decides the request's fault. */
export interface FaultPlan {
  /** Seed of the fault draws (default 1). */
  seed?: number;
  rules: readonly FaultRule[];
}

export interface FaultStats {
  /** Requests the proxy received. */
  requests: number;
  /** Requests it sent on to the upstream. */
  forwarded: number;
  /** Requests still being answered (a stall that ended when its client left is no longer counted). */
  inFlight: number;
  /** Response body bytes it sent to clients from upstream answers (its own error bodies not counted). */
  bytesForwarded: number;
  /** Request body bytes it sent to the upstream. */
  bytesUploaded: number;
  /**
   * Faults injected, per kind. replaceObject counts every answer rewritten because an object "changed"
   * (a 412, or a GET/HEAD given the new ETag), not the request that triggered the change.
   */
  injected: Record<FaultKind, number>;
}

export interface FaultProxyOptions {
  /** The S3 endpoint to forward to: http://127.0.0.1:PORT (or http://localhost:PORT); nothing else. */
  upstream: string;
  /** The initial plan (default: no faults, a plain pass-through). */
  plan?: FaultPlan;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT, to give to the S3 client as its endpoint. */
  readonly endpoint: string;
  /** A copy of the counters since start. */
  stats(): FaultStats;
  /** Replaces the plan and forgets every per-key state of the old one (counts, bursts, replaced objects). */
  setPlan(plan: FaultPlan): void;
  /** Closes the listening socket and every connection, ends all stalls and upstream requests. */
  stop(): Promise<void>;
}

/** The pause between the last body bytes and the RST of resetMidBody (see FaultRule.afterBytes). */
const RESET_PAUSE_MS = 20;

/** Headers that belong to one hop and are never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect'];

/**
 * Checks that `url` names a plain-HTTP endpoint on 127.0.0.1 and returns the port to connect to; throws for
 * anything else (another host, https, a path, credentials), so a test can never send traffic off the machine.
 */
export function parseLoopbackUpstream(url: string): { port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`fault proxy: upstream ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:') throw new Error(`fault proxy: upstream ${url} must be plain http://`);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
    throw new Error(`fault proxy: upstream ${url} is not on 127.0.0.1; only loopback upstreams are accepted`);
  }
  if (u.username || u.password) throw new Error(`fault proxy: upstream ${url} must not carry credentials`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new Error(`fault proxy: upstream ${url} must be an origin (no path or query)`);
  }
  const port = Number(u.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`fault proxy: upstream ${url} needs an explicit port`);
  return { port };
}

/** A 32-bit FNV-1a hash of a string. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform draw in [0, 1) from a counter-based generator: the same inputs always give the same number. */
function draw(seed: number, rule: number, key: string, n: number): number {
  let h = (seed >>> 0) ^ Math.imul(rule + 1, 0x9e3779b9) ^ hashString(key);
  h = Math.imul(h ^ (n >>> 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // one round of mulberry32 to spread the bits (the shared generator's first draw for seed h: the same numbers
  // as the inline round this replaced, since (h + c) >>> 0 equals ((h >>> 0) + c) >>> 0 for any int32 h)
  return mulberry32(h)();
}

function checkPlan(plan: FaultPlan): void {
  if (plan.seed !== undefined && !Number.isFinite(plan.seed)) throw new RangeError('fault plan: seed must be a finite number');
  plan.rules.forEach((r, i) => {
    const bad = (what: string): never => {
      throw new RangeError(`fault plan: rule ${i} (${r.fault}): ${what}`);
    };
    if (!FAULT_KINDS.includes(r.fault)) bad('unknown fault kind');
    if (r.probability !== undefined && !(r.probability >= 0 && r.probability <= 1)) bad('probability must be in [0, 1]');
    const nonNegInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v >= 0);
    if (!nonNegInt(r.count)) bad('count must be a non-negative integer');
    if (!nonNegInt(r.maxPerKey)) bad('maxPerKey must be a non-negative integer');
    if (!nonNegInt(r.afterBytes)) bad('afterBytes must be a non-negative integer');
    if (r.burst !== undefined && !(Number.isInteger(r.burst) && r.burst >= 1)) bad('burst must be an integer >= 1');
    if (r.stallMs !== undefined && !(r.stallMs >= 0)) bad('stallMs must be >= 0 (Infinity allowed)');
  });
}

interface KeyState {
  matched: number;
  injected: number;
  burstLeft: number;
}

/** The plan plus its running state: which fault (if any) each request gets. */
class FaultChooser {
  private readonly seed: number;
  private readonly countLeft: number[];
  private readonly perKey: Map<string, KeyState>[];
  /** Keys whose object "changed", with the ETag the proxy now answers for them. */
  readonly replaced = new Map<string, string>();

  constructor(readonly plan: FaultPlan) {
    checkPlan(plan);
    this.seed = plan.seed ?? 1;
    this.countLeft = plan.rules.map((r) => r.count ?? 0);
    this.perKey = plan.rules.map(() => new Map<string, KeyState>());
  }

  /** The rule that fires for this request, or undefined; advances the per-key state of the rules it tries. */
  choose(method: string, key: string): FaultRule | undefined {
    for (let i = 0; i < this.plan.rules.length; i++) {
      const rule = this.plan.rules[i];
      if (rule.methods && !rule.methods.includes(method)) continue;
      if (rule.keys && !rule.keys.test(key)) continue;
      if (method === 'HEAD' && BODY_FAULTS.has(rule.fault)) continue;
      if (rule.fault === 'replaceObject' && (method !== 'GET' || this.replaced.has(key))) continue;
      let st = this.perKey[i].get(key);
      if (!st) {
        st = { matched: 0, injected: 0, burstLeft: 0 };
        this.perKey[i].set(key, st);
      }
      if (rule.maxPerKey !== undefined && st.injected >= rule.maxPerKey) continue;
      const n = st.matched++;
      let fire = false;
      if (st.burstLeft > 0) {
        st.burstLeft--;
        fire = true;
      } else if (this.countLeft[i] > 0) {
        this.countLeft[i]--;
        fire = true;
        st.burstLeft = (rule.burst ?? 1) - 1;
      } else {
        const p = rule.probability ?? (rule.count === undefined ? 1 : 0);
        if (p > 0 && draw(this.seed, i, key, n) < p) {
          fire = true;
          st.burstLeft = (rule.burst ?? 1) - 1;
        }
      }
      if (fire) {
        st.injected++;
        if (rule.fault === 'replaceObject') this.replaced.set(key, `"fault-replaced-${hashString(`${this.seed}/${key}`).toString(16)}"`);
        return rule;
      }
    }
    return undefined;
  }
}

/** The object key of a request target: its decoded path without the leading '/'. */
function keyOf(path: string): string {
  const p = path.split('?', 1)[0];
  const raw = p.startsWith('/') ? p.slice(1) : p;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The origin-form target (path and query) of a request, whatever form the client sent. */
function originForm(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url); // absolute-form: its host is ignored, the upstream is fixed
    return u.pathname + u.search;
  } catch {
    return '/' + url;
  }
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Whether an If-Match header value accepts `etag`. */
function ifMatchAccepts(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((s) => s.trim().replace(/^W\//, ''))
    .some((s) => s === '*' || s === etag);
}

/** Resolves after `ms` (never if Infinity), or as soon as `signal` aborts; says whether it was aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(true);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (timer) clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(ms)) {
      timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(false);
      }, ms);
    }
  });
}

/** Writes `chunk` and resolves when the socket took it (or the response is gone). */
function flushWrite(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve();
      return;
    }
    res.once('close', resolve);
    res.write(chunk, () => {
      res.off('close', resolve);
      resolve();
    });
  });
}

/** Resolves when `res` can take more data or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Reads a whole stream into memory. */
async function collect(src: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Starts the proxy on 127.0.0.1 (a random port) in front of `opts.upstream` and returns its endpoint and
 * controls. Rejects if the upstream is not a loopback HTTP origin.
 */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const { port: upstreamPort } = parseLoopbackUpstream(opts.upstream);
  let chooser = new FaultChooser(opts.plan ?? { rules: [] });
  const counters: FaultStats = {
    requests: 0,
    forwarded: 0,
    inFlight: 0,
    bytesForwarded: 0,
    bytesUploaded: 0,
    injected: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const active = new Set<AbortController>();
  const sockets = new Set<Socket>();
  let stopping = false;
  let requestIds = 0;

  function sendError(res: ServerResponse, status: number, code: string, message: string, resource: string, extra = ''): void {
    const id = `FAULTPROXY${(++requestIds).toString().padStart(8, '0')}`;
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}` +
      `<Resource>${xmlEscape(resource)}</Resource><RequestId>${id}</RequestId></Error>`;
    res.writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      'x-amz-request-id': id,
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    counters.requests++;
    const method = (req.method ?? 'GET').toUpperCase();
    const target = originForm(req.url);
    const key = keyOf(target);
    const newEtag = method === 'GET' || method === 'HEAD' ? chooser.replaced.get(key) : undefined;
    const rule = chooser.choose(method, key);
    const fault = rule?.fault;

    if (fault === 'slowDown' || fault === 'internalError') {
      counters.injected[fault]++;
      req.resume();
      if (fault === 'slowDown') sendError(res, 503, 'SlowDown', 'Please reduce your request rate.', '/' + key);
      else sendError(res, 500, 'InternalError', 'We encountered an internal error. Please try again.', '/' + key);
      return;
    }
    if (fault === 'stallFirstByte') {
      counters.injected.stallFirstByte++;
      if (await sleep(rule?.stallMs ?? Infinity, signal)) return; // the client left (or the proxy stopped)
    }

    const headers: OutgoingHttpHeaders = { ...req.headers };
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a copied header object, minus a fixed list of names
    for (const h of HOP_BY_HOP) delete headers[h];
    if (newEtag !== undefined) {
      const ifMatch = req.headers['if-match'];
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, newEtag)) {
        counters.injected.replaceObject++;
        req.resume();
        sendError(
          res,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          '/' + key,
          '<Condition>If-Match</Condition>',
        );
        return;
      }
      delete headers['if-match']; // the upstream still holds the old object
    }

    counters.forwarded++;
    const upReq = httpRequest({ host: '127.0.0.1', port: upstreamPort, method, path: target, headers, agent });
    const onAbort = () => upReq.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      req.on('data', (c: Buffer) => (counters.bytesUploaded += c.length));
      req.pipe(upReq);
      let upRes: IncomingMessage;
      try {
        upRes = await new Promise<IncomingMessage>((resolve, reject) => {
          upReq.once('response', resolve);
          upReq.once('error', reject);
        });
      } catch (err) {
        if (!signal.aborted && !res.headersSent) sendError(res, 502, 'BadGateway', `fault proxy: upstream failed: ${(err as Error).message}`, '/' + key);
        return;
      }
      upReq.on('error', () => upRes.destroy());
      upRes.on('error', () => {});
      await answer(res, method, upRes, rule, newEtag, signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Streams the upstream's answer to the client, rewritten for a replaced object and cut by a body fault. */
  async function answer(
    res: ServerResponse,
    method: string,
    upRes: IncomingMessage,
    rule: FaultRule | undefined,
    newEtag: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const fault = rule && BODY_FAULTS.has(rule.fault) ? rule.fault : undefined;
    const headers: OutgoingHttpHeaders = { ...upRes.headers };
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- as in handle(): a copy, minus fixed names
    for (const h of [...HOP_BY_HOP, 'transfer-encoding']) delete headers[h];
    let body: Readable = upRes;
    if (fault && headers['content-length'] === undefined && method !== 'HEAD') {
      const all = await collect(upRes); // a cut point needs the full length
      headers['content-length'] = String(all.length);
      body = Readable.from([all]);
    }
    const rewrite = newEtag !== undefined;
    if (rewrite) {
      counters.injected.replaceObject++;
      headers.etag = newEtag;
    }
    if (fault === 'shortBody') headers.connection = 'close';
    const length = Number(headers['content-length'] ?? 0);
    const cutAt = fault ? Math.min(rule?.afterBytes ?? Math.floor(length / 2), Math.max(0, length - 1)) : -1;
    if (fault) counters.injected[fault]++;
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);

    /** Does the fault at the cut point; returns whether to go on sending the rest. */
    const atCut = async (): Promise<boolean> => {
      if (fault === 'shortBody') {
        res.end(); // clean end (FIN) with fewer bytes than Content-Length
        return false;
      }
      if (fault === 'resetMidBody') {
        if (await sleep(RESET_PAUSE_MS, signal)) return false;
        const socket = res.socket;
        if (socket && !socket.destroyed) socket.resetAndDestroy();
        else res.destroy();
        return false;
      }
      // stallMidBody
      return !(await sleep(rule?.stallMs ?? Infinity, signal)); // rule is set whenever fault is
    };

    let sent = 0;
    let cut = !fault;
    try {
      if (!cut && cutAt === 0) {
        res.flushHeaders();
        await flushWrite(res, Buffer.alloc(0));
        cut = true;
        if (!(await atCut())) return;
      }
      for await (const raw of body) {
        if (res.destroyed || signal.aborted) return;
        let chunk = raw as Buffer;
        if (rewrite) {
          const out = Buffer.allocUnsafe(chunk.length);
          for (let i = 0; i < chunk.length; i++) out[i] = chunk[i] ^ 0xff; // same length, every byte differs
          chunk = out;
        }
        if (!cut && sent + chunk.length >= cutAt) {
          const head = chunk.subarray(0, cutAt - sent);
          if (head.length > 0) await flushWrite(res, head);
          sent += head.length;
          counters.bytesForwarded += head.length;
          cut = true;
          if (!(await atCut())) return;
          chunk = chunk.subarray(head.length);
        }
        if (chunk.length === 0) continue;
        sent += chunk.length;
        counters.bytesForwarded += chunk.length;
        if (!res.write(chunk)) await drained(res);
      }
      if (!res.destroyed && !signal.aborted) res.end();
    } catch {
      if (!res.destroyed) res.destroy();
    } finally {
      if (!upRes.complete) upRes.destroy();
    }
  }

  const server = createServer((req, res) => {
    const ac = new AbortController();
    active.add(ac);
    res.on('error', () => {});
    req.on('error', () => {});
    res.once('close', () => {
      ac.abort(); // the client left, or the answer is done: stalls and upstream reads end
      active.delete(ac);
    });
    if (stopping) {
      res.destroy();
      return;
    }
    counters.inFlight++;
    handle(req, res, ac.signal)
      .catch(() => {
        if (!res.destroyed) res.destroy();
      })
      .finally(() => counters.inFlight--);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('fault proxy: no TCP address');
  const endpoint = `http://127.0.0.1:${addr.port}`;

  return {
    endpoint,
    stats: () => ({ ...counters, injected: { ...counters.injected } }),
    setPlan(plan: FaultPlan) {
      chooser = new FaultChooser(plan);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ac of active) ac.abort();
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
