/**
 * The "bad input" promises, measured on the hostile-FITS corpus (test/hostile/): `desi-qad convert` runs as a
 * real process over 150-odd broken tiles, once with `--fetch ranges` and once with `--fetch full`, and every
 * tile gets a journal record whose outcome is one the index calls right, whose message names the file and
 * the HDU; the run finishes (exit 1: some tiles failed) without the process or its worker pool dying, in
 * bounded time and memory; both fetch modes end every tile the same way.
 *
 * Cases the converter gets wrong today are listed in KNOWN_BUGS and reported as `todo` (they run, and say
 * what they got, but do not fail the suite); remove an entry once its bug is fixed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, collect, latestLog, REPO, type CliResult, readLocalJournal } from '../helpers/cli.js';
import { caseFileName, loadHostileIndex, materializeHostileTree, type HostileCase } from '../hostile/corpus.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { KNOWN_ERROR_CLASSES } from '../helpers/fuzz.js';

/** Peak resident memory allowed to the whole run (a reader allocating from a claimed size would blow it). */
const MAX_RSS_BYTES = 1.5 * 1024 ** 3;
/** A hang guard, not a speed test: the run takes a few seconds; past this it is killed and the test fails. */
const RUN_TIMEOUT_MS = 180_000;

/** Case id -> the bug that makes it fail today. */
const KNOWN_BUGS: Record<string, string> = {};

