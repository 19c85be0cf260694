import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tileFitsBytes, tileKey, type TileRef, type TileSpec } from '../desi/tile.js';
import type { TileStore } from '../storage/tile-store.js';
import type { TileRecord } from '../storage/journal-store.js';
import { discoverTiles, FatalRunError, UsageError } from '../pipeline/run.js';
import { sample as drawSample } from '../pipeline/sample.js';
import type { RunLog } from '../pipeline/log.js';
import { mb, pct, reduction } from '../pipeline/format.js';
import { DONE_STATUSES } from '../pipeline/journal.js';
import { redactSecrets } from '../util/secrets.js';
import { decide, type Checklist, type ChecklistItem } from './checklist.js';
import { atKillPoint, readJournal, runChild, runLogText, tileRecords, type ChildResult } from './kill-resume.js';
import { differingFiles, judgeResume, outputFiles, type ResumeVerdict } from './exactness.js';
import { project, projectionText, sampleFigures, throughputMBps, type Projection, type SampleFigures } from './projection.js';

/** The targets of the checklist (the seed's values are the defaults of the command's options). */
export interface Targets {
  /** Failed tiles over finished ones: at most this. */
  maxFailureRate: number;
  /** 1 − Parquet/FITS bytes: at least this. */
  minReduction: number;
  /** MB/s of FITS covered: at least this. */
  minThroughput: number;
}

/** What verify said, as the checklist reports it. */
export interface VerifyOutcome {
  ran: boolean;
  ok: boolean;
  exitCode?: number | null;
  findings: { kind: string; tile?: string; path?: string; detail: string }[];
  /** Why it did not run or did not answer as its contract says. */
  note?: string;
}

export interface PreflightOptions {
  store: TileStore;
  /** How the source is read: a local folder, S3 without signing, or S3 with the credential chain. */
  access: 'local' | 'anonymous' | 'signed';
  surveys: string[];
  programs: string[];
  tiles?: TileSpec[];
  sample: number;
  seed: number;
  batchSize: number;
  allowMissing?: boolean;
  /** An empty local folder of preflight's own: out/, clean/ and logs/ go there. */
  scratch: string;
  /** Options passed to every `desi-qad convert` child (source, S3, selection, knobs), without the ones preflight sets. */
  convertArgs: string[];
  /** `--tiles …` as given (passed to the runs of the sample, replaced for the clean comparison). */
  tilesArgs: string[];
  /** Starts `desi-qad ARGS` as a child of this install. */
  spawnCli: (args: string[]) => ChildProcess;
  /** The arguments of `desi-qad verify` besides --out (source, S3 options, --deep, --json). */
  verifyArgs: string[];
  /** Tiles verify re-reads from the source (its --deep). */
  deep: number;
  /** Tiles converted again, uninterrupted, and compared byte for byte with the resumed output. */
  compareTiles: number;
  targets: Targets;
  log: RunLog;
}

/** Everything preflight found: the checklist and the figures behind it (what `--json` prints). */
export interface PreflightReport extends Checklist {
  source: string;
  sample: { tiles: number; batches: number; batchSize: number; seed: number; keys: string[] } & SampleFigures;
  resume: ResumeVerdict & { compared: string[]; differing: string[] };
  verify: VerifyOutcome;
  projection: Projection;
}

/** A child `desi-qad` that refused its arguments or stopped fatally: preflight ends with its status. */
export class ChildFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The seed's dry run as one procedure: discover the whole set, draw the sample, convert it into the scratch
 * output and kill that conversion with SIGKILL in the middle of a batch, run it again to completion, check the
 * resume was exact (and a clean conversion of a few tiles gives the same bytes), run verify, and judge the
 * figures against the targets, with the projection for the whole set at the measured rate.
 * Throws FatalRunError / a store's error when the source cannot be listed or read, UsageError or ChildFailure
 * when a child refuses its options or stops fatally.
 */
