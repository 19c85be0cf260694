/**
 * The fixtures of the bench's costs-at-scale section, for N tiles: a local healpix tree of tiny files, a
 * finished-looking --out beside it (a tiny real Parquet file per done tile, its footer naming the tile, and
 * a journal of N records in one run's JSONL file), and the same tree and output as objects of s3rver's
 * file store (the output's journal compacted, as a run's close() leaves it: one segment object holding the
 * N records under the names S3JournalStore gives them).
 *
 * The records are written directly, not by converting N tiles: what resume and status cost depends on the
 * number of records, files and listings, not on how the files were made. s3rver's objects are written into
 * its folder directly too (its own layout: `{bucket}/{key}._S3rver_object` and its `.md5`), because putting
 * 160,000 objects through its HTTP API would take longer than the whole section; everything measured is
 * then read through HTTP as a run reads S3.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { coaddName, HEALPIX_PIXELS, outputPath, redrockName, tileDir, tileKey, type TileId } from '../src/desi/layout.js';
import { sourceFingerprint } from '../src/desi/fingerprint.js';
import { FOOTER_KEY, type FooterInfo } from '../src/desi/schema.js';
import type { TileRef } from '../src/desi/tile.js';
import { buildTable, encodeParquet } from '../src/parquet/index.js';
import type { JournalRecord, RunRecord, TileRecord } from '../src/storage/journal-store.js';
import { recordName, segmentOf, timeStamp } from '../src/storage/s3-journal.js';
import { mapLimit } from '../src/util/concurrency.js';

/** The survey/program pairs the tiles are spread over (a 9-pair filter: sv3/backup is asked for and empty). */
const PAIRS: readonly [string, string][] = [
  ['main', 'dark'],
  ['main', 'bright'],
  ['main', 'backup'],
  ['sv1', 'dark'],
  ['sv1', 'bright'],
  ['sv1', 'backup'],
  ['sv3', 'dark'],
  ['sv3', 'bright'],
];
export const COST_SURVEYS = ['main', 'sv1', 'sv3'];
export const COST_PROGRAMS = ['dark', 'bright', 'backup'];
export const COST_SELECTION = 'bench-costs: spectype=QSO';
export const COST_BUCKET = 'costs';
const RUN = '20261203T100000-4242-0badc0de';

/** N tiles spread evenly over the pairs and, within each, evenly over the sky's 49,152 pixels. */
export function costTiles(n: number): TileId[] {
  const out: TileId[] = [];
  PAIRS.forEach(([survey, program], p) => {
    const count = Math.floor(n / PAIRS.length) + (p < n % PAIRS.length ? 1 : 0);
    for (let j = 0; j < count; j++) out.push({ survey, program, healpix: Math.floor(((j + 0.5) * HEALPIX_PIXELS) / count) });
  });
  return out;
}

/** What the journal says of tile i: every 50th failed, every 97th never started, the rest ok. */
export function tileFate(i: number): 'ok' | 'failed' | 'none' {
  if (i % 97 === 3) return 'none';
  if (i % 50 === 7) return 'failed';
  return 'ok';
}

export interface CostFixture {
  tiles: number;
  /** Local tree, local --out (its journal under `_desi-qad/journal/`). */
  tree: string;
  out: string;
  /** Prefixes in the bucket COST_BUCKET of the s3rver folder `s3dir`. */
  s3dir: string;
  s3Tree: string;
  s3Out: string;
  /** Tiles the journal leaves to do (failed or without a record). */
  expectedLeft: number;
  /** Files and objects written, and the seconds it took (0 from the cache). */
  files: number;
  objects: number;
  buildSec: number;
}

