import { availableParallelism } from 'node:os';
import type { Argv } from 'yargs';
import { parseColumnSet, type ColumnSet } from '../desi/column-sets.js';
import { afterburnerKinds, parseSelection, type AfterburnerKind } from '../desi/selection.js';
import { parseWith, WITH_NAMES } from './with-option.js';
import { canonicalNames } from '../desi/names.js';
import { parseCumulativeSpecs } from '../desi/cumulative.js';
import { LAYOUTS, parseTileSpecs, PROGRAMS, SURVEYS, type Layout, type TileSpec } from '../desi/tile.js';
import { runConvert, EXIT, noPlanMessage, type RunOptions } from '../pipeline/run.js';
import { DEFAULT_READS_PER_TILE, defaultDownloads, defaultReadsInFlight } from '../pipeline/fetch.js';
import { LocalOutputStore } from '../storage/output-local.js';
import { toolVersion } from './version.js';
import { defaultMemoryBytes, parseSize } from './size.js';
import { connectionOf, DR1_HEALPIX, DR1_TILES, openStores, registerStoreSecrets } from './stores.js';
import { isS3Url } from '../storage/s3-url.js';
import { leaseMsFromEnv } from '../storage/run-registry.js';
import { resolveShard, type ShardChoice } from '../pipeline/shard.js';
import { PlanError, planColumns, planWith, readPlan, type Plan } from '../pipeline/plan-file.js';
import { redactSecrets } from '../util/secrets.js';
import { notifierOptions, notifyOptions } from '../notify/options.js';
import { createNotifier } from '../notify/notifier.js';
import { writeRunReport } from './report-command.js';
import { writeRunCatalog } from './catalog-command.js';

/**
 * Rows of an image closer than this are fetched in one read with a fixed --gap-bytes default (now the
 * fallback of --gap-bytes auto until the run has measured its link). A coadd row is about 11 KB (2751 float32), and
 * kept quasars are a few percent of the rows, so merging rows far apart reads mostly rows nobody keeps. The
 * reads of a tile go out concurrently, so the round trip of an extra request is mostly hidden: measured by
 * `npm run bench` on the seed-shaped set, a 16 KiB gap fetched under 5% of the FITS bytes and was as fast as
 * wider gaps on a 35 MB/s, 20 ms link (README, Benchmark).
 */
export const DEFAULT_GAP_LOCAL = 64 * 1024;
export const DEFAULT_GAP_S3 = 16 * 1024;

/**
 * --gap-bytes: "auto" (the default: chosen per run from the link, pipeline/auto-gap.ts; the fixed defaults
 * above are used until it has measured enough) or a number of bytes >= 0.
 */
export function parseGapBytes(v: unknown): number | 'auto' {
  if (v === undefined || v === 'auto') return 'auto';
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!(n >= 0)) throw new Error(`--gap-bytes must be "auto" or a number of bytes >= 0, not ${JSON.stringify(v)}`);
  return n;
}

/**
 * The usage error for an option given more than once (yargs collects the values in an array, which code
 * expecting one value does not handle): `--out given twice ("a" and "b"); give it once`.
 */
export function repeatedOptionError(name: string, values: readonly unknown[]): Error {
  const shown = values.map((v) => JSON.stringify(v) ?? String(v));
  const times = values.length === 2 ? 'twice' : `${values.length} times`;
  return new Error(`--${name} given ${times} (${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}); give it once`);
}

/**
 * Upper bounds of the concurrency options: far above any useful setting, low enough that a typo (an extra
 * zero) is refused instead of starting thousands of threads or sockets. Each worker thread holds its own
 * heap, so --threads is bounded by the machine: 4 per core, and at least 8.
 */
export const MAX_THREADS = Math.max(8, 4 * availableParallelism());
export const MAX_DOWNLOADS = 1024;
export const MAX_READS_PER_TILE = 1024;
export const MAX_READS_IN_FLIGHT = 4096;

