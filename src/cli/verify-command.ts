import type { Argv } from 'yargs';
import { EXIT } from '../pipeline/run.js';
import type { JournalRecord } from '../storage/journal-store.js';
import { checkDataset } from '../verify/checks.js';
import { DatasetUnreadableError, LocalDatasetFiles, S3DatasetFiles, type DatasetFiles } from '../verify/dataset-files.js';
import { checkDeep, selectionOfText } from '../verify/deep.js';
import { afterburnersNeeded } from '../desi/selection.js';
import { emptyChecked, finding, sortFindings, type Finding, type VerifyReport } from '../verify/findings.js';
import { reportJson, reportLines } from '../verify/format.js';
import { LocalCumulativeLookup, S3CumulativeLookup } from '../verify/cumulative-lookup.js';
import { LocalSourceLookup, S3SourceLookup, type SourceLookup } from '../verify/source-lookup.js';
import { checkSources } from '../verify/sources.js';
import { writeLine } from './console.js';
import { checkS3ConnectionOptions, s3ConnectionOptions } from './convert-command.js';
import { explainError } from './explain.js';
import { connectionOf, DR1_HEALPIX, openStores, registerStoreSecrets } from './stores.js';
import { toolVersion } from './version.js';

/**
 * `desi-qad verify --out O [--source S] [--deep N] [--json]`: re-checks a finished (or partial) dataset
 * against its journal, and with --source against its sources: every file the journal calls ok is there
 * with its size, footer, selection, tile, schema and rows; nothing stray lies beside them; the sources are
 * the ones the tiles were made from; and with --deep N, N tiles converted again give the same bytes. It
 * only reads --out and --source (--deep converts into a scratch folder it removes).
 *
 * Exit 0 when everything holds, 1 when there are findings, 2 usage (bad options, --deep without --source,
 * not a dataset), 4 when --out or --source cannot be read (no such bucket or folder, no endpoint).
 */
