/**
 * --gap-bytes auto (src/pipeline/auto-gap.ts): the rule gap = B x (max(0, RTT / N - S / B) + c x u) clamped
 * to [4 KiB, 1 MiB], the meter's round trip (shortest small read), bandwidth (best 0.5 s window) and mean
 * read, the fallback until enough is measured, and the option's parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoGap, chooseGap, LinkMeter, MAX_AUTO_GAP, MIN_AUTO_GAP } from '../../src/pipeline/auto-gap.js';
import { parseGapBytes } from '../../src/cli/convert-command.js';

test('chooseGap: bandwidth x (round trip / reads in flight + CPU per request), in whole KiB', () => {
  // The seed's link: 35 MB/s, 20 ms, 64 in flight, 1 ms per GET: 35e6 x 1.3125e-3 = 45,938 bytes = 45 KiB.
  assert.equal(chooseGap({ bandwidth: 35e6, rtt: 0.02, inFlight: 64, requestCpu: 1e-3 }), 45 * 1024);
  // Fewer reads in flight: more of the round trip shows, so a wider gap.
  assert.ok(
    chooseGap({ bandwidth: 35e6, rtt: 0.02, inFlight: 8, requestCpu: 1e-3 }) > chooseGap({ bandwidth: 35e6, rtt: 0.02, inFlight: 64, requestCpu: 1e-3 }),
  );
  // N below 1 counts as 1: the whole round trip, 35e6 x 0.02 = 700,000 bytes = 684 KiB.
  assert.equal(chooseGap({ bandwidth: 35e6, rtt: 0.02, inFlight: 0, requestCpu: 0 }), 684 * 1024);
});

test('chooseGap: the round trip only as far as the reads in flight leave the link idle, the CPU only as far as the main thread is busy', () => {
  const seed = { bandwidth: 35e6, rtt: 0.02, inFlight: 64, requestCpu: 0.4e-3 };
  // 64 reads of 19 KB keep a 35 MB/s link busy 34.7 ms > 20 ms: no round trip shows; 35e6 x 0.4e-3 x 0.5 = 7,000 B.
  assert.equal(chooseGap({ ...seed, meanRead: 19_000, busyShare: 0.5 }), 7 * 1024);
  // Reads of 5 KB leave (20/64 - 5/35) ms = 0.17 ms idle per request: 35e6 x (0.1696e-3 + 0.2e-3) = 12,937 B.
  assert.equal(chooseGap({ ...seed, meanRead: 5_000, busyShare: 0.5 }), 13 * 1024);
  // A busier main thread merges more; an idle one only for the round trip.
  assert.equal(chooseGap({ ...seed, meanRead: 19_000, busyShare: 1 }), 14 * 1024);
  assert.equal(chooseGap({ ...seed, meanRead: 19_000, busyShare: 0 }), MIN_AUTO_GAP);
  // Absent, S = 0 and u = 1: the plain B x (RTT / N + c).
  assert.equal(chooseGap(seed), chooseGap({ ...seed, meanRead: 0, busyShare: 1 }));
  assert.equal(chooseGap(seed), 24 * 1024); // 35e6 x (0.3125 + 0.4) ms = 24,938 B
});

test('chooseGap: clamped to [4 KiB, 1 MiB]', () => {
  assert.equal(chooseGap({ bandwidth: 1e5, rtt: 0.001, inFlight: 64, requestCpu: 1e-4 }), MIN_AUTO_GAP);
  assert.equal(chooseGap({ bandwidth: 10e9, rtt: 0.05, inFlight: 64, requestCpu: 1e-3 }), MAX_AUTO_GAP);
  assert.equal(chooseGap({ bandwidth: Infinity, rtt: 0, inFlight: 64, requestCpu: 1e-3 }), MAX_AUTO_GAP);
});

/** A meter on a clock the test moves. */
function fakeMeter() {
  let t = 0;
  const meter = new LinkMeter(() => t);
  const read = (bytes: number, startMs: number, endMs: number) => {
    t = endMs;
    meter.record(bytes, startMs);
  };
  return { meter, read };
}

test('LinkMeter: no estimate before 16 reads and a full window; then the shortest small read and the best window rate', () => {
  const { meter, read } = fakeMeter();
  for (let i = 0; i < 15; i++) read(10_000, i * 10, i * 10 + 25);
  assert.equal(meter.estimate(), undefined);
  // 16th read at 600 ms closes the first window: 16 reads... the window holds the bytes before it.
  read(1_000_000, 500, 600);
  const e = meter.estimate();
  assert.ok(e);
  assert.equal(e.rtt, 0.025); // the 1 MB read is not small: its 100 ms does not count for the round trip
  assert.equal(e.bandwidth, (15 * 10_000 * 1000) / 600);
  // A later, fuller window raises the bandwidth; a shorter small read lowers the round trip.
  for (let i = 0; i < 10; i++) read(1_000_000, 600 + i * 10, 610 + i * 50);
  read(2_000, 1200, 1221);
  read(2_000, 1210, 1215);
  const e2 = meter.estimate()!;
  assert.equal(e2.rtt, 0.005);
  assert.ok(e2.bandwidth > e.bandwidth, `${e2.bandwidth} > ${e.bandwidth}`);
});

