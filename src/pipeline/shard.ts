import { UsageError } from './run.js';

/** Where a run's shard came from: the command line, or the array index a scheduler puts in the environment. */
export type ShardSource = '--shard' | 'SLURM_ARRAY_TASK_ID' | 'JOB_COMPLETION_INDEX' | 'AWS_BATCH_JOB_ARRAY_INDEX';

/** A run's shard: 0-based index, the number of shards when the source says it (Slurm, --shard), and the source. */
export interface ShardChoice {
  index: number;
  /** Undefined when only the plan knows it (Kubernetes, AWS Batch) and no plan count was given. */
  count?: number;
  from: ShardSource;
}

/** The largest --shards of a plan (and N of --shard K/N): far above any array job, small enough to catch a typo. */
export const MAX_SHARDS = 10000;

/**
 * Parses `--shard K/N` ("2/4": the third of four shards, 0-based) or "none" (a plain, unsharded run). Throws a
 * UsageError naming the value when K or N is not an integer, N is outside 1..MAX_SHARDS, or K is not below N.
 */
export function parseShard(text: string): { index: number; count: number } | 'none' {
  const t = text.trim();
  if (t === 'none') return 'none';
  const m = /^(\d+)\/(\d+)$/.exec(t);
  if (!m) throw new UsageError(`--shard ${JSON.stringify(text)}: expected K/N (0-based, e.g. 2/4) or "none"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new UsageError(`--shard ${t}: N must be between 1 and ${MAX_SHARDS}`);
  if (index >= count) throw new UsageError(`--shard ${t}: K is 0-based and must be below N (0..${count - 1})`);
  return { index, count };
}

/** A non-negative integer from the environment variable `name`; a UsageError naming the variable otherwise. */
function envInt(env: NodeJS.ProcessEnv, name: string): number {
  const v = (env[name] ?? '').trim();
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${name}=${JSON.stringify(env[name])} is not a non-negative integer`);
  return Number(v);
}

/** True when the variable is set to something (an empty value counts as unset, as schedulers never set one). */
const isSet = (env: NodeJS.ProcessEnv, name: string) => (env[name] ?? '').trim() !== '';

/**
 * The shard the scheduler's environment names, first match wins: SLURM_ARRAY_TASK_ID (minus
 * SLURM_ARRAY_TASK_MIN when set; N = SLURM_ARRAY_TASK_COUNT), then JOB_COMPLETION_INDEX (a Kubernetes Indexed
 * Job), then AWS_BATCH_JOB_ARRAY_INDEX; for the last two N is the plan's (`planCount`, when known). Undefined
 * when none is set. A value that is not an integer, or an index outside 0..N-1, is a UsageError naming the
 * variable, so a misconfigured array task fails at once instead of converting another shard's tiles.
 */
export function shardFromEnv(env: NodeJS.ProcessEnv, planCount?: number): ShardChoice | undefined {
  if (isSet(env, 'SLURM_ARRAY_TASK_ID')) {
    const id = envInt(env, 'SLURM_ARRAY_TASK_ID');
    const min = isSet(env, 'SLURM_ARRAY_TASK_MIN') ? envInt(env, 'SLURM_ARRAY_TASK_MIN') : 0;
    if (!isSet(env, 'SLURM_ARRAY_TASK_COUNT'))
      throw new UsageError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: cannot tell the number of shards (or pass --shard K/N)');
    const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    if (count < 1 || count > MAX_SHARDS) throw new UsageError(`SLURM_ARRAY_TASK_COUNT=${count}: the number of shards must be between 1 and ${MAX_SHARDS}`);
    const index = id - min;
    if (index < 0 || index >= count)
      throw new UsageError(
        `SLURM_ARRAY_TASK_ID=${id} minus SLURM_ARRAY_TASK_MIN=${min} is shard ${index}, outside 0..${count - 1} (SLURM_ARRAY_TASK_COUNT=${count}); use a contiguous --array range`,
      );
    return { index, count, from: 'SLURM_ARRAY_TASK_ID' };
  }
  for (const from of ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX'] as const) {
    if (!isSet(env, from)) continue;
    const index = envInt(env, from);
    if (planCount !== undefined && index >= planCount) throw new UsageError(`${from}=${index} is outside the plan's shards 0..${planCount - 1}`);
    return planCount !== undefined ? { index, count: planCount, from } : { index, from };
  }
  return undefined;
}

/**
 * The shard of a convert run: `--shard K/N` when given ("none": a plain run, whatever the environment says),
 * else the environment's (shardFromEnv). Undefined for a plain run.
 */
export function resolveShard(arg: string | undefined, env: NodeJS.ProcessEnv, planCount?: number): ShardChoice | undefined {
  if (arg !== undefined) {
    const s = parseShard(arg);
    return s === 'none' ? undefined : { ...s, from: '--shard' };
  }
  return shardFromEnv(env, planCount);
}

/** "2/4", as journal records carry it. */
export function shardText(index: number, count: number): string {
  return `${index}/${count}`;
}
