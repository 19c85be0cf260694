import { join } from 'node:path';
import type { Argv } from 'yargs';
import { catalogFiles, writeCatalog, type BuiltCatalog, type CatalogOpener } from '../catalog/build.js';
import { EXIT } from '../pipeline/run.js';
import { readPlan } from '../pipeline/plan-file.js';
import { computeStatus, type Status } from '../pipeline/status.js';
import { LocalFileSource } from '../storage/local.js';
import { BaseRegistry } from '../storage/run-registry.js';
import { S3OutputStore } from '../storage/s3-output.js';
import { S3ObjectSource } from '../storage/s3-source.js';
import { redactSecrets } from '../util/secrets.js';
import { writeLine } from './console.js';
import { checkS3ConnectionOptions, s3ConnectionOptions } from './convert-command.js';
import { explainError } from './explain.js';
import { connectionOf, DR1_HEALPIX, openStores, registerStoreSecrets, type ConnectionArgv, type Stores } from './stores.js';
import { toolVersion } from './version.js';

/**
 * `desi-qad catalog --out O`: (re)writes the dataset's table of every spectrum with DR1's primary flags,
 * `O/_catalog/zcatalog.parquet` (src/catalog/), from the catalog columns of the files the journal calls ok.
 * `convert` does the same at the end of a run that leaves the dataset complete (writeRunCatalog). A dataset
 * that is not complete still gets its table, of the tiles done, with a warning.
 *
 * Exit 0 when the table is written, 2 for bad usage or an --out that is not a desi-qad dataset, 4 when a
 * file cannot be read or the table cannot be written.
 */
export function catalogOptions(y: Argv) {
  return s3ConnectionOptions(y)
    .option('out', { type: 'string', describe: 'the dataset: a folder or s3://bucket/prefix', demandOption: true })
    .option('sign-request', {
      type: 'boolean',
      describe: 'accepted as convert takes it (it is about --source); --out is read and written with the AWS credential chain, as convert writes it',
    })
    .check((a) => {
      checkS3ConnectionOptions(a);
      if (typeof a.out !== 'string' || a.out.trim() === '') throw new Error('--out names the dataset: a folder or s3://bucket/prefix');
      return true;
    });
}

type CatalogArgs = Awaited<ReturnType<typeof catalogOptions>['argv']>;

/** What the catalog needs of the command line: --out and how S3 is reached. */
export type CatalogConnection = ConnectionArgv & { out: string };

/** A catalog that could not be made: its exit status and message. */
class CatalogError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function catalogCommand(a: CatalogArgs): Promise<number> {
  try {
    const { status, built } = await makeCatalog(a, false);
    if (!status.complete)
      writeLine(
        'stderr',
        `desi-qad catalog: WARN: the dataset is not complete (${status.tiles.done} of ${status.tiles.planned} tiles done): the table holds the tiles done`,
      );
    writeLine('stdout', builtLine(built!));
    return EXIT.ok;
  } catch (err) {
    const code = err instanceof CatalogError ? err.code : EXIT.fatal;
    const e = explainError(err);
    writeLine('stderr', `desi-qad catalog: ${err instanceof CatalogError ? err.message : e.message}`);
    if (!(err instanceof CatalogError) && e.hint) writeLine('stderr', `hint: ${e.hint}`);
    return code;
  }
}

/**
 * The table at the end of a convert run that ended with exit 0: written when the journal says the dataset
 * is complete (every planned tile done, no other run writing it; of the shards of a plan, the one that
 * finishes last writes it); otherwise one line says why not. A failure is one WARN line on stderr, never a
 * change of the run's exit status: `desi-qad catalog` writes it again.
 */
export async function writeRunCatalog(a: CatalogConnection & { quiet?: boolean }): Promise<void> {
  const say = (line: string) => {
    if (!a.quiet) writeLine('stdout', line);
  };
  try {
    const { status, built } = await makeCatalog(a, true);
    if (built) say(builtLine(built));
    else {
      const live = status.runs.filter((r) => r.alive).length;
      say(
        `Catalog: not written: ${status.tiles.done} of ${status.tiles.planned} tiles are done${live > 0 ? ` and ${live} other run(s) are writing the dataset` : ''} (the run that completes the dataset writes it; or run desi-qad catalog)`,
      );
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    writeLine('stderr', `desi-qad convert: WARN: the primary-spectra catalog was not written: ${redactSecrets(message)}`);
  }
}

function builtLine(b: BuiltCatalog & { location: string; unchanged: boolean }): string {
  return `Catalog: ${b.location} (${b.rows} spectra of ${b.targets} targets, from ${b.files} files; TSNR2_LRG in ${b.filesWithTsnr2} of them)${b.unchanged ? ', unchanged' : ''}`;
}

/** Reads the journal and, unless `onlyComplete` and the dataset is not complete, builds and writes the table. */
async function makeCatalog(
  a: CatalogConnection,
  onlyComplete: boolean,
): Promise<{ status: Status; built?: BuiltCatalog & { location: string; unchanged: boolean } }> {
  let stores: Stores;
  try {
    stores = openStores({ source: DR1_HEALPIX, out: a.out, ...connectionOf(a) }); // the source is not read
  } catch (err) {
    throw new CatalogError(EXIT.usage, (err as Error).message);
  }
  await registerStoreSecrets();
  const { out, journal, identity, registry } = stores;
  try {
    const { records, damaged } = await journal.load();
    const id = await identity.read();
    if (!id && records.length === 0)
      throw new CatalogError(EXIT.usage, `${out.root}: not a desi-qad dataset (no manifest ${identity.location} and no journal ${journal.location})`);
    const plan = await readPlan(out);
    const runs = await registry.listRuns();
    const status = computeStatus({
      identity: id,
      plan,
      records,
      runs,
      now: new Date(),
      damaged,
      processGone: registry instanceof BaseRegistry ? (h) => registry.processGone(h) : undefined,
    });
    if (onlyComplete && !status.complete) return { status };
    const built = await writeCatalog(out, {
      files: catalogFiles(records),
      open: opener(a, stores),
      version: toolVersion(),
      selection: id?.selection,
      source: id?.source,
    });
    return { status, built };
  } catch (err) {
    if (err instanceof CatalogError) throw err;
    const e = explainError(err);
    throw new CatalogError(EXIT.fatal, `${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
  } finally {
    await journal.close();
  }
}

/** Ranged reads of the dataset's files: a local file, or an S3 object through the client --out is written with. */
function opener(a: CatalogConnection, stores: Stores): CatalogOpener {
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