/** A comma list's items, trimmed, without empty ones. */
export const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Where tiles are read and the dataset written, and how S3 is reached: options of convert and plan. */
export function storeOptions<T>(y: Argv<T>) {
  return sourceOptions(
    y.option('out', { type: 'string', describe: 'the Parquet dataset: a folder or s3://bucket/prefix (the journal lives there too)', demandOption: true }),
  );
}

/** Where tiles are read and how S3 is reached, without --out: also the options of preflight, which chooses its own output. */
export function sourceOptions<T>(y: Argv<T>) {
  return s3ConnectionOptions(
    y
      .option('source', {
        type: 'string',
        // No yargs default: a shard takes the plan's source when --source is not given (convertCommand).
        defaultDescription: DR1_HEALPIX,
        describe: "healpix root laid out like DESI's ({survey}/{program}/{pixgroup}/{pixnum}/): a folder or s3://bucket/prefix",
      })
      .option('sign-request', {
        type: 'boolean',
        describe: 'sign S3 reads with the AWS credential chain; --no-sign-request reads anonymously (the default for s3://desidata)',
      }),
  );
}

/** How S3 is reached (region, endpoint, profile, timeouts, attempts): the options of convert, plan and status alike. */
export function s3ConnectionOptions<T>(y: Argv<T>) {
  return y
    .option('region', { type: 'string', default: 'us-west-2', describe: 'S3 region' })
    .option('endpoint', { type: 'string', alias: 'endpoint-url', describe: 'an S3-compatible server, e.g. http://127.0.0.1:4568 (path-style addressing)' })
    .option('profile', { type: 'string', describe: 'AWS profile of the credential chain' })
    .option('cli-read-timeout', { type: 'number', default: 30, describe: 'S3: seconds without a byte before a read is abandoned and retried' })
    .option('cli-connect-timeout', { type: 'number', default: 5, describe: 'S3: seconds to open a connection' })
    .option('max-attempts', { type: 'number', default: 6, describe: 'S3: tries per request (backoff with jitter between them) before the tile fails' });
}

/** The checks of s3ConnectionOptions (a yargs .check: throws the usage error). */
export function checkS3ConnectionOptions(a: { 'max-attempts': number; 'cli-read-timeout': number; 'cli-connect-timeout': number }): true {
  if (!Number.isInteger(a['max-attempts']) || a['max-attempts'] < 1) throw new Error('--max-attempts must be an integer >= 1');
  for (const k of ['cli-read-timeout', 'cli-connect-timeout'] as const) if (!(a[k] > 0)) throw new Error(`--${k} must be a positive number of seconds`);
  return true;
}

/**
 * Which tiles and which rows: options of convert and plan. --survey and --program have no yargs default
 * (a shard must tell whether they were given); DEFAULT_SURVEY and DEFAULT_PROGRAM apply when they are not.
 */
