import type { Argv } from 'yargs';
import { EXIT } from '../pipeline/run.js';
import { duration, mb } from '../pipeline/format.js';
import { readPlan } from '../pipeline/plan-file.js';
import { computeStatus, RECENT_WINDOW_MS, type Status } from '../pipeline/status.js';
import { BaseRegistry } from '../storage/run-registry.js';
import { writeLine } from './console.js';
import { explainError } from './explain.js';
import { connectionOf, DR1_HEALPIX, openStores, registerStoreSecrets } from './stores.js';
import { checkS3ConnectionOptions, s3ConnectionOptions } from './convert-command.js';

/**
 * `desi-qad status --out O [--json]`: how far the dataset in O is, read while its runs or shards are still
 * writing it: tiles done, failed (by error class) and missing against the plan, sizes, throughput and ETA,
 * each shard's progress and the live runs. It only reads: nothing is written to --out. On S3 it costs a few
 * LISTs and a few GETs, however many tiles there are (the journal's records are read from their names).
 *
 * Exit 0 when every planned tile is done (ok or empty), 1 when not, 2 usage, 4 when the dataset cannot be
 * read (not a desi-qad dataset, or an S3 or file error).
 */
export function statusOptions(y: Argv) {
  return s3ConnectionOptions(y)
    .option('out', { type: 'string', describe: 'the dataset: a folder or s3://bucket/prefix', demandOption: true })
    .option('json', { type: 'boolean', default: false, describe: 'print the status as one JSON object instead of a table' })
    .option('sign-request', {
      type: 'boolean',
      describe: 'accepted as convert takes it (it is about --source); --out is read with the AWS credential chain, as convert writes it',
    })
    .check((a) => {
      checkS3ConnectionOptions(a);
      if (typeof a.out !== 'string' || a.out.trim() === '') throw new Error('--out names the dataset: a folder or s3://bucket/prefix');
      return true;
    });
}

type StatusArgs = Awaited<ReturnType<typeof statusOptions>['argv']>;

/** What `--json` prints: the status and where it was read. */
export interface StatusReport extends Status {
  out: string;
  now: string;
}