/** Builds (once: a marker says it is complete) the fixture of N tiles under `root/n{N}`, s3rver's under `s3dir`. */
export async function costFixture(root: string, s3dir: string, n: number): Promise<CostFixture> {
  const base = join(root, `n${n}`);
  const fx: CostFixture = {
    tiles: n,
    tree: join(base, 'tree'),
    out: join(base, 'out'),
    s3dir,
    s3Tree: `n${n}/tree`,
    s3Out: `n${n}/out`,
    expectedLeft: 0,
    files: 0,
    objects: 0,
    buildSec: 0,
  };
  const marker = join(base, 'fixture.json');
  // v2: the S3 journal is one segment (compacted), not one object per record.
  const s3marker = join(s3dir, `.n${n}-done-v2`);
  if (existsSync(marker) && existsSync(s3marker)) return { ...fx, ...(JSON.parse(await readFile(marker, 'utf8')) as Partial<CostFixture>), buildSec: 0 };
  process.stderr.write(`bench: costs: writing the fixture of ${n} tiles (local and s3rver's folder, once)...\n`);
  const t0 = performance.now();
  await rm(base, { recursive: true, force: true });
  await rm(join(s3dir, COST_BUCKET, `n${n}`), { recursive: true, force: true });
  const ids = costTiles(n);
  const s3obj = async (key: string, body: string | Uint8Array): Promise<string> => {
    const path = join(s3dir, COST_BUCKET, ...key.split('/').slice(0, -1), `${key.split('/').at(-1)}._S3rver_object`);
    await mkdir(dirname(path), { recursive: true });
    const md5 = createHash('md5').update(body).digest('hex');
    await writeFile(path, body);
    await writeFile(`${path}.md5`, md5);
    fx.objects += 1;
    return md5;
  };

  // The tree: a coadd and a redrock of a few bytes per tile, locally and in s3rver.
  const refs = await mapLimit(ids, 16, async (t) => {
    const rel = tileDir(t);
    const dir = join(fx.tree, ...rel.split('/'));
    await mkdir(dir, { recursive: true });
    const tile: TileRef = { ...t };
    const s3tile: TileRef = { ...t };
    for (const [role, name] of [
      ['coadd', coaddName(t)],
      ['redrock', redrockName(t)],
    ] as const) {
      const text = `${role} ${tileKey(t)}\n`;
      const path = join(dir, name);
      await writeFile(path, text);
      const st = await stat(path);
      tile[role] = { path, size: st.size, mtimeMs: st.mtimeMs };
      const key = `${fx.s3Tree}/${rel}/${name}`;
      s3tile[role] = { path: key, size: st.size, etag: await s3obj(key, text) };
      fx.files += 1;
    }
    return { tile, s3tile };
  });

  // The output: a journal of N tile records (after one run record), a Parquet file per ok tile.
  const t1 = Date.parse('2026-12-03T10:00:00.000Z');
  const runRec: RunRecord = { type: 'run', run: RUN, time: new Date(t1).toISOString(), version: 'desi-qad bench', selection: COST_SELECTION, source: fx.tree };
  const local: JournalRecord[] = [runRec];
  const remote: JournalRecord[] = [{ ...runRec, source: `s3://${COST_BUCKET}/${fx.s3Tree}` }];
  const parquet = await mapLimit(ids, 4, async (t, i) => {
    if (tileFate(i) !== 'ok') return undefined;
    const rows = 1 + (i % 5);
    const info: FooterInfo = { version: 'desi-qad bench', selection: COST_SELECTION, tile: tileKey(t), sources: [], provenance: { coadd: {}, redrock: {} } };
    const table = buildTable(rows, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from({ length: rows }, (_, k) => BigInt(i * 10 + k)) },
    ]);
    const bytes = encodeParquet(table, { [FOOTER_KEY]: JSON.stringify(info) });
    const rel = outputPath(t);
    const path = join(fx.out, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    await s3obj(`${fx.s3Out}/${rel}`, bytes);
    fx.files += 1;
    return { rows, bytes: bytes.byteLength };
  });
  ids.forEach((t, i) => {
    const fate = tileFate(i);
    if (fate === 'none') {
      fx.expectedLeft += 1;
      return;
    }
    const time = new Date(t1 + 1 + i).toISOString();
    const { tile, s3tile } = refs[i];
    const fitsBytes = (tile.coadd?.size ?? 0) + (tile.redrock?.size ?? 0);
    const rec: TileRecord =
      fate === 'ok'
        ? {
            type: 'tile',
            tile: tileKey(t),
            status: 'ok',
            time,
            run: RUN,
            rows: parquet[i]?.rows,
            fitsBytes,
            fetchedBytes: fitsBytes,
            requests: 2,
            parquetBytes: parquet[i]?.bytes,
            path: outputPath(t),
          }
        : { type: 'tile', tile: tileKey(t), status: 'failed', time, run: RUN, fitsBytes, errorClass: 'FITS_BAD', error: `coadd of ${tileKey(t)}: bad header` };
    if (fate === 'failed') fx.expectedLeft += 1;
    local.push({ ...rec, sources: sourceFingerprint(tile) });
    remote.push({ ...rec, sources: sourceFingerprint(s3tile) });
  });
  const journalDir = join(fx.out, '_desi-qad', 'journal');
  await mkdir(journalDir, { recursive: true });
  await writeFile(join(journalDir, `${RUN}.jsonl`), local.map((r) => JSON.stringify(r) + '\n').join(''));
  fx.files += 1;
  // The S3 journal as a run's close() leaves it: compacted into one segment object.
  const named = new Map(remote.map((rec, seq) => [recordName(rec, timeStamp(rec.time), '0badc0de', seq), rec] as const));
  const segment = segmentOf(named, [], '0badc0de', remote.length);
  await s3obj(`${fx.s3Out}/_desi-qad/journal/${segment.name}`, segment.body);
  fx.buildSec = (performance.now() - t0) / 1000;
  const { buildSec, ...kept } = fx;
  await writeFile(marker, JSON.stringify({ ...kept, built: new Date().toISOString(), buildSecOnce: buildSec }));
  await writeFile(s3marker, 'yes');
  return fx;
}

/** What bench/cost-probe.ts prints: one resumed run's start on one backend. */
export interface ProbeResult {
  tiles: number;
  records: number;
  left: number;
  discoverSec: number;
  journalSec: number;
  resumeSec: number;
  listRequests: number;
  s3rverCpuSec: { discover: number; journal: number; resume: number };
  /** The probe's own CPU seconds (user + system) in each step: the machine is shared, wall times are not. */
  cpuSec: { discover: number; journal: number; resume: number };
  /** LIST requests of the resume check (S3). */
  resumeListRequests?: number;
  /** S3: the same resume check over one sequential walk of every page (listFilesFlat), run after it. */
  flat?: { sec: number; cpuSec: number; s3rverCpuSec: number; listRequests: number };
  peakRssMB: number;
}

/** One listFiles() of an output (bench/cost-probe.ts's listing mode). */
export interface ListingTime {
  files: number;
  sec: number;
  cpuSec: number;
  serverCpuSec: number;
  listRequests: number;
}

/** user + system seconds of a process, from /proc/PID/stat. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100 Hz on Linux)
}