export function verifyOptions(y: Argv) {
  return s3ConnectionOptions(y)
    .option('out', { type: 'string', describe: 'the dataset: a folder or s3://bucket/prefix', demandOption: true })
    .option('source', {
      type: 'string',
      describe: 'also check the coadd and redrock of every done tile against the journal (a folder or s3://bucket/prefix, as given to convert)',
    })
    .option('deep', {
      type: 'number',
      describe: 'also convert N ok tiles again (drawn at random for --seed) into a scratch folder and compare the bytes (needs --source)',
    })
    .option('seed', { type: 'number', default: 42, describe: 'seed of the --deep draw' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as one JSON document instead of a table' })
    .option('sign-request', {
      type: 'boolean',
      describe: 'sign S3 reads of --source with the AWS credential chain; --no-sign-request reads anonymously (the default for s3://desidata)',
    })
    .check((a) => {
      checkS3ConnectionOptions(a);
      if (typeof a.out !== 'string' || a.out.trim() === '') throw new Error('--out names the dataset: a folder or s3://bucket/prefix');
      if (a.source !== undefined && (typeof a.source !== 'string' || a.source.trim() === '')) throw new Error('--source names a folder or s3://bucket/prefix');
      if (!Number.isInteger(a.seed) || a.seed < 0) throw new Error('--seed must be an integer >= 0');
      if (a.deep !== undefined) {
        if (!Number.isInteger(a.deep) || a.deep < 0) throw new Error('--deep must be an integer >= 0 (tiles to convert again)');
        if (a.source === undefined) throw new Error('--deep needs --source: the tiles are converted again from it');
      }
      return true;
    });
}

type VerifyArgs = Awaited<ReturnType<typeof verifyOptions>['argv']>;

export async function verifyCommand(a: VerifyArgs): Promise<number> {
  const say = (message: string) => writeLine('stderr', `desi-qad verify: ${message}`);
  const connection = connectionOf(a);
  let stores: ReturnType<typeof openStores>;
  let files: DatasetFiles;
  // The lookup fits the dataset's layout, known once its manifest is read.
  let sourceOf: ((layout: 'tiles' | undefined) => SourceLookup) | undefined;
  try {
    stores = openStores({ source: a.source ?? DR1_HEALPIX, out: a.out, ...connection });
    const retry = { maxAttempts: a['max-attempts'] };
    // The clients convert would use: the source anonymous for DESI's public bucket unless --sign-request, the
    // dataset signed with the credential chain.
    const { clients } = stores;
    if (a.source !== undefined) {
      const source = a.source;
      sourceOf = (layout) =>
        layout === 'tiles'
          ? clients.source
            ? new S3CumulativeLookup(clients.source, source, retry)
            : new LocalCumulativeLookup(source)
          : clients.source
            ? new S3SourceLookup(clients.source, source, retry)
            : new LocalSourceLookup(source);
    }
    files = clients.out ? new S3DatasetFiles(clients.out, a.out, retry) : new LocalDatasetFiles(a.out);
  } catch (err) {
    say((err as Error).message);
    return EXIT.usage;
  }
  await registerStoreSecrets();
  const { journal, identity, registry } = stores;
  const report: VerifyReport = { ok: false, dataset: files.root, tiles: 0, files: 0, checked: emptyChecked(), findings: [] };
  const print = () => {
    if (a.json) writeLine('stdout', reportJson(report));
    else for (const line of reportLines(report)) writeLine('stdout', line);
  };
  let phase: 'out' | 'source' = 'out';
  try {
    // The journal first: its first LIST gives up after two attempts, so a wrong endpoint is said quickly.
    const { records, damaged } = await journal.load();
    const id = await identity.read();
    if (!id && records.length === 0) {
      await files.list(); // a folder that does not exist cannot be read (exit 4); an empty one is no dataset
      const message = `${files.root}: not a desi-qad dataset (no manifest ${identity.location} and no journal ${journal.location})`;
      say(message);
      report.findings.push(finding('no-dataset', message));
      if (a.json) print();
      return EXIT.usage;
    }
    const selection = id?.selection ?? lastRunSelection(records);
    // Files renamed into place a moment before their record is written would look stray: say so.
    const now = Date.now();
    const live = (await registry.listRuns()).filter((r) => now <= Date.parse(r.heartbeat) + r.leaseMs);
    if (live.length > 0)
      say(`${live.length} run(s) are writing this dataset now (${live.map((r) => r.run).join(', ')}): findings may be work in progress; verify once they end`);
    const base = await checkDataset({ files, records, damaged, selection, isGone: (run) => registry.isGone(run) });
    const findings: Finding[] = [...base.findings];
    report.checked = base.checked;
    report.tiles = base.latest.size;
    report.files = base.parquetFiles;
    const sources = sourceOf?.(id?.layout);
    if (a.source !== undefined && sources) {
      phase = 'source';
      const infos = new Map([...base.okTiles].filter(([, t]) => t.info !== undefined).map(([k, t]) => [k, t.info!]));
      // The afterburners the selection reads are sources too (a text this version cannot read back reads none).
      const read = selection !== undefined ? selectionOfText(selection) : undefined;
      const s = await checkSources(sources, base.latest, infos, read ? afterburnersNeeded(read) : []);
      findings.push(...s.findings);
      report.checked.sources = s.compared;
      report.checked.sourcesUnknown = s.unknown;
      if (a.deep !== undefined && a.deep > 0) {
        const d = await checkDeep(files, base.okTiles, {
          source: a.source,
          selection: selection ?? '(unknown: no manifest and no run record)',
          columns: id?.columns,
          withGroups: [...(id?.resolution === true ? ['resolution'] : []), ...(id?.with ?? [])],
          passOn: passOnOptions(a),
          count: a.deep,
          seed: a.seed,
          version: toolVersion(),
          datasetSource: id?.source,
          sourceRoot: sources.root,
          refs: s.found,
        });
        findings.push(...d.findings);
        report.checked.deep = d.compared;
      }
    }
    report.findings = sortFindings(findings);
    report.ok = report.findings.length === 0;
  } catch (err) {
    const e = explainError(err);
    const message = err instanceof DatasetUnreadableError ? err.message : `${phase === 'source' ? `--source ${a.source}: ` : ''}${e.message}`;
    say(`${message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
    if (a.json) {
      report.findings = [finding(phase === 'source' ? 'source-unreadable' : 'out-unreadable', message)];
      print();
    }
    return EXIT.fatal;
  } finally {
    await journal.close();
  }
  print();
  return report.ok ? EXIT.ok : EXIT.someFailed;
}

/** The selection of the last run record: the dataset's when it has no manifest (older versions). */
function lastRunSelection(records: readonly JournalRecord[]): string | undefined {
  let selection: string | undefined;
  for (const r of records) if (r.type === 'run') selection = r.selection;
  return selection;
}

/** The S3 options a --deep re-conversion needs to read --source as this command does. */
function passOnOptions(a: VerifyArgs): string[] {
  const opts = ['--region', a.region, '--cli-read-timeout', String(a['cli-read-timeout'])];
  opts.push('--cli-connect-timeout', String(a['cli-connect-timeout']), '--max-attempts', String(a['max-attempts']));
  if (a.endpoint !== undefined) opts.push('--endpoint', a.endpoint);
  if (a.profile !== undefined) opts.push('--profile', a.profile);
  if (a['sign-request'] !== undefined) opts.push(a['sign-request'] ? '--sign-request' : '--no-sign-request');
  return opts;
}