export function selectionOptions<T>(y: Argv<T>) {
  return y
    .option('survey', { type: 'string', defaultDescription: DEFAULT_SURVEY, describe: `comma list of surveys (${SURVEYS.join(', ')})` })
    .option('program', { type: 'string', defaultDescription: DEFAULT_PROGRAM, describe: `comma list of programs (${PROGRAMS.join(', ')})` })
    .option('tiles', {
      type: 'string',
      describe: 'only these tiles: comma list of healpix numbers or survey/program/healpix (--layout tiles: TILEID or TILEID/PETAL)',
      // Parsed once, here: a value that names no tile is a usage error before anything is read or written.
      // A repeated --tiles reaches coerce as an array, before any check: refused here, naming the option.
      coerce: (v: string | string[]) => {
        if (Array.isArray(v)) throw repeatedOptionError('tiles', v);
        return list(v);
      },
    })
    .option('layout', {
      choices: LAYOUTS,
      default: DEFAULT_LAYOUT,
      describe: "the source's layout: healpix ({survey}/{program}/{pixgroup}/{pixnum}/) or tiles (tiles/cumulative/{TILEID}/{LASTNIGHT}/, one unit per petal)",
    })
    .option('sample', { type: 'number', describe: 'a dry run on N tiles drawn at random (deterministic for --seed)' })
    .option('seed', { type: 'number', default: 42, describe: 'seed of --sample' })
    .option('spectype', { type: 'string', describe: 'SPECTYPE values to keep, comma list, or "any" (default QSO)' })
    .option('keep-zwarn', { type: 'boolean', default: false, describe: 'drop the ZWARN == 0 cut' })
    .option('min-deltachi2', { type: 'number', describe: 'keep only DELTACHI2 > X' })
    .option('select', {
      type: 'string',
      describe:
        'a named selection: redrock-qso (default), desi-qso-dr1, desi-qso (DESI quasar catalog rules, read the QSO afterburners) or all; not combined with the cut options',
    })
    .option('target', {
      type: 'string',
      describe: "keep these target classes (comma list of QSO, LRG, ELG, BGS_ANY, MWS_ANY, SCND_ANY; the survey's own target column)",
    })
    .option('fiberstatus', { type: 'string', describe: 'good (COADD_FIBERSTATUS == 0), any (default), or a mask of bits that must be clear' })
    .option('objtype', { type: 'string', describe: "TGT: keep science targets only (OBJTYPE == 'TGT')" })
    .option('columns', {
      type: 'string',
      defaultDescription: "default (a shard: its plan's)",
      describe:
        'catalog column set: default (redshifts, targets of every survey, photometry, TSNR2) or all (every DR1 FIBERMAP column too); part of the dataset',
    })
    .option('with', {
      type: 'string',
      describe: `add column groups to any selection, comma list or repeated: ${WITH_NAMES.join(', ')} (afterburners' columns, matched by TARGETID); part of the dataset`,
      // Repeatable (an array to yargs, so not refused as given twice): every value is a comma list.
      array: true,
    })
    .option('allow-missing', {
      type: 'boolean',
      default: false,
      describe: 'go on when a source folder cannot be read, and report its tiles as missing (default: stop with exit 4)',
    });
}

/** The default --source of a layout: DESI DR1 in DESI's public bucket. */
export function defaultSource(layout: Layout | undefined): string {
  return layout === 'tiles' ? DR1_TILES : DR1_HEALPIX;
}

const DEFAULT_LAYOUT: Layout = 'healpix';

export const DEFAULT_SURVEY = 'main';
export const DEFAULT_PROGRAM = 'dark';

/**
 * The surveys and programs asked for (the defaults when not given), in DESI's spelling. The tile layout's
 * tree has no survey or program folders (each coadd's header names them), so it takes neither option.
 */
export function surveysPrograms(a: { survey?: string; program?: string; layout?: Layout }): { surveys: string[]; programs: string[] } {
  if (a.layout === 'tiles') {
    const given = (['survey', 'program'] as const).filter((k) => a[k] !== undefined);
    if (given.length > 0)
      throw new Error(
        `${given.map((k) => `--${k}`).join(' and ')} cannot be given with --layout tiles: its tree has no survey or program folders; pick tiles with --tiles TILEID or TILEID/PETAL`,
      );
    return { surveys: [], programs: [] };
  }
  return { surveys: canonicalNames('survey', list(a.survey ?? DEFAULT_SURVEY)), programs: canonicalNames('program', list(a.program ?? DEFAULT_PROGRAM)) };
}

/** The checks of the options storeOptions and selectionOptions define (a yargs .check: throws the usage error). */
export function checkSharedOptions(a: {
  seed: number;
  'max-attempts': number;
  'cli-read-timeout': number;
  'cli-connect-timeout': number;
  sample?: number;
  survey?: string;
  program?: string;
  tiles?: string[];
  layout?: Layout;
}): true {
  if (!Number.isInteger(a.seed) || a.seed < 0) throw new Error('--seed must be an integer >= 0');
  checkS3ConnectionOptions(a);
  if (a.sample !== undefined && (!Number.isInteger(a.sample) || a.sample < 1)) throw new Error('--sample must be a positive integer');
  // Only DESI's names (they become folders of the output, so nothing can climb out of --out either).
  surveysPrograms(a);
  tileSpecsOf(a);
  return true;
}

