import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { parseColumnSet } from '../desi/column-sets.js';
import { parseWith } from './with-option.js';
import { parseSelection } from '../desi/selection.js';
import { EXIT, FatalRunError, UsageError } from '../pipeline/run.js';
import { RunLog } from '../pipeline/log.js';
import { defaultDownloads } from '../pipeline/fetch.js';
import { isS3Url, parseS3Url } from '../storage/s3-url.js';
import { SourceError } from '../storage/tile-store.js';
import { checkSharedOptions, convertOptions, selectionOptions, sourceOptions, surveysPrograms, tileSpecsOf } from './convert-command.js';
import { connectionOf, DR1_HEALPIX, openStores, registerStoreSecrets } from './stores.js';
import { writeLine } from './console.js';
import { explainError } from './explain.js';
import { checklistLines } from '../preflight/checklist.js';
import { ChildFailure, runPreflight, type PreflightReport } from '../preflight/runner.js';

/** This install's CLI, from dist/src/cli/: what the children run (process.execPath + bin/desi-qad.js). */
const BIN = fileURLToPath(new URL('../../../bin/desi-qad.js', import.meta.url));

/**
 * Options of convert that preflight passes to its children as given (undefined: convert's default). Their
 * values are checked by parsing the children's command line with convert's own options before anything runs.
 */
const KNOBS = {
  threads: { type: 'number', describe: 'passed to convert: worker threads (default: cores)' },
  downloads: { type: 'number', describe: 'passed to convert: tiles read concurrently (default 32 from S3, 8 from a local folder)' },
  'reads-per-tile': { type: 'number', describe: "passed to convert: ranged reads of one tile's rows in flight" },
  'reads-in-flight': { type: 'number', describe: 'passed to convert: reads in flight across all tiles' },
  fetch: { choices: ['ranges', 'full'] as const, describe: 'passed to convert: ranges (default) or full files' },
  'gap-bytes': { type: 'string', describe: 'passed to convert: rows closer than this are read in one request (auto: chosen from the link)' },
  memory: { type: 'string', describe: 'passed to convert: budget of tile data in flight, e.g. 4GB' },
  'max-failure-rate': {
    type: 'number',
    describe: "passed to convert: its stop rule (default here 1: never stop; the checklist's bar is --max-failure-rate-target)",
  },
  'min-reduction': { type: 'number', describe: "passed to convert: its WARN bar (the checklist's bar is --min-reduction-target)" },
} as const;

/**
 * `desi-qad preflight [convert options]`: the seed's dry-run checklist as one command (the sample, a kill
 * mid-batch and its resume, verify, the figures against their targets and the projection for the whole set).
 */