export async function runPreflight(o: PreflightOptions): Promise<PreflightReport> {
  const log = o.log;
  const out = join(o.scratch, 'out');
  const logs = join(o.scratch, 'logs');
  // 1. The source: the whole discovered set (the projection's), then the sample the children will draw.
  const t0 = Date.now();
  const all = await discoverTiles({
    store: o.store,
    surveys: o.surveys,
    programs: o.programs,
    tiles: o.tiles,
    seed: o.seed,
    allowMissing: o.allowMissing,
    log,
  });
  const discoveryMs = Date.now() - t0;
  const tiles = drawSample(all, o.sample, o.seed);
  const read = await readCheck(o.store, tiles);
  const sourceItem: ChecklistItem = {
    id: 'source',
    name: 'Source reachable',
    target:
      o.access === 'local'
        ? 'the folder lists and reads'
        : o.access === 'anonymous'
          ? 'an unsigned (anonymous) list and read succeed'
          : 'a signed list and read succeed',
    value: `${o.access === 'local' ? 'listed' : o.access === 'anonymous' ? 'listed anonymously' : 'listed with signed requests'}: ${all.length} tiles (survey ${o.surveys.join(',')}, program ${o.programs.join(',')}); read ${read}`,
    ok: true,
  };
  log.info(`Discovered ${all.length} tiles; sample of ${tiles.length} (seed ${o.seed}); ${sourceItem.value}`);

  // 2. The sample's conversion, killed in the middle of a batch, then resumed to its end.
  const runArgs = (dir: string, extra: string[]) => ['convert', ...o.convertArgs, ...extra, '--out', dir, '--log-dir', logs, '--quiet', '--shard', 'none'];
  const sampleArgs = runArgs(out, [...o.tilesArgs, '--sample', String(o.sample), '--seed', String(o.seed), '--batch-size', String(o.batchSize)]);
  const batches = Math.ceil(tiles.length / o.batchSize);
  // Each run's conversion time starts at its "Ready to process" line (its discovery and resume check are
  // done): the seed's speeds are per batch, without discovery, which the projection adds once.
  const readyAt: number[] = [];
  const follow = async (n: number, kill: boolean): Promise<boolean> => {
    if (!kill && readyAt.length >= n) return false; // nothing more to look for in this run
    const text = await runLogText(logs);
    if (readyAt.length < n && text.split('Ready to process ').length - 1 >= n) readyAt.push(Date.now());
    if (!kill) return false;
    return atKillPoint({ log: text, journaled: new Set(tileRecords(await readJournal(out)).map((r) => r.tile)).size, sample: tiles.length, batches });
  };
  const first = await runChild(() => o.spawnCli(sampleArgs), { poll: () => follow(1, true) });
  log.info(`First conversion: ${first.killed ? 'killed with SIGKILL' : exitText(first)} after ${(first.wallMs / 1000).toFixed(2)} s`);
  if (!first.killed) childOutcome('convert', first);
  const firstReady = readyAt[0];
  const second = await runChild(() => o.spawnCli(sampleArgs), { poll: () => follow(2, false) });
  log.info(`Resumed conversion: ${exitText(second)} after ${(second.wallMs / 1000).toFixed(2)} s`);
  const convMs = (r: ChildResult, ready: number | undefined) => (ready !== undefined && ready < r.endedAt ? r.endedAt - ready : r.wallMs);
  const conversionMs = convMs(first, firstReady) + convMs(second, readyAt[1]);
  childOutcome('convert', second);

  // 3. Was the resume exact?
  const records = await readJournal(out);
  const runIds = records.filter((r) => r.type === 'run').map((r) => r.run);
  const keys = tiles.map((t) => tileKey(t));
  const verdict = judgeResume({
    sample: keys,
    records,
    killed: first.killed,
    firstExit: exitText(first),
    resumedLog: await runLogText(logs, runIds[1]),
    files: await outputFiles(out),
  });
  const finals = finalRecords(tileRecords(records), keys);
  // A clean, uninterrupted conversion of a few tiles (one done before the kill first) gives the same bytes.
  const compared = compareChoice(finals, tileRecords(records), runIds[0], tiles, o.compareTiles);
  let differing: string[] = [];
  if (compared.length > 0) {
    const clean = join(o.scratch, 'clean');
    const specs = compared.map((r) => r.tile).join(',');
    const c = await runChild(() => o.spawnCli(runArgs(clean, ['--tiles', specs, '--batch-size', String(o.batchSize)])));
    log.info(`Clean conversion of ${specs}: ${exitText(c)}`);
    differing =
      c.code === 0
        ? await differingFiles(
            out,
            clean,
            compared.map((r) => r.path!),
          )
        : compared.map((r) => r.path!);
    if (differing.length > 0)
      verdict.problems.push(`${differing.length} of ${compared.length} files differ from a clean conversion of the same tiles (e.g. ${differing[0]})`);
    verdict.ok = verdict.problems.length === 0;
  }

  // 4. verify --deep.
  const verify = await runVerify(o, out);

  // 5. The figures, the targets, the projection.
  const covered = tileRecords(records).reduce((s, r) => s + (r.fitsBytes ?? 0), 0);
  const figures = sampleFigures(finals, covered, conversionMs);
  const projection = project(all, figures, discoveryMs);
  const items = checklistItems(o, sourceItem, tiles, finals, figures, verdict, compared.length, verify, projection);
  const checklist = decide(items);
  return {
    ...checklist,
    source: o.store.root,
    sample: { tiles: tiles.length, batches, batchSize: o.batchSize, seed: o.seed, keys, ...figures },
    resume: { ...verdict, compared: compared.map((r) => r.tile), differing },
    verify,
    projection,
  };
}