test('AutoGap: the fallback until the meter knows, then the rule (even below the fallback), reported once per change', () => {
  const { meter, read } = fakeMeter();
  const choices: number[] = [];
  const auto = new AutoGap(16 * 1024, 64, 0.3e-3, (gap) => choices.push(gap), meter, null);
  assert.equal(auto.current(), 16 * 1024);
  assert.equal(auto.last, 16 * 1024);
  // Reads of 17.5 KB, 20 ms each, one every 0.5 ms: ~34 MB/s over the first window.
  let i = 0;
  for (; meter.estimate() === undefined; i++) {
    assert.equal(auto.current(), 16 * 1024, 'the fallback until the meter knows');
    read(17_500, i * 0.5, i * 0.5 + 20);
  }
  const e = meter.estimate()!;
  assert.ok(e.bandwidth > 30e6 && e.bandwidth < 40e6, String(e.bandwidth));
  // The reads in flight fill the link past the round trip (S / B = 0.5 ms > RTT / N = 0.31 ms): the CPU term alone,
  // B x 0.3 ms (u = 1 when unmeasured) = ~10 KB.
  const want = chooseGap({ ...e, inFlight: 64, requestCpu: 0.3e-3 });
  assert.equal(want, Math.round((e.bandwidth * 0.3e-3) / 1024) * 1024);
  assert.ok(want < 16 * 1024, `the rule asks for less than the fallback here (${want})`);
  assert.equal(auto.current(), want);
  assert.equal(auto.current(), want);
  assert.deepEqual(choices, [want], 'reported once per change (the fallback is not a choice)');
  assert.equal(auto.last, want);
  // A link that delivers twice as much: a wider gap.
  const t0 = i * 0.5 + 20;
  for (let j = 0; j < 3000; j++) read(17_500, t0 + j * 0.25, t0 + j * 0.25 + 20);
  const wider = chooseGap({ ...meter.estimate()!, inFlight: 64, requestCpu: 0.3e-3 });
  assert.ok(wider > want, `${wider} > ${want}`);
  assert.equal(auto.current(), wider);
  assert.deepEqual(choices, [want, wider]);
});

test('AutoGap: once the meter knows, c is the main thread busy time over the reads, capped at the assumed figure', () => {
  const { meter, read } = fakeMeter();
  let busy = 0;
  let share = 1;
  const why: string[] = [];
  const auto = new AutoGap(
    16 * 1024,
    64,
    1e-3,
    (_gap, w) => why.push(w),
    meter,
    () => ({ seconds: busy, share }),
  );
  // Small reads of 20 ms round trips, then big ones at ~40 MB/s.
  for (let i = 0; i < 16; i++) read(10_000, i, i + 20);
  const big = 3 * 35;
  for (let i = 0; i < big; i++) read(600_000, 40 + i * 15, 40 + i * 15 + 20);
  const e = meter.estimate()!;
  assert.ok(e.bandwidth > 20e6, String(e.bandwidth));
  const reads = 16 + big;
  const rule = (requestCpu: number, busyShare: number) => chooseGap({ ...e, inFlight: 64, requestCpu, busyShare });
  busy = reads * 0.2e-3; // 0.2 ms of main thread per read
  const cheap = auto.current();
  assert.equal(cheap, rule(0.2e-3, 1));
  assert.ok(cheap < rule(1e-3, 1), 'a cheaper request than assumed merges less');
  assert.match(why[0], /0\.20 ms CPU per request \(measured: main thread busy \/ reads\), main thread busy 100 %/);
  share = 0.5;
  assert.equal(auto.current(), rule(0.2e-3, 0.5));
  assert.ok(rule(0.2e-3, 0.5) < cheap, 'a main thread busy half the time counts half the CPU');
  assert.match(why.at(-1)!, /main thread busy 50 %/);
  share = 1;
  busy = reads * 0.7e-3;
  assert.equal(auto.current(), rule(0.7e-3, 1), 'a dearer one, still under the assumed 1 ms, merges more');
  // Busy time per read above the assumed figure is per-byte and other work, not the request's: capped (a wider
  // gap would read more bytes per request, look dearer still, and widen again).
  busy = reads * 3e-3;
  assert.equal(auto.current(), rule(1e-3, 1), 'capped at the assumed figure');
  assert.match(why.at(-1)!, /1\.00 ms CPU per request \(assumed: main thread busy \/ reads is 3\.00 ms, an upper bound\), main thread busy 100 %/);
  busy = reads * 1;
  assert.equal(auto.current(), rule(1e-3, 1));
});

test('parseGapBytes: auto (the default) or bytes >= 0; anything else is refused', () => {
  assert.equal(parseGapBytes(undefined), 'auto');
  assert.equal(parseGapBytes('auto'), 'auto');
  assert.equal(parseGapBytes('16384'), 16384);
  assert.equal(parseGapBytes(0), 0);
  assert.throws(() => parseGapBytes('-1'), /--gap-bytes must be "auto" or a number of bytes >= 0, not "-1"/);
  assert.throws(() => parseGapBytes('lots'), /--gap-bytes/);
  assert.throws(() => parseGapBytes(''), /--gap-bytes/);
});
