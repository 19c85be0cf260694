import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startLinkShaper } from '../../src/dev/link-shaper.js';

/** A loopback HTTP server answering every GET with `size` bytes. */
async function upstream(size: number) {
  const body = Buffer.alloc(size, 7);
  const server = createServer((_, res) => {
    res.setHeader('content-length', size);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('the shaper delivers the bytes unchanged, no faster than its bandwidth, with its latency', async () => {
  const up = await upstream(2_000_000);
  const shaper = await startLinkShaper({ upstreamPort: up.port, bandwidth: 10_000_000, rttMs: 40 });
  try {
    const t0 = performance.now();
    const res = await fetch(`${shaper.endpoint}/x`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const sec = (performance.now() - t0) / 1000;
    assert.equal(bytes.length, 2_000_000);
    assert.ok(bytes.every((b) => b === 7));
    // 2 MB at 10 MB/s takes at least 0.2 s; the bound below only says "not faster than the link".
    assert.ok(sec >= 0.2, `took ${sec.toFixed(3)} s, faster than 10 MB/s allows`);
    assert.ok(shaper.bytesDown() >= 2_000_000);

    // A small request pays the round trip: at least 40 ms.
    const t1 = performance.now();
    await (await fetch(`${shaper.endpoint}/y`)).arrayBuffer();
    assert.ok(performance.now() - t1 >= 40, 'latency added');
  } finally {
    await shaper.stop();
    await up.close();
  }
});

test('concurrent downloads share one bandwidth', async () => {
  const up = await upstream(1_000_000);
  const shaper = await startLinkShaper({ upstreamPort: up.port, bandwidth: 10_000_000, rttMs: 0 });
  try {
    const t0 = performance.now();
    await Promise.all([1, 2, 3, 4].map(async (i) => (await fetch(`${shaper.endpoint}/${i}`)).arrayBuffer()));
    const sec = (performance.now() - t0) / 1000;
    assert.ok(sec >= 0.4, `4 MB through a 10 MB/s link took ${sec.toFixed(3)} s`);
  } finally {
    await shaper.stop();
    await up.close();
  }
});
