import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that shapes the link to a server on loopback: a shared bandwidth limit for data
 * flowing back to clients (a token bucket across all connections, as one network link is shared by all
 * downloads) and a latency added in each direction (half the round trip each way). It lets the bench
 * measure, on one machine, what a run does on a link like the seed's (about 35 MB/s, 20 ms).
 */
export interface LinkShaperOptions {
  /** The server behind the shaper, on 127.0.0.1. */
  upstreamPort: number;
  /** Bytes per second, shared by all connections, server to client. Infinity = unshaped. */
  bandwidth: number;
  /** Added round-trip time in ms (half is added to each direction). */
  rttMs: number;
}

export interface LinkShaper {
  readonly endpoint: string;
  /** Bytes delivered to clients so far. */
  bytesDown(): number;
  stop(): Promise<void>;
}

const HIGH_WATER = 1 << 20; // bytes queued per connection before the upstream is paused

export async function startLinkShaper(opts: LinkShaperOptions): Promise<LinkShaper> {
  const oneWay = opts.rttMs / 2;
  let linkFreeAt = 0; // when the shared downlink has sent everything scheduled so far
  let down = 0;
  const sockets = new Set<Socket>();

  /**
   * Forwards `from` to `to`, each chunk delayed by one-way latency and, downstream, by the shared bandwidth.
   * Chunks of a connection wait in one FIFO drained by one timer, so they always leave in the order they came
   * (separate timers with equal due times may fire in any order and would garble the stream).
   */
  const pipe = (from: Socket, to: Socket, shaped: boolean) => {
    const queue: { at: number; chunk: Buffer }[] = [];
    let queued = 0;
    let lastAt = 0;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const drain = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0].at <= now + 0.5) {
        const { chunk } = queue[0];
        queue.shift();
        queued -= chunk.length;
        if (shaped) down += chunk.length;
        if (!to.destroyed) to.write(chunk);
      }
      if (queued <= HIGH_WATER && from.isPaused()) from.resume();
      if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0].at - now));
      else if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const now = performance.now();
      let at = now + oneWay;
      if (shaped && Number.isFinite(opts.bandwidth)) {
        linkFreeAt = Math.max(linkFreeAt, now) + (chunk.length / opts.bandwidth) * 1000;
        at = Math.max(at, linkFreeAt + oneWay);
      }
      at = Math.max(at, lastAt);
      lastAt = at;
      queue.push({ at, chunk });
      queued += chunk.length;
      if (queued > HIGH_WATER) from.pause();
      timer ??= setTimeout(drain, Math.max(0, queue[0].at - now));
    });
    from.on('end', () => {
      ended = true;
      if (!timer) drain();
    });
    from.on('error', () => to.destroy());
    from.on('close', () => {
      if (!ended) {
        if (timer) clearTimeout(timer);
        to.destroy();
      }
    });
  };

  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: opts.upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream, false);
    pipe(upstream, client, true);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bytesDown: () => down,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