/** The --tiles values parsed by the layout's rules (healpix numbers, or TILEID[/PETAL] with --layout tiles). */
export function tileSpecsOf(a: { tiles?: string[]; layout?: Layout }): TileSpec[] | undefined {
  if (a.tiles === undefined) return undefined;
  if (a.layout === 'tiles') return parseCumulativeSpecs(a.tiles).map((cumulative) => ({ cumulative }));
  return parseTileSpecs(a.tiles);
}

export function convertOptions(y: Argv) {
  return notifyOptions(selectionOptions(storeOptions(y)))
    .option('shard', {
      type: 'string',
      describe:
        'convert shard K/N (0-based) of the plan in --out (desi-qad plan); default: the array index of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX when set; "none": a plain run',
    })
    .option('batch-size', { type: 'number', default: 8, describe: "tiles per batch (the unit of the log's summaries)" })
    .option('max-batches', { type: 'number', describe: 'stop after this many batches' })
    .option('threads', {
      type: 'number',
      default: availableParallelism(),
      describe: `worker threads that decode FITS and encode Parquet (at most ${MAX_THREADS} here: 4 per core, at least 8)`,
    })
    .option('downloads', { type: 'number', describe: `tiles read concurrently (default 32 from S3, 8 from a local folder; at most ${MAX_DOWNLOADS})` })
    .option('reads-per-tile', {
      type: 'number',
      default: DEFAULT_READS_PER_TILE,
      describe: `ranged reads of one tile's spectra rows in flight at once (at most ${MAX_READS_PER_TILE})`,
    })
    .option('reads-in-flight', {
      type: 'number',
      describe: `reads in flight across all tiles (every request to the source takes one; default 128 from S3, 64 from a local folder; at most ${MAX_READS_IN_FLIGHT})`,
    })
    .option('fetch', {
      choices: ['ranges', 'full'] as const,
      default: 'ranges' as const,
      describe: "read only the byte ranges kept (ranges) or whole files (full, the seed's way); same output",
    })
    .option('gap-bytes', {
      type: 'string',
      default: 'auto',
      describe: 'rows closer than this many bytes are read in one request (ranges); auto: chosen from the round trip and bandwidth the run measures',
    })
    .option('memory', { type: 'string', describe: "budget of tile data in flight, e.g. 4GB or 512MiB (default: a quarter of the machine's memory, 1–16 GiB)" })
    .option('keep-fits', { type: 'string', describe: 'also keep the downloaded FITS files in this folder (implies --fetch full)' })
    .option('log-dir', { type: 'string', default: 'logs', describe: 'where run_YYYYMMDD_HHMMSS.log goes (run_…_shard-K-of-N.log for a shard)' })
    .option('max-failure-rate', { type: 'number', default: 0.1, describe: 'stop when this share of the last 100 finished tiles failed (judged from 20 on)' })
    .option('min-reduction', { type: 'number', default: 0.9, describe: "warn when a batch's data reduction falls under this" })
    .option('quiet', {
      type: 'boolean',
      default: false,
      describe: 'no progress bar and no INFO lines on the console; warnings and errors still go to stderr, and the log file is complete',
    })
    .check((a) => {
      for (const [k, v, min, max, why] of [
        ['batch-size', a['batch-size'], 1, Infinity, ''],
        ['threads', a.threads, 1, MAX_THREADS, ` (4 × the ${availableParallelism()} cores of this machine, at least 8)`],
        ['downloads', a.downloads ?? 1, 1, MAX_DOWNLOADS, ''],
        ['reads-per-tile', a['reads-per-tile'], 1, MAX_READS_PER_TILE, ''],
        ['reads-in-flight', a['reads-in-flight'] ?? 1, 1, MAX_READS_IN_FLIGHT, ''],
      ] as const) {
        if (!Number.isInteger(v) || v < min) throw new Error(`--${k} must be an integer >= ${min}`);
        if (v > max) throw new Error(`--${k} ${v} is too large: at most ${max}${why}`);
      }
      if (a['max-batches'] !== undefined && (!Number.isInteger(a['max-batches']) || a['max-batches'] < 1))
        throw new Error('--max-batches must be a positive integer');
      for (const k of ['max-failure-rate', 'min-reduction'] as const) if (!(a[k] >= 0 && a[k] <= 1)) throw new Error(`--${k} must be between 0 and 1`);
      parseGapBytes(a['gap-bytes']);
      return checkSharedOptions(a);
    });
}