export function preflightOptions(y: Argv) {
  return selectionOptions(sourceOptions(y))
    .options(KNOBS)
    .option('sample', { type: 'number', default: 40, describe: 'tiles of the dry run, drawn at random (deterministic for --seed)' })
    .option('batch-size', { type: 'number', default: 8, describe: 'tiles per batch' })
    .option('scratch', { type: 'string', describe: 'the scratch folder (must be empty or absent; default: a fresh folder in the temporary directory)' })
    .option('keep-scratch', { type: 'boolean', default: false, describe: 'keep the scratch folder (its output, clean comparison and logs) afterwards' })
    .option('deep', { type: 'number', default: 2, describe: 'tiles verify re-reads from the source and compares value by value' })
    .option('compare-tiles', { type: 'number', default: 2, describe: 'tiles converted again without interruption and compared byte for byte (0: none)' })
    .option('max-failure-rate-target', { type: 'number', default: 0.1, describe: 'the checklist: failed tiles over finished ones, at most' })
    .option('min-reduction-target', { type: 'number', default: 0.95, describe: 'the checklist: data reduction (1 − Parquet/FITS), at least' })
    .option('min-throughput-target', { type: 'number', default: 25, describe: 'the checklist: MB/s of FITS covered, at least' })
    .option('json', { type: 'boolean', default: false, describe: 'print the checklist and its figures as one JSON document' })
    .check((a) => {
      if (!Number.isInteger(a.sample) || a.sample < 2) throw new Error('--sample must be an integer >= 2 (a kill in the middle needs tiles on both sides)');
      if (!Number.isInteger(a['batch-size']) || a['batch-size'] < 1) throw new Error('--batch-size must be an integer >= 1');
      for (const k of ['deep', 'compare-tiles'] as const) if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be an integer >= 0`);
      for (const k of ['max-failure-rate-target', 'min-reduction-target'] as const)
        if (!(a[k] >= 0 && a[k] <= 1)) throw new Error(`--${k} must be between 0 and 1`);
      if (!(a['min-throughput-target'] >= 0)) throw new Error('--min-throughput-target must be >= 0 (MB/s)');
      return checkSharedOptions(a);
    });
}

type PreflightArgs = Awaited<ReturnType<typeof preflightOptions>['argv']>;

export async function preflightCommand(a: PreflightArgs): Promise<number> {
  const fail = (code: number, message: string, hint?: string) => {
    writeLine('stderr', `desi-qad preflight: ${message}`);
    if (hint) writeLine('stderr', `hint: ${hint}`);
    return code;
  };
  const source = a.source ?? DR1_HEALPIX;
  const convertArgs = forwardedArgs(a);
  const tilesArgs = a.tiles !== undefined ? ['--tiles', a.tiles.join(',')] : [];
  try {
    parseSelection({
      select: a.select,
      spectype: a.spectype,
      keepZwarn: a['keep-zwarn'],
      minDeltachi2: a['min-deltachi2'],
      target: a.target,
      fiberstatus: a.fiberstatus,
      objtype: a.objtype,
    });
    parseColumnSet(a.columns);
    parseWith(a.with ?? []);
  } catch (err) {
    return fail(EXIT.usage, (err as Error).message);
  }
  // The children's command line, parsed now with convert's own options: a bad value is refused before any work.
  const refused = await convertRefuses([...convertArgs, ...tilesArgs, '--out', 'preflight-check', '--shard', 'none']);
  if (refused) return fail(EXIT.usage, refused);

  // The scratch folder: preflight's own, empty, so nothing of another dataset is mixed in or removed.
  let scratch: string;
  let made = false;
  try {
    if (a.scratch !== undefined) {
      scratch = resolve(a.scratch);
      const entries = await readdir(scratch).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      });
      if (entries && entries.length > 0) return fail(EXIT.usage, `--scratch ${a.scratch} is not empty: give an empty or absent folder`);
      if (!entries) made = true;
      await mkdir(scratch, { recursive: true });
    } else {
      scratch = await mkdtemp(join(tmpdir(), 'desi-qad-preflight-'));
      made = true;
    }
  } catch (err) {
    return fail(EXIT.fatal, `cannot make the scratch folder: ${explainError(err).message}`, 'give --scratch DIR on a writable disk');
  }
  let log: RunLog | undefined;
  // A signal to preflight (SIGTERM, a closed terminal) ends its children, which only write the scratch folder.
  const children = new Set<ChildProcess>();
  const onSignal = (sig: NodeJS.Signals) => {
    for (const c of children) c.kill('SIGKILL');
    log?.error(`Received ${sig}: the scratch conversion was stopped.`);
    writeLine('stderr', `desi-qad preflight: interrupted by ${sig}; nothing was cleared${a['keep-scratch'] ? ` (scratch kept: ${scratch})` : ''}`);
    if (!a['keep-scratch'] && made) rmSync(scratch, { recursive: true, force: true });
    process.exit(EXIT.fatal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, onSignal);
  const spawnCli = (args: string[]) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    c.once('close', () => children.delete(c));
    return c;
  };
  try {
    let stores;
    try {
      stores = openStores({
        source,
        out: join(scratch, 'out'),
        ...connectionOf(a, a.downloads ?? defaultDownloads(source)),
      });
    } catch (err) {
      return fail(EXIT.usage, (err as Error).message);
    }
    await registerStoreSecrets();
    // The preflight's own log, beside its children's; WARN and ERROR lines (discovery's) go to stderr.
    log = new RunLog(join(scratch, 'logs'), new Date(), (line, level) => level !== 'INFO' && writeLine('stderr', line), 'preflight');
    const access = !isS3Url(source)
      ? 'local'
      : (a['sign-request'] === undefined ? parseS3Url(source).bucket === 'desidata' : !a['sign-request'])
        ? 'anonymous'
        : 'signed';
    const report: PreflightReport = await runPreflight({
      store: stores.store,
      access,
      ...surveysPrograms(a),
      tiles: tileSpecsOf(a),
      sample: a.sample,
      seed: a.seed,
      batchSize: a['batch-size'],
      allowMissing: a['allow-missing'],
      scratch,
      convertArgs,
      tilesArgs,
      spawnCli,
      verifyArgs: verifyArgs(a, source),
      deep: a.deep,
      compareTiles: a['compare-tiles'],
      targets: { maxFailureRate: a['max-failure-rate-target'], minReduction: a['min-reduction-target'], minThroughput: a['min-throughput-target'] },
      log,
    });
    const kept = a['keep-scratch'] ? scratch : null;
    if (a.json) writeLine('stdout', JSON.stringify({ ...report, scratch: kept }, null, 2));
    else {
      writeLine(
        'stdout',
        `Preflight of ${report.source}: ${report.sample.tiles} tiles in ${report.sample.batches} batches of up to ${report.sample.batchSize}`,
      );
      for (const line of checklistLines(report)) writeLine('stdout', line);
      if (kept) writeLine('stdout', `Scratch kept: ${kept}`);
    }
    log.info(report.cleared ? 'Cleared.' : `Not cleared: ${report.failed.join(', ')}.`);
    return report.cleared ? EXIT.ok : EXIT.someFailed;
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT.usage, err.message);
    if (err instanceof ChildFailure) return fail(err.exitCode, err.message);
    const e = explainError(err);
    const expected = e.expected || err instanceof FatalRunError || err instanceof SourceError;
    log?.error(e.message);
    return fail(EXIT.fatal, `the source ${source} cannot be used: ${e.message}`, e.hint ?? (expected ? undefined : 'this looks like a bug; please report it'));
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    log?.close();
    if (!a['keep-scratch']) {
      // Only what preflight made: a --scratch folder it found empty is emptied, a fresh one removed.
      if (made) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
      else for (const e of await readdir(scratch).catch(() => [])) await rm(join(scratch, e), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/**
 * The convert options preflight passes on, rebuilt from the parsed values (not the raw argv: aliases,
 * `--x=y` forms and preflight's own options then need no filtering). Options with a default are always
 * passed (the same value); the others only when given, but --max-failure-rate, which is 1 unless given. --tiles, --out, --log-dir, --quiet, --sample,
 * --seed, --batch-size and --shard are preflight's to choose.
 */
function forwardedArgs(a: PreflightArgs): string[] {
  const args: string[] = [];
  const put = (k: string, v: string | number | boolean | undefined) => {
    if (v === undefined) return;
    if (typeof v === 'boolean') args.push(v ? `--${k}` : `--no-${k}`);
    else args.push(`--${k}`, String(v));
  };
  put('source', a.source);
  put('sign-request', a['sign-request']);
  for (const k of ['region', 'endpoint', 'profile', 'cli-read-timeout', 'cli-connect-timeout', 'max-attempts'] as const) put(k, a[k]);
  for (const k of ['survey', 'program', 'spectype', 'min-deltachi2', 'select', 'target', 'fiberstatus', 'objtype', 'columns'] as const) put(k, a[k]);
  for (const v of a.with ?? []) put('with', v);
  put('keep-zwarn', a['keep-zwarn'] || undefined);
  put('allow-missing', a['allow-missing'] || undefined);
  for (const k of Object.keys(KNOBS) as (keyof typeof KNOBS)[]) put(k, a[k]);
  // A dry run measures the failure rate rather than stopping on it: every sampled tile is converted, and the
  // checklist judges the rate against --max-failure-rate-target (unless --max-failure-rate was given).
  if (a['max-failure-rate'] === undefined) put('max-failure-rate', 1);
  return args;
}

/** verify's arguments besides --out: the source and how to reach it (only what was given), --deep, --json. */
function verifyArgs(a: PreflightArgs, source: string): string[] {
  const args = ['--source', source, '--deep', String(a.deep), '--json'];
  if (a['sign-request'] !== undefined) args.push(a['sign-request'] ? '--sign-request' : '--no-sign-request');
  for (const k of ['endpoint', 'profile'] as const) if (a[k] !== undefined) args.push(`--${k}`, a[k]);
  if (a.region !== 'us-west-2') args.push('--region', a.region);
  return args;
}

/** The message convert's option parser gives for these arguments, or undefined when it takes them. */
async function convertRefuses(args: string[]): Promise<string | undefined> {
  let problem: string | undefined;
  await convertOptions(yargs(args))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      problem ??= msg || err?.message || 'convert refuses these options';
    })
    .parseAsync();
  return problem;
}