function checklistItems(
  o: PreflightOptions,
  sourceItem: ChecklistItem,
  tiles: TileRef[],
  finals: TileRecord[],
  f: SampleFigures,
  v: ResumeVerdict,
  compared: number,
  verify: VerifyOutcome,
  p: Projection,
): ChecklistItem[] {
  const t = o.targets;
  const status = new Map(finals.map((r) => [r.tile, r.status]));
  const batches: TileRef[][] = [];
  for (let i = 0; i < tiles.length; i += o.batchSize) batches.push(tiles.slice(i, i + o.batchSize));
  const completed = batches.filter((b) => b.every((x) => DONE_STATUSES.has(status.get(tileKey(x)) ?? 'failed'))).length;
  const finished = f.done + f.failed;
  const failureRate = finished > 0 ? f.failed / finished : 1;
  const red = reduction(f.fitsBytes, f.parquetBytes);
  const mbps = throughputMBps(f);
  const minBatches = 1 - t.maxFailureRate;
  return [
    sourceItem,
    {
      id: 'batches',
      name: 'Batches completed',
      target: `at least ${pct(minBatches)} of the batches (1 − the failure-rate target)`,
      value: `${completed}/${batches.length} batches of up to ${o.batchSize} tiles with every tile ok or empty`,
      ok: batches.length > 0 && completed / batches.length >= minBatches,
    },
    {
      id: 'failureRate',
      name: 'Failure rate',
      target: `at most ${pct(t.maxFailureRate)}`,
      value: `${pct(failureRate)} (${f.failed} failed of ${finished} tiles${f.missing > 0 ? `; ${f.missing} missing a coadd or redrock, not counted` : ''})`,
      ok: finished > 0 && failureRate <= t.maxFailureRate,
    },
    {
      id: 'reduction',
      name: 'Data reduction',
      target: `at least ${pct(t.minReduction)}`,
      value: `${pct(red)} (${mb(f.fitsBytes)} MB FITS → ${mb(f.parquetBytes)} MB Parquet)`,
      ok: f.fitsBytes > 0 && red >= t.minReduction,
    },
    {
      id: 'throughput',
      name: 'Throughput',
      target: `at least ${t.minThroughput} MB/s of FITS covered`,
      value: `${mbps.toFixed(2)} MB/s (${mb(f.coveredBytes)} MB in ${(f.wallMs / 1000).toFixed(2)} s of conversion in both runs, discovery excluded; fetched ${mb(f.fetchedBytes)} MB)`,
      ok: f.wallMs > 0 && mbps >= t.minThroughput,
    },
    {
      id: 'resume',
      name: 'Resume exact',
      target: 'killed mid-batch, resumed: done tiles skipped, every tile once, files as journaled',
      value: v.ok
        ? `killed (SIGKILL) after ${v.journaledBeforeKill} of ${tiles.length} tiles; the resume found ${v.foundCompleted ?? '?'} completed, journaled the other ${v.resumedJournaled} once each; files as journaled${compared > 0 ? `; ${compared} tiles byte-identical to a clean conversion` : ''}`
        : v.problems.join('; '),
      ok: v.ok,
    },
    {
      id: 'verify',
      name: 'Verify',
      target: `desi-qad verify --deep ${o.deep} finds nothing`,
      value: !verify.ran
        ? (verify.note ?? 'not run')
        : verify.ok
          ? 'no findings'
          : `${verify.findings.length} findings${verify.findings[0] ? ` (e.g. ${findingText(verify.findings[0])})` : ''}${verify.note ? `; ${verify.note}` : ''}`,
      ok: verify.ran && verify.ok,
    },
    { id: 'projection', name: 'Full run', target: '', value: projectionText(p) },
  ];
}

