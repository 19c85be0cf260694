import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { parseColumnSet, type ColumnSet } from '../desi/column-sets.js';
import { afterburnerKinds, parseSelection, selectionText, type AfterburnerKind, type Selection } from '../desi/selection.js';
import { parseWith } from './with-option.js';
import { checkIdentity, discoverTiles, EXIT, logStop, type RunOptions } from '../pipeline/run.js';
import { RunLog, type Level } from '../pipeline/log.js';
import { Journal } from '../pipeline/journal.js';
import { makePlan, PLAN_REL, readPlan, withGroupsOf, writePlan, type Plan } from '../pipeline/plan-file.js';
import { MAX_SHARDS } from '../pipeline/shard.js';
import { mb } from '../pipeline/format.js';
import { explainError } from './explain.js';
import { writeLine } from './console.js';
import { toolVersion } from './version.js';
import { connectionOf, openStores, registerStoreSecrets, type Stores } from './stores.js';
import { checkSharedOptions, commandLine, selectionOptions, storeOptions, surveysPrograms, tileSpecsOf, defaultSource } from './convert-command.js';
import { redactSecrets } from '../util/secrets.js';

/**
 * `desi-qad plan --out O --shards N`: discovers the source once, establishes (or checks) the dataset's
 * identity, and writes `O/_desi-qad/plan.json`, the tiles of each of N shards balanced by bytes, so that N
 * array tasks (`convert --shard K/N`, or the scheduler's index) convert the dataset without discovering.
 */
export function planOptions(y: Argv) {
  return selectionOptions(storeOptions(y))
    .option('shards', { type: 'number', demandOption: true, describe: `number of shards (array tasks) to plan for, 1..${MAX_SHARDS}` })
    .option('log-dir', { type: 'string', default: 'logs', describe: 'where run_YYYYMMDD_HHMMSS_plan.log goes' })
    .check((a) => {
      if (!Number.isInteger(a.shards) || a.shards < 1 || a.shards > MAX_SHARDS) throw new Error(`--shards must be an integer between 1 and ${MAX_SHARDS}`);
      return checkSharedOptions(a);
    });
}

type PlanArgs = Awaited<ReturnType<typeof planOptions>['argv']>;

export async function planCommand(a: PlanArgs): Promise<number> {
  let selection: Selection;
  let columns: ColumnSet;
  let withAfterburners: AfterburnerKind[];
  let withResolution: boolean;
  let stores: Stores;
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
    stores = openStores({
      source: a.source ?? defaultSource(a.layout),
      layout: a.layout,
      out: a.out,
      ...connectionOf(a, 8),
    });
  } catch (err) {
    process.stderr.write(`desi-qad plan: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  // Credential values in use are known before the first line is logged, so no line can carry them.
  await registerStoreSecrets();
  return runPlan({
    stores,
    selection,
    columns,
    withAfterburners,
    withResolution,
    ...surveysPrograms(a),
    tiles: tileSpecsOf(a),
    sample: a.sample,
    seed: a.seed,
    shards: a.shards,
    allowMissing: a['allow-missing'],
    logDir: a['log-dir'],
    command: commandLine(process.argv),
  });
}

/** What `desi-qad plan` was asked for, with its stores open. */
export type PlanOptions = Pick<
  RunOptions,
  'selection' | 'columns' | 'withAfterburners' | 'withResolution' | 'surveys' | 'programs' | 'tiles' | 'sample' | 'seed' | 'allowMissing' | 'logDir' | 'command'
> & {
  stores: Stores;
  shards: number;
};

/**
 * Makes and writes the plan, logging like a run (`run_…_plan.log`, INFO on stdout, the rest on stderr).
 * Returns convert's exit statuses: 0 written, 2 usage or identity mismatch, 4 source or output failure.
 */
export async function runPlan(o: PlanOptions): Promise<number> {
  const start = new Date();
  const { store, out, identity, registry } = o.stores;
  const echo = (line: string, level: Level) => writeLine(level === 'INFO' ? 'stdout' : 'stderr', line);
  let log: RunLog;
  try {
    log = new RunLog(o.logDir, start, echo, 'plan');
  } catch (err) {
    echo(`desi-qad plan: ${explainError(err).message}`, 'ERROR');
    return EXIT.fatal;
  }
  let journal: Journal | undefined;
  try {
    const sel = selectionText(o.selection);
    const version = toolVersion();
    log.info(`${version}: plan ${registry.run} on ${hostname()} (pid ${process.pid}), Node ${process.version}`);
    if (o.command) log.info(`Command: ${o.command}`);
    log.info(
      `Source: ${store.root} (survey ${o.surveys.join(',')}, program ${o.programs.join(',')}${o.tiles?.length ? `, ${o.tiles.length} --tiles` : ''}${o.sample !== undefined ? `, sample ${o.sample} seed ${o.seed}` : ''})`,
    );
    log.info(`Output: ${out.root}`);
    log.info(`Selection: ${sel}`);

    journal = await Journal.open(o.stores.journal);
    await checkIdentity({
      identity,
      journal,
      out,
      source: store.root,
      layout: store.layout,
      selection: sel,
      columns: o.columns,
      withAfterburners: o.withAfterburners,
      withResolution: o.withResolution,
      version,
      run: registry.run,
      start,
      log,
    });
    const tiles = await discoverTiles({ ...o, store, log });

    let old: Plan | undefined;
    try {
      old = await readPlan(out);
    } catch (err) {
      log.warn(`Replacing a plan that cannot be read: ${redactSecrets((err as Error).message)}`);
    }
    const plan = makePlan({
      tiles,
      shards: o.shards,
      created: start,
      createdBy: registry.run,
      source: store.root,
      selection: sel,
      columns: o.columns ?? 'default',
      with: withGroupsOf(o),
      surveys: o.surveys,
      programs: o.programs,
    });
    await writePlan(out, plan);
    log.info(
      old
        ? `Replaced the plan ${out.location(PLAN_REL)} (${old.shards} shards, ${old.totalTiles} tiles, made ${old.created} by run ${old.createdBy}).`
        : `Wrote the plan ${out.location(PLAN_REL)}.`,
    );
    for (let k = 0; k < plan.shards; k++) log.info(`shard ${k}/${plan.shards}: ${plan.shardTiles[k]} tiles, ${mb(plan.shardBytes[k])} MB`);
    log.info(`Total: ${plan.totalTiles} tiles, ${mb(plan.totalBytes)} MB in ${plan.shards} shards.`);
    const idle = plan.shardTiles.filter((n) => n === 0).length;
    if (idle > 0) log.warn(`${idle} of the ${plan.shards} shards have no tile (more shards than tiles); they finish at once.`);
    log.info(`Next: run \`desi-qad convert --out ${out.root} --shard K/${plan.shards}\` for K = 0..${plan.shards - 1} (or as an array job).`);
    return EXIT.ok;
  } catch (err) {
    return logStop(log, err, 'Plan');
  } finally {
    await journal?.close().catch(() => undefined);
    log.close();
  }
}