type ConvertArgs = Awaited<ReturnType<typeof convertOptions>['argv']>;

/** `desi-qad convert --out …` as typed (arguments with spaces quoted), for the log's first lines. */
export function commandLine(argv: readonly string[]): string {
  return ['desi-qad', ...argv.slice(2)].map((x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** "--shard 2/4" or "SLURM_ARRAY_TASK_ID", for messages. */
function shardFrom(s: ShardChoice): string {
  return s.from === '--shard' ? `--shard ${s.index}/${s.count ?? '?'}` : s.from;
}

export async function convertCommand(a: ConvertArgs): Promise<number> {
  let selection;
  let columns: ColumnSet;
  let withAfterburners: AfterburnerKind[];
  let withResolution: boolean;
  try {
    selection = parseSelection({
      select: a.select,
      spectype: a.spectype,
      keepZwarn: a['keep-zwarn'],
      minDeltachi2: a['min-deltachi2'],
      target: a.target,
      fiberstatus: a.fiberstatus,
      objtype: a.objtype,
    });
    columns = parseColumnSet(a.columns);
    const withGroups = parseWith(a.with ?? []);
    withAfterburners = afterburnerKinds(withGroups.afterburners);
    withResolution = withGroups.resolution;
  } catch (err) {
    process.stderr.write(`desi-qad convert: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  let memoryBytes: number;
  try {
    memoryBytes = a.memory !== undefined ? parseSize(a.memory, '--memory') : defaultMemoryBytes();
  } catch (err) {
    process.stderr.write(`desi-qad convert: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  const fail = (code: number, message: string) => {
    process.stderr.write(`desi-qad convert: ${message}\n`);
    return code;
  };
  // The shard, from --shard or the scheduler's environment: the plan decides what it converts.
  let shard: ShardChoice | undefined;
  try {
    shard = resolveShard(a.shard, process.env);
  } catch (err) {
    return fail(EXIT.usage, (err as Error).message);
  }
  if (shard) {
    const given = (['tiles', 'sample', 'survey', 'program'] as const).filter((k) => a[k] !== undefined);
    if (given.length > 0)
      return fail(
        EXIT.usage,
        `${given.map((k) => `--${k}`).join(', ')} cannot be given to a shard (${shardFrom(shard)}): the plan decides its tiles; run \`desi-qad plan\` with them, or pass --shard none for a plain run`,
      );
  }
  const storeArgs = (source: string, run?: string) => ({
    source,
    layout: a.layout,
    out: a.out,
    ...connectionOf(a, a.downloads ?? defaultDownloads(source)),
    readsInFlight: a['reads-in-flight'] ?? defaultReadsInFlight(source),
    run,
  });
  let stores: ReturnType<typeof openStores>;
  try {
    stores = openStores(storeArgs(a.source ?? defaultSource(a.layout)));
  } catch (err) {
    return fail(EXIT.usage, (err as Error).message);
  }
  // Credential values in use are known before the first line is logged, so no line can carry them.
  await registerStoreSecrets();
  let plan: Plan | undefined;
  let sharding: RunOptions['shard'];
  if (shard) {
    try {
      plan = await readPlan(stores.out);
    } catch (err) {
      return fail(err instanceof PlanError ? EXIT.usage : EXIT.fatal, redactSecrets((err as Error).message));
    }
    if (!plan) return fail(EXIT.usage, noPlanMessage(a.out));
    try {
      // Kubernetes and AWS Batch do not say N: the plan does, and the index is checked against it.
      shard = resolveShard(a.shard, process.env, plan.shards)!;
    } catch (err) {
      return fail(EXIT.usage, (err as Error).message);
    }
    const count = shard.count ?? plan.shards;
    if (count !== plan.shards)
      return fail(
        EXIT.usage,
        `the plan in ${a.out} has ${plan.shards} shards, but ${shardFrom(shard)} says ${count}: run \`desi-qad plan --shards ${count}\` again, or run ${plan.shards} shards`,
      );
    sharding = { index: shard.index, count, from: shard.from };
    // The plan records the column set: a shard uses it unless --columns is given (then it must be the plan's).
    if (a.columns === undefined) columns = planColumns(plan);
    // So are the --with groups: a shard without --with converts with the plan's (with --with, they must be the plan's).
    if (a.with === undefined) {
      const groups = parseWith(planWith(plan));
      withAfterburners = afterburnerKinds(groups.afterburners);
      withResolution = groups.resolution;
    }
    if (a.source === undefined && plan.source !== stores.store.root) {
      // The plan's source, opened under the same run id (nothing was started under the first one).
      try {
        stores = openStores(storeArgs(plan.source, stores.registry.run));
      } catch (err) {
        return fail(EXIT.usage, (err as Error).message);
      }
      await registerStoreSecrets();
    }
  }
  const sourceUrl = plan && a.source === undefined ? plan.source : (a.source ?? defaultSource(a.layout));
  const { store: source, out, journal, identity, registry, relativeOf } = stores;
  const keep = a['keep-fits'] !== undefined ? new LocalOutputStore(a['keep-fits']) : undefined;
  const gapBytes = parseGapBytes(a['gap-bytes']);
  const gapFallback = isS3Url(sourceUrl) ? DEFAULT_GAP_S3 : DEFAULT_GAP_LOCAL;
  // --notify: registers the webhook URLs as secrets before the run logs its command line.
  const notifier = createNotifier(notifierOptions(a));
  const opts: RunOptions = {
    store: source,
    out,
    journal,
    identity,
    registry,
    run: registry.run,
    selection,
    columns,
    withAfterburners,
    withResolution,
    ...(plan ? { surveys: plan.surveys, programs: plan.programs } : surveysPrograms(a)),
    tiles: tileSpecsOf(a),
    sample: a.sample,
    seed: a.seed,
    batchSize: a['batch-size'],
    maxBatches: a['max-batches'],
    threads: a.threads,
    downloads: a.downloads ?? defaultDownloads(sourceUrl),
    readsPerTile: a['reads-per-tile'],
    readsInFlight: a['reads-in-flight'] ?? defaultReadsInFlight(sourceUrl),
    logDir: a['log-dir'],
    maxFailureRate: a['max-failure-rate'],
    minReduction: a['min-reduction'],
    fetch: keep ? 'full' : a.fetch,
    memoryBytes,
    keepFits:
      keep &&
      (async (ref, bytes) => {
        await keep.writeAtomic(relativeOf(ref), bytes);
      }),
    gapBytes,
    gapFallback,
    version: toolVersion(),
    quiet: a.quiet,
    retries: stores.retries,
    allowMissing: a['allow-missing'],
    command: commandLine(process.argv),
    // Tiles other live runs hold are looked at again this often (short leases in tests, so short polls).
    deferPollMs: Math.min(5000, Math.max(200, leaseMsFromEnv() / 4)),
    shard: sharding,
    plan,
    observers: [notifier.observer],
  };
  const r = await runConvert(opts);
  // A run that leaves the dataset complete writes its primary-spectra table (never changes the exit status).
  if (r.exitCode === EXIT.ok && a['max-batches'] === undefined) await writeRunCatalog(a);
  if (r.logPath) await writeRunReport(a, r.logPath); // never changes the exit status: a failure is a WARN
  await notifier.drain();
  return r.exitCode;
}