/** Whether `text` holds `name` as a whole word (B_FLUX, not B_FLUXES; "HDU #1", not "HDU #12"). */
function mentions(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`).test(text);
}

interface RunResult extends CliResult {
  out: string;
  logs: string;
  /** Peak RSS of the desi-qad process in bytes, or undefined where it cannot be measured. */
  peakRss?: number;
  rssHow: string;
  timedOut: boolean;
  /** The latest journal record of each tile. */
  latest: Map<string, TileRecord>;
}

const MODES = ['ranges', 'full'] as const;
type Mode = (typeof MODES)[number];

let cases: HostileCase[] = [];
const runs = {} as Record<Mode, RunResult>;
let work: string;

/** Runs `desi-qad ARGS`, measuring its peak RSS with /usr/bin/time, or else by sampling /proc/PID/status VmHWM. */
async function runMeasured(
  args: string[],
  rssFile: string,
): Promise<Pick<RunResult, 'code' | 'signal' | 'stdout' | 'stderr' | 'peakRss' | 'rssHow' | 'timedOut'>> {
  const time = '/usr/bin/time';
  const useTime = existsSync(time);
  const child = useTime
    ? spawn(time, ['-o', rssFile, '-f', '%M', process.execPath, BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let sampled = 0;
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        readFile(`/proc/${child.pid}/status`, 'utf8')
          .then((s) => {
            const m = /VmHWM:\s+(\d+) kB/.exec(s);
            if (m) sampled = Math.max(sampled, Number(m[1]) * 1024);
          })
          .catch(() => undefined);
      }, 25);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, RUN_TIMEOUT_MS);
  const r = await collect(child);
  clearTimeout(timer);
  if (sampler) clearInterval(sampler);
  let peakRss: number | undefined;
  let rssHow: string;
  if (useTime) {
    const kb = Number((await readFile(rssFile, 'utf8').catch(() => '')).trim().split('\n').pop());
    peakRss = Number.isFinite(kb) && kb > 0 ? kb * 1024 : undefined;
    rssHow = '/usr/bin/time %M';
  } else {
    peakRss = sampled > 0 ? sampled : undefined;
    rssHow = 'VmHWM sampled every 25 ms';
  }
  return { ...r, peakRss, rssHow, timedOut };
}

async function latestRecords(out: string): Promise<Map<string, TileRecord>> {
  const latest = new Map<string, TileRecord>();
  for (const rec of await readLocalJournal(out)) if (rec.type === 'tile') latest.set(rec.tile, rec);
  return latest;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-hostile-'));
  const tree = join(work, 'tree');
  cases = await materializeHostileTree(tree);
  // The same tree read by ranges (the default) and as whole files (the seed's way): one reader, two strategies.
  for (const mode of MODES) {
    const out = join(work, `out-${mode}`);
    const logs = join(work, `logs-${mode}`);
    const args = [
      'convert',
      '--source',
      tree,
      '--out',
      out,
      '--log-dir',
      logs,
      '--survey',
      'main',
      '--program',
      'dark',
      '--threads',
      '2',
      '--max-failure-rate',
      '1',
      '--fetch',
      mode,
      '--quiet',
    ];
    const r = await runMeasured(args, join(work, `maxrss-${mode}.txt`));
    runs[mode] = { ...r, out, logs, latest: await latestRecords(out) };
  }
});

test('the corpus index is consistent: one tile per case, distinct ids, right-outcome lists from known classes', async () => {
  const index = await loadHostileIndex();
  assert.ok(index.cases.length >= 100, `${index.cases.length} cases`);
  assert.equal(new Set(index.cases.map((c) => c.tile)).size, index.cases.length, 'one tile per case');
  assert.equal(new Set(index.cases.map((c) => c.id)).size, index.cases.length, 'distinct ids');
  for (const c of index.cases) {
    assert.ok(c.expect.length > 0, c.id);
    const outcome = c.expect.length === 1 && (c.expect[0] === 'ok' || c.expect[0] === 'empty');
    if (!outcome) {
      for (const e of c.expect) assert.ok(KNOWN_ERROR_CLASSES.has(e), `${c.id}: ${e} is a FitsError/DesiError code`);
      assert.ok(c.message && c.message.hdu.length > 0, `${c.id}: says what the message must name`);
    }
  }
  for (const id of Object.keys(KNOWN_BUGS))
    assert.ok(
      index.cases.some((c) => c.id === id),
      `KNOWN_BUGS entry ${id} is a case`,
    );
});

for (const mode of MODES) {
  test(`--fetch ${mode}: the run over the hostile tree finishes with exit 1, neither the process nor the pool dying`, async () => {
    const run = runs[mode];
    assert.equal(run.timedOut, false, `the run did not finish within ${RUN_TIMEOUT_MS / 1000} s (a hang?)`);
    assert.equal(run.signal, null, `killed by ${run.signal}; stderr: ${run.stderr.slice(-2000)}`);
    assert.equal(run.code, 1, `exit 1 = finished with failed tiles; stderr: ${run.stderr.slice(-2000)}`);
    const log = await latestLog(run.logs);
    assert.match(log, /Run finished with \d+ failed and \d+ missing-source tiles; exit status 1\./);
    assert.doesNotMatch(log, /Run aborted/);
    assert.equal(run.latest.size, cases.length, 'every tile of the corpus has a journal record, and no other tile does');
    for (const c of cases) assert.ok(run.latest.has(c.tile), `${c.id} (${c.tile}) has a journal record`);
  });

  test(`--fetch ${mode}: the run stays under the memory bound`, (t) => {
    const run = runs[mode];
    if (run.peakRss === undefined) {
      t.skip('peak RSS cannot be measured here (no /usr/bin/time, no /proc)');
      return;
    }
    t.diagnostic(`peak RSS ${(run.peakRss / 2 ** 20).toFixed(0)} MiB (${run.rssHow})`);
    assert.ok(run.peakRss < MAX_RSS_BYTES, `peak RSS ${(run.peakRss / 2 ** 20).toFixed(0)} MiB exceeds ${(MAX_RSS_BYTES / 2 ** 20).toFixed(0)} MiB`);
  });

  test(`--fetch ${mode}: every hostile tile ends as the index says, its message naming the file and the HDU`, async (t) => {
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const todo = KNOWN_BUGS[c.id];
      await t.test(`${c.id} (${c.tile}): ${c.case}`, todo ? { todo } : {}, () => {
        const r = runs[mode].latest.get(c.tile);
        assert.ok(r, 'journaled');
        const got = r.status === 'failed' ? r.errorClass : r.status;
        assert.ok(c.expect.includes(got ?? ''), `expected ${c.expect.join(' or ')}, got ${got}: ${r.error ?? ''}`);
        if (r.status !== 'failed') return;
        assert.ok(c.message, 'the index says what the message names');
        const file = caseFileName(c, c.message.file);
        assert.ok(r.error?.includes(file), `the message names ${file}: ${r.error}`);
        assert.ok(
          c.message.hdu.some((h) => mentions(r.error ?? '', h)),
          `the message names the HDU (${c.message.hdu.join(' or ')}): ${r.error}`,
        );
      });
    }
  });
}

test('--fetch full and --fetch ranges end every tile the same way, with the same message', () => {
  const differ: string[] = [];
  for (const c of cases) {
    if (KNOWN_BUGS[c.id]) continue;
    const a = runs.ranges.latest.get(c.tile);
    const b = runs.full.latest.get(c.tile);
    if (a?.status !== b?.status || a?.errorClass !== b?.errorClass || a?.error !== b?.error) {
      differ.push(`${c.id}: ranges ${a?.status} ${a?.errorClass ?? ''} ${a?.error ?? ''} / full ${b?.status} ${b?.errorClass ?? ''} ${b?.error ?? ''}`);
    }
  }
  assert.deepEqual(differ, []);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});
