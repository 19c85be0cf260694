/**
 * One measurement of the costs-at-scale section, in a process of its own so that its peak RSS is its own:
 *
 *   node cost-probe.js '{"backend":"local"|"s3", "tree":…, "out":…, "endpoint"?:…, "s3pid"?:N}'
 *
 * does what a resumed run does before its first tile: discovery of the tree, opening the journal, and the
 * resume check (which tiles are left), each timed, and prints one JSON line: the seconds of each step, the
 * tiles found and left, the requests made, this process's CPU seconds (user + system) and s3rver's during
 * each step (S3), and this process's
 * peak RSS (VmHWM).
 */
import { readFileSync } from 'node:fs';
import { tileKey } from '../src/desi/layout.js';
import { Journal } from '../src/pipeline/journal.js';
import { checkResume } from '../src/pipeline/resume-check.js';
import { LOCAL_S3_CREDENTIALS } from '../src/dev/local-s3.js';
import { LocalJournalStore } from '../src/storage/journal-local.js';
import { LocalTileStore } from '../src/storage/local-tree.js';
import { LocalOutputStore } from '../src/storage/output-local.js';
import { journalUrlFor, S3JournalStore } from '../src/storage/s3-journal.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { S3OutputStore } from '../src/storage/s3-output.js';
import { S3TileStore } from '../src/storage/s3-tree.js';
import { join } from 'node:path';
import { COST_PROGRAMS, COST_SELECTION, COST_SURVEYS, cpuSeconds, type ListingTime, type ProbeResult } from './cost-fixture.js';

interface ProbeArgs {
  backend: 'local' | 's3';
  tree: string;
  out: string;
  endpoint?: string;
  s3pid?: number;
  listing?: boolean;
}

/** An S3 output whose listFiles is the one sequential walk (listFilesFlat). */
class FlatListing extends S3OutputStore {
  override listFiles(): Promise<Map<string, number>> {
    return this.listFilesFlat();
  }
}

/**
 * `{"listing": true, "out", "endpoint", "s3pid"}`: the output's listFiles() split and flat (listFilesFlat),
 * alternately, twice each; prints the second of each (the first pays the JIT's warm-up).
 */
async function listingOnly(a: ProbeArgs): Promise<void> {
  const client = makeS3Client({ endpoint: a.endpoint, credentials: LOCAL_S3_CREDENTIALS, socketTimeoutMs: 300_000 });
  const result: Record<string, ListingTime> = {};
  for (const how of ['split', 'flat', 'split', 'flat'] as const) {
    const out = new S3OutputStore(client, a.out);
    const c0 = cpuSeconds(a.s3pid);
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    const files = how === 'split' ? await out.listFiles() : await out.listFilesFlat();
    const u = process.cpuUsage(u0);
    result[how] = {
      files: files.size,
      sec: (performance.now() - t0) / 1000,
      cpuSec: (u.user + u.system) / 1e6,
      serverCpuSec: cpuSeconds(a.s3pid) - c0,
      listRequests: out.stats.listRequests,
    };
  }
  client.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]) as ProbeArgs;
  if (a.listing) return listingOnly(a);
  const filter = { surveys: COST_SURVEYS, programs: COST_PROGRAMS };
  const client = a.backend === 's3' ? makeS3Client({ endpoint: a.endpoint, credentials: LOCAL_S3_CREDENTIALS, socketTimeoutMs: 300_000 }) : undefined;
  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; sec: number; cpu: number; own: number }> => {
    const c0 = cpuSeconds(a.s3pid);
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const u = process.cpuUsage(u0);
    return { value, sec: (performance.now() - t0) / 1000, cpu: cpuSeconds(a.s3pid) - c0, own: (u.user + u.system) / 1e6 };
  };
  const source = client ? new S3TileStore(client, a.tree) : new LocalTileStore(a.tree);
  const d = await timed(() => source.discover(filter));
  const journalStore = client ? new S3JournalStore(client, journalUrlFor(a.out)) : new LocalJournalStore(join(a.out, '_desi-qad', 'journal'));
  const j = await timed(() => Journal.open(journalStore));
  const out = client ? new S3OutputStore(client, a.out) : new LocalOutputStore(a.out);
  const r = await timed(() => checkResume({ tiles: d.value.tiles, done: j.value.doneRecords(), out, selection: COST_SELECTION }));
  // S3: the same check again over the one sequential walk of every page the check made before the listing
  // was split by folder, for comparison (after the split one, so it is not the one that found a cold cache).
  const flatOut = client ? new FlatListing(client, a.out) : undefined;
  const rf = flatOut
    ? await timed(() => checkResume({ tiles: d.value.tiles, done: j.value.doneRecords(), out: flatOut, selection: COST_SELECTION }))
    : undefined;
  if (rf && rf.value.done.size !== r.value.done.size)
    throw new Error(`cost-probe: the flat listing found ${rf.value.done.size} done, the split ${r.value.done.size}`);
  const left = d.value.tiles.filter((t) => !r.value.done.has(tileKey(t))).length;
  let records = 0;
  for (const t of d.value.tiles) if (j.value.latestRecord(tileKey(t))) records += 1;
  await j.value.close();
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const result: ProbeResult = {
    tiles: d.value.tiles.length,
    records,
    left,
    discoverSec: d.sec,
    journalSec: j.sec,
    resumeSec: r.sec,
    listRequests:
      (source instanceof S3TileStore ? source.stats.listRequests : 0) + (journalStore instanceof S3JournalStore ? journalStore.stats.listRequests : 0),
    s3rverCpuSec: { discover: d.cpu, journal: j.cpu, resume: r.cpu },
    cpuSec: { discover: d.own, journal: j.own, resume: r.own },
    resumeListRequests: out instanceof S3OutputStore ? out.stats.listRequests : 0,
    flat: rf && flatOut ? { sec: rf.sec, cpuSec: rf.own, s3rverCpuSec: rf.cpu, listRequests: flatOut.stats.listRequests } : undefined,
    peakRssMB: Number(hwm?.[1] ?? 0) / 1024,
  };
  if (r.value.damaged.length > 0) process.stderr.write(`cost-probe: ${r.value.damaged.length} damaged, e.g. ${r.value.damaged[0].why}\n`);
  client?.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`cost-probe failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
