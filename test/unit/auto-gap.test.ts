/**
 * --gap-bytes auto (src/pipeline/auto-gap.ts): the rule gap = B x (RTT / N + c) clamped to [4 KiB, 1 MiB],
 * the meter's round trip (shortest small read) and bandwidth (best 0.5 s window), the fallback until enough
 * is measured, and the option's parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoGap, chooseGap, LinkMeter, MAX_AUTO_GAP, MIN_AUTO_GAP, SETTLE_WINDOWS } from '../../src/pipeline/auto-gap.js';
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

test('AutoGap: the fallback until the meter knows, then the rule, reported once per change', () => {
  const { meter, read } = fakeMeter();
  const choices: number[] = [];
  const auto = new AutoGap(16 * 1024, 64, 1e-3, (gap) => choices.push(gap), meter, null);
  assert.equal(auto.current(), 16 * 1024);
  assert.equal(auto.last, 16 * 1024);
  // 35 MB/s over the first window, 20 ms round trips.
  for (let i = 0; i < 35; i++) read(17_500, i * 15, i * 15 + 20);
  read(17_500, 1000, 1020);
  const e = meter.estimate()!;
  const rule = chooseGap({ ...e, inFlight: 64, requestCpu: 1e-3 });
  assert.ok(rule < 16 * 1024, 'this slow first window asks for less than the fallback');
  assert.equal(auto.current(), 16 * 1024, 'not below the fallback before SETTLE_WINDOWS windows');
  // More windows of the same link: the rule's gap, reported once.
  for (let w = 1; w <= SETTLE_WINDOWS; w++) for (let i = 0; i < 35; i++) read(17_500, 1020 + w * 600 + i * 15, 1020 + w * 600 + i * 15 + 20);
  assert.ok(meter.windowCount >= SETTLE_WINDOWS);
  const want = chooseGap({ ...meter.estimate()!, inFlight: 64, requestCpu: 1e-3 });
  assert.equal(auto.current(), want);
  assert.equal(auto.current(), want);
  assert.deepEqual(choices, [16 * 1024, want]);
  assert.equal(auto.last, want);
});

test('AutoGap: once the meter knows, c is the main thread busy time over the reads, not the assumed figure', () => {
  const { meter, read } = fakeMeter();
  let busy = 0;
  const why: string[] = [];
  const auto = new AutoGap(
    16 * 1024,
    64,
    1e-3,
    (_gap, w) => why.push(w),
    meter,
    () => busy,
  );
  // Small reads of 20 ms round trips, then big ones at ~40 MB/s.
  for (let i = 0; i < 16; i++) read(10_000, i, i + 20);
  for (let i = 0; i < 35; i++) read(600_000, 40 + i * 15, 40 + i * 15 + 20);
  read(600_000, 1000, 1020);
  const e = meter.estimate()!;
  assert.ok(e.bandwidth > 20e6, String(e.bandwidth));
  const reads = 16 + 36;
  busy = reads * 0.2e-3; // 0.2 ms of main thread per read
  const cheap = auto.current();
  assert.equal(cheap, chooseGap({ ...e, inFlight: 64, requestCpu: 0.2e-3 }));
  assert.ok(cheap < chooseGap({ ...e, inFlight: 64, requestCpu: 1e-3 }), 'a cheaper request than assumed merges less');
  assert.match(why[0], /0\.20 ms CPU per request \(measured: main thread busy \/ reads\)/);
  busy = reads * 3e-3;
  assert.equal(auto.current(), chooseGap({ ...e, inFlight: 64, requestCpu: 3e-3 }), 'a dearer one merges more');
  busy = reads * 1; // clamped to 10 ms
  assert.equal(auto.current(), chooseGap({ ...e, inFlight: 64, requestCpu: 1e-2 }));
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
