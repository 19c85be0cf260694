import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { EXIT } from '../pipeline/run.js';
import { readPlan } from '../pipeline/plan-file.js';
import { reportData } from '../report/data.js';
import { reportHtml } from '../report/html.js';
import { readParquetFacts, readRunLogs, type ParquetOpener } from '../report/read.js';
import { LocalFileSource } from '../storage/local.js';
import type { TileRecord } from '../storage/journal-store.js';
import { BaseRegistry } from '../storage/run-registry.js';
import { S3OutputStore } from '../storage/s3-output.js';
import { S3ObjectSource } from '../storage/s3-source.js';
import { redactSecrets } from '../util/secrets.js';
import { writeLine } from './console.js';
import { checkS3ConnectionOptions, s3ConnectionOptions } from './convert-command.js';
import { explainError } from './explain.js';
import { connectionOf, DR1_HEALPIX, openStores, registerStoreSecrets, type ConnectionArgv, type Stores } from './stores.js';

/**
 * `desi-qad report --out O [--html FILE]`: one self-contained HTML page about the dataset in O and the runs
 * that wrote it (throughput, data reduction per batch, sizes, outcomes with failure classes, a sky map, the
 * redshift histogram, bytes fetched, settings and provenance), from the journal, the manifest, the plan,
 * the runs' logs when at hand and the Parquet files' Z column and footers. It only reads the dataset; the
 * page is written to --html (default desi-qad-report.html in the current folder). `convert` writes one
 * next to its log at the end of every run (writeRunReport).
 *
 * Exit 0 when the page is written, 2 for bad usage or an --out that is not a desi-qad dataset, 4 when the
 * dataset cannot be read or the page cannot be written.
 */

/**
 * The Parquet files whose Z column convert's own report reads at most (an even sample past that): each file
 * costs two or three small reads, and every shard of an array job writes a report of the whole dataset.
 * `desi-qad report` reads them all.
 */
export const RUN_REPORT_Z_FILES = 2000;

/** Where the page goes without --html. */
export const DEFAULT_REPORT_FILE = 'desi-qad-report.html';

export function reportOptions(y: Argv) {
  return s3ConnectionOptions(y)
    .option('out', { type: 'string', describe: 'the dataset: a folder or s3://bucket/prefix', demandOption: true })
    .option('html', { type: 'string', default: DEFAULT_REPORT_FILE, describe: 'the HTML file to write' })
    .option('min-reduction', { type: 'number', default: 0.9, describe: 'the data reduction line drawn on the per-batch plot (as convert --min-reduction)' })
    .option('log-dir', { type: 'string', default: 'logs', describe: "where the runs' logs are (their command lines and settings are shown when found)" })
    .option('sign-request', {
      type: 'boolean',
      describe: 'accepted as convert takes it (it is about --source); --out is read with the AWS credential chain, as convert writes it',
    })
    .check((a) => {
      checkS3ConnectionOptions(a);
      if (typeof a.out !== 'string' || a.out.trim() === '') throw new Error('--out names the dataset: a folder or s3://bucket/prefix');
      if (typeof a.html !== 'string' || a.html.trim() === '') throw new Error('--html names the file to write');
      if (!(a['min-reduction'] >= 0 && a['min-reduction'] <= 1)) throw new Error('--min-reduction must be between 0 and 1');
      return true;
    });
}

type ReportArgs = Awaited<ReturnType<typeof reportOptions>['argv']>;

/** What the report needs of the command line: --out, how S3 is reached, the line to draw. */
export type ReportConnection = ConnectionArgv & { out: string; 'min-reduction': number };

/** A report that could not be made: its exit status and message. */
class ReportError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function reportCommand(a: ReportArgs): Promise<number> {
  try {
    const path = await writeReport(a, resolve(a.html), a['log-dir']);
    writeLine('stdout', `Report: ${path}`);
    return EXIT.ok;
  } catch (err) {
    const code = err instanceof ReportError ? err.code : EXIT.fatal;
    const e = explainError(err);
    writeLine('stderr', `desi-qad report: ${err instanceof ReportError ? err.message : e.message}`);
    if (!(err instanceof ReportError) && e.hint) writeLine('stderr', `hint: ${e.hint}`);
    return code;
  }
}