function findingText(x: VerifyOutcome['findings'][number]): string {
  return `${x.kind}${x.tile ? ` ${x.tile}` : x.path ? ` ${x.path}` : ''}: ${x.detail}`;
}

/** The latest record of each sampled tile (the journal's rule: the latest wins). */
function finalRecords(records: TileRecord[], keys: string[]): TileRecord[] {
  const latest = new Map<string, TileRecord>();
  for (const r of records) latest.set(r.tile, r);
  return keys.map((k) => latest.get(k)).filter((r): r is TileRecord => r !== undefined);
}

/** Up to n ok tiles to convert again: the smallest done before the kill first, then the smallest others. */
function compareChoice(finals: TileRecord[], records: TileRecord[], killedRun: string | undefined, tiles: TileRef[], n: number): TileRecord[] {
  if (n <= 0) return [];
  const size = new Map(tiles.map((t) => [tileKey(t), tileFitsBytes(t)]));
  const ok = finals.filter((r) => r.status === 'ok' && r.path !== undefined).sort((a, b) => (size.get(a.tile) ?? 0) - (size.get(b.tile) ?? 0));
  const beforeKill = new Set(records.filter((r) => r.run === killedRun && r.status === 'ok').map((r) => r.tile));
  const first = ok.find((r) => beforeKill.has(r.tile));
  return [...(first ? [first] : []), ...ok.filter((r) => r !== first)].slice(0, n);
}

/** Reads the first block of the smallest file of the sample: a read, not only a listing, must work. */
async function readCheck(store: TileStore, tiles: TileRef[]): Promise<string> {
  const refs = tiles.flatMap((t) => [t.coadd, t.redrock]).filter((r) => r !== undefined);
  if (refs.length === 0) throw new FatalRunError(`the sampled tiles of ${store.root} have no coadd or redrock file to read`);
  const ref = refs.reduce((a, b) => (b.size < a.size ? b : a));
  const src = await store.open(ref);
  try {
    const n = Math.min(2880, src.byteLength);
    const head = await src.slice(0, n);
    const fits = new TextDecoder('latin1').decode(head.subarray(0, 6)) === 'SIMPLE';
    return `${n} bytes of ${store.displayName(ref)}${fits ? '' : ' (not a FITS header: its tile will fail)'}`;
  } finally {
    await src.close();
  }
}

/** `desi-qad verify --out OUT …`: its JSON when it answers per its contract (exit 0 or 1), a note otherwise. */
async function runVerify(o: PreflightOptions, out: string): Promise<VerifyOutcome> {
  const r = await runChild(() => o.spawnCli(['verify', '--out', out, ...o.verifyArgs]));
  o.log.info(`verify: ${exitText(r)}`);
  if (r.code === 0 || r.code === 1) {
    try {
      const doc = JSON.parse(r.stdout) as { ok?: unknown; findings?: unknown };
      const findings = Array.isArray(doc.findings) ? (doc.findings as VerifyOutcome['findings']) : [];
      const ok = doc.ok === true && r.code === 0;
      return { ran: true, ok, exitCode: r.code, findings, ...(ok === (r.code === 0) ? {} : { note: `exit ${r.code} with "ok": ${String(doc.ok)}` }) };
    } catch {
      return { ran: true, ok: false, exitCode: r.code, findings: [], note: `its output is not one JSON document (exit ${r.code})` };
    }
  }
  return { ran: true, ok: false, exitCode: r.code, findings: [], note: `verify could not run (${exitText(r)}): ${firstLine(r.stderr)}` };
}

/** A child's stop that preflight cannot judge past: its usage error (2) or fatal stop (4) becomes preflight's. */
function childOutcome(what: string, r: ChildResult): void {
  if (r.code === 0 || r.code === 1 || r.code === 3) return;
  const why = lastLines(r.stderr, 5) || exitText(r);
  if (r.code === 2) throw new UsageError(`the ${what} child refused its options: ${why}`);
  throw new ChildFailure(4, `the ${what} child stopped (${exitText(r)}): ${why}`);
}

function exitText(r: ChildResult): string {
  return r.code === null ? `by signal ${r.signal ?? '?'}` : `with exit status ${r.code}`;
}

function firstLine(s: string): string {
  return redactSecrets(s.split('\n').find((l) => l.trim() !== '') ?? '');
}

function lastLines(s: string, n: number): string {
  return redactSecrets(
    s
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-n)
      .join('\n'),
  );
}