export async function statusCommand(a: StatusArgs): Promise<number> {
  let stores: ReturnType<typeof openStores>;
  try {
    stores = openStores({
      source: DR1_HEALPIX, // not read: status looks at --out only
      out: a.out,
      ...connectionOf(a),
    });
  } catch (err) {
    writeLine('stderr', `desi-qad status: ${(err as Error).message}`);
    return EXIT.usage;
  }
  await registerStoreSecrets();
  const { out, journal, identity, registry } = stores;
  const where = out.root;
  let report: StatusReport;
  try {
    // The journal first: its first LIST gives up after two attempts, so a wrong endpoint is said quickly.
    const { records, damaged } = await journal.load();
    const id = await identity.read();
    if (!id && records.length === 0) {
      writeLine('stderr', `desi-qad status: ${where}: not a desi-qad dataset (no manifest ${identity.location} and no journal ${journal.location})`);
      return EXIT.fatal;
    }
    const plan = await readPlan(out);
    const runs = await registry.listRuns();
    const now = new Date();
    const status = computeStatus({
      identity: id,
      plan,
      records,
      runs,
      now,
      damaged,
      processGone: registry instanceof BaseRegistry ? (h) => registry.processGone(h) : undefined,
    });
    report = { out: where, now: now.toISOString(), ...status };
  } catch (err) {
    const e = explainError(err);
    writeLine('stderr', `desi-qad status: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
    return EXIT.fatal;
  } finally {
    await journal.close();
  }
  if (a.json) writeLine('stdout', JSON.stringify(report, null, 2));
  else for (const line of statusLines(report)) writeLine('stdout', line);
  return report.complete ? EXIT.ok : EXIT.someFailed;
}

/** The readable table: the dataset, the tiles (like the run log's outcome table), TOTALS, shards, live runs. */
export function statusLines(s: StatusReport): string[] {
  const now = Date.parse(s.now);
  const ago = (iso: string | undefined) => (iso === undefined ? '-' : `${iso} (${duration(Math.max(0, now - Date.parse(iso)))} ago)`);
  const t = s.tiles;
  const lines = [`Status of ${s.out} at ${s.now}`];
  if (s.identity) {
    lines.push(
      `  Selection : ${s.identity.selection}`,
      `  Source    : ${s.identity.source}`,
      `  Created   : ${s.identity.created} by run ${s.identity.createdBy}`,
    );
  } else lines.push('  (no dataset manifest: made by an older desi-qad, or its first run is starting)');
  lines.push(
    s.plan
      ? `  Plan      : ${s.plan.shards} shards, ${s.plan.tiles} tiles, ${mb(s.plan.bytes)} MB of FITS (made ${s.plan.created})`
      : '  Plan      : none (the tiles counted are those the journal knows)',
  );
  lines.push(
    '--- Tiles ---',
    `  planned        : ${t.planned} tiles`,
    `  done           : ${t.done} tiles (ok ${t.ok}, ${s.rows} rows; empty ${t.empty})`,
    `  missing source : ${t.missing} tiles`,
    `  failed         : ${t.failed} tiles`,
  );
  for (const f of s.failures)
    lines.push(`    ${f.errorClass} : ${f.tiles} (e.g. ${f.example.key}${f.example.message !== undefined ? `: ${f.example.message}` : ''})`);
  // A missing tile's message names its key already ("main/dark/27248: no redrock file …"), as in the run log.
  for (const m of s.missingTiles)
    lines.push(`    missing: ${m.message?.includes(m.key) ? m.message : `${m.key}${m.message !== undefined ? `: ${m.message}` : ''}`}`);
  if (t.missing > s.missingTiles.length) lines.push(`    … and ${t.missing - s.missingTiles.length} more missing`);
  lines.push(`  remaining      : ${t.remaining} tiles (${t.notStarted} not started, ${mb(s.remainingBytes)} MB of FITS)`);
  if (t.outsidePlan > 0) lines.push(`  outside plan   : ${t.outsidePlan} tiles in the journal that the plan does not list (not counted)`);
  if (s.damagedRecords > 0) lines.push(`  damaged        : ${s.damagedRecords} journal records did not parse (their tiles count as not done)`);
  const rate = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)} MB/s`);
  lines.push(
    'TOTALS:',
    `  FITS Covered    : ${mb(s.fitsBytes)} MB (${(s.fitsBytes / 1e9).toFixed(1)} GB)`,
    `  Bytes Fetched   : ${mb(s.fetchedBytes)} MB`,
    `  Parquet Created : ${mb(s.parquetBytes)} MB (${s.rows} rows)`,
    `  Speed (last ${RECENT_WINDOW_MS / 60_000} min): ${rate(s.throughput.recentMBps)}`,
    `  Speed (overall) : ${rate(s.throughput.overallMBps)}${s.firstRecord && s.lastRecord ? ` from ${s.firstRecord} to ${s.lastRecord}` : ''}`,
    `  ETA             : ${s.eta.seconds === null ? '- (no rate yet)' : s.eta.seconds === 0 ? 'done' : `${duration(s.eta.seconds * 1000)} (at the ${s.eta.basis} rate)`}`,
  );
  if (s.shards.length > 0) {
    lines.push('--- Shards ---');
    for (const sh of s.shards)
      lines.push(
        `  ${sh.shard.padEnd(7)} ${sh.tiles} tiles: done ${sh.done}, failed ${sh.failed}, missing ${sh.missing}, remaining ${sh.remaining}; last activity ${ago(sh.lastActivity)}`,
      );
  }
  const live = s.runs.filter((r) => r.alive);
  lines.push(`--- Live runs: ${live.length} ---`);
  for (const r of live) lines.push(`  ${r.run} on ${r.host} pid ${r.pid}${r.shard ? ` shard ${r.shard}` : ''}: heartbeat ${ago(r.heartbeat)}`);
  const stale = s.runs.length - live.length;
  if (stale > 0) lines.push(`  (${stale} heartbeat record(s) of runs that are gone)`);
  lines.push(
    s.complete
      ? `✅ Complete: all ${t.planned} planned tiles are done.`
      : t.planned === 0
        ? `Not complete: the journal has no tile yet and there is no plan${live.length > 0 ? ` (${live.length} live run(s))` : ''}.`
        : t.remaining === 0
          ? `Not complete: no tile remains that the journal knows, but ${live.length} live run(s) may find more (no plan).`
          : `Not complete: ${t.remaining} of ${t.planned} tiles remain (${t.failed} failed, ${t.missing} missing, ${t.notStarted} not started).`,
  );
  return lines;
}