/**
 * The report of the run whose log is `logPath`, written beside it (run_….log → run_….report.html), for
 * `convert`: a failure is one WARN line on stderr, never a change of the run's exit status. Prints where it
 * went unless `quiet`.
 */
export async function writeRunReport(a: ReportConnection & { quiet?: boolean }, logPath: string): Promise<void> {
  const html = join(dirname(logPath), `${basename(logPath).replace(/\.log$/, '')}.report.html`);
  try {
    const path = await writeReport(a, html, dirname(logPath), RUN_REPORT_Z_FILES);
    if (!a.quiet) writeLine('stdout', `Report: ${path}`);
  } catch (err) {
    writeLine('stderr', `desi-qad convert: WARN: the run report was not written: ${redactSecrets(err instanceof Error ? err.message : String(err))}`);
  }
}

/** Reads the dataset, draws the page and writes it to `html` atomically; returns its path. Throws ReportError. */
export async function writeReport(a: ReportConnection, html: string, logDir: string, zFiles = Infinity): Promise<string> {
  let stores: Stores;
  try {
    stores = openStores({
      source: DR1_HEALPIX, // not read: the report looks at --out only
      out: a.out,
      ...connectionOf(a),
    });
  } catch (err) {
    throw new ReportError(EXIT.usage, (err as Error).message);
  }
  await registerStoreSecrets();
  const { out, journal, identity, registry } = stores;
  let page: string;
  try {
    const { records, damaged } = await journal.load();
    const id = await identity.read();
    if (!id && records.length === 0)
      throw new ReportError(EXIT.usage, `${out.root}: not a desi-qad dataset (no manifest ${identity.location} and no journal ${journal.location})`);
    const plan = await readPlan(out);
    const runs = await registry.listRuns();
    const logs = await readRunLogs(logDir);
    const tiles = records.filter((r): r is TileRecord => r.type === 'tile');
    const parquet = await readParquetFacts(tiles, parquetOpener(a, stores), zFiles);
    const data = reportData({
      out: out.root,
      now: new Date(),
      identity: id,
      plan,
      records,
      damaged,
      runs,
      processGone: registry instanceof BaseRegistry ? (h) => registry.processGone(h) : undefined,
      logs,
      parquet,
      minReduction: a['min-reduction'],
    });
    page = reportHtml(data);
  } catch (err) {
    if (err instanceof ReportError) throw err;
    const e = explainError(err);
    throw new ReportError(EXIT.fatal, `${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
  } finally {
    await journal.close();
  }
  // Beside the target, then renamed: a browser open on the old page never sees half a new one.
  const tmp = `${html}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, page);
    await rename(tmp, html);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ReportError(EXIT.fatal, `cannot write ${html}: ${(err as Error).message}`);
  }
  return html;
}

/** Ranged reads of the dataset's files: a local file, or an S3 object through a client signed as --out is written. */
function parquetOpener(a: ReportConnection, stores: Stores): ParquetOpener {
  const out = stores.out;
  const client = stores.clients.out;
  if (client && out instanceof S3OutputStore) {
    const retry = { maxAttempts: a['max-attempts'] };
    return (rel, size) =>
      Promise.resolve(new S3ObjectSource(client, out.bucket, out.keyOf(rel), size, undefined, { retry, stallMs: a['cli-read-timeout'] * 1000 }));
  }
  return (rel) => {
    // A journal's path is relative to --out; one that climbs out of it is not read.
    if (rel.split(/[\\/]/).includes('..') || rel.startsWith('/')) return Promise.reject(new Error(`${rel}: not a path inside ${out.root}`));
    return LocalFileSource.open(join(out.root, rel));
  };
}
