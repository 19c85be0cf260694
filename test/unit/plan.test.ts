/**
 * Scale-out's pure parts: `--shard K/N`, the scheduler's environment, the byte balance of a plan, and the
 * plan file's round trip and its refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShard, resolveShard, shardFromEnv } from '../../src/pipeline/shard.js';
import { balanceShards, makePlan, parsePlan, planColumns, planTileRef, planWith, shardTiles, withGroupsOf, type Plan } from '../../src/pipeline/plan-file.js';
import { UsageError } from '../../src/pipeline/run.js';
import type { TileRef } from '../../src/desi/tile.js';

test('parseShard: K/N 0-based, "none", and usage errors for K >= N, negatives, N = 0 and junk', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard('0/1'), { index: 0, count: 1 });
  assert.deepEqual(parseShard(' 3/4 '), { index: 3, count: 4 });
  assert.equal(parseShard('none'), 'none');
  for (const bad of ['4/4', '5/4', '-1/4', '1/0', '0/0', 'junk', '1', '1/', '/4', '1.5/4', '1/4/2', '', '0/10001', 'a/b'])
    assert.throws(() => parseShard(bad), UsageError, bad);
  assert.throws(() => parseShard('4/4'), /below N \(0\.\.3\)/);
});

test('shardFromEnv: Slurm (with and without SLURM_ARRAY_TASK_MIN), Kubernetes, AWS Batch, first match wins', () => {
  assert.equal(shardFromEnv({}), undefined);
  assert.equal(shardFromEnv({ SLURM_ARRAY_TASK_ID: '' }), undefined);
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 2, count: 4, from: 'SLURM_ARRAY_TASK_ID' });
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), {
    index: 3,
    count: 4,
    from: 'SLURM_ARRAY_TASK_ID',
  });
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '3' }), { index: 3, from: 'JOB_COMPLETION_INDEX' });
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '3' }, 4), { index: 3, count: 4, from: 'JOB_COMPLETION_INDEX' });
  assert.deepEqual(shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0' }, 2), { index: 0, count: 2, from: 'AWS_BATCH_JOB_ARRAY_INDEX' });
  // First match wins: Slurm over Kubernetes over AWS Batch.
  assert.equal(
    shardFromEnv({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2', JOB_COMPLETION_INDEX: '0', AWS_BATCH_JOB_ARRAY_INDEX: '0' })?.from,
    'SLURM_ARRAY_TASK_ID',
  );
  assert.equal(shardFromEnv({ JOB_COMPLETION_INDEX: '1', AWS_BATCH_JOB_ARRAY_INDEX: '0' })?.from, 'JOB_COMPLETION_INDEX');
});

test('shardFromEnv: a bad value is a usage error naming the variable', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '4' }, /SLURM_ARRAY_TASK_ID="x"/],
    [{ SLURM_ARRAY_TASK_ID: '1' }, /SLURM_ARRAY_TASK_COUNT is not/],
    [{ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '-2' }, /SLURM_ARRAY_TASK_COUNT/],
    [{ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '0' }, /SLURM_ARRAY_TASK_COUNT=0/],
    [{ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4' }, /shard 4, outside 0\.\.3/],
    [{ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }, /shard -1/],
    [{ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1.5' }, /SLURM_ARRAY_TASK_MIN/],
    [{ JOB_COMPLETION_INDEX: '-1' }, /JOB_COMPLETION_INDEX="-1"/],
    [{ JOB_COMPLETION_INDEX: '2.0' }, /JOB_COMPLETION_INDEX/],
    [{ AWS_BATCH_JOB_ARRAY_INDEX: 'seven' }, /AWS_BATCH_JOB_ARRAY_INDEX/],
  ];
  for (const [env, re] of cases)
    assert.throws(
      () => shardFromEnv(env),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      JSON.stringify(env),
    );
  assert.throws(() => shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '4' }, 4), /AWS_BATCH_JOB_ARRAY_INDEX=4 is outside the plan's shards 0\.\.3/);
});

test('resolveShard: --shard wins over the environment, and --shard none forces a plain run', () => {
  const env = { JOB_COMPLETION_INDEX: '1' };
  assert.deepEqual(resolveShard('0/2', env), { index: 0, count: 2, from: '--shard' });
  assert.equal(resolveShard('none', env), undefined);
  assert.deepEqual(resolveShard(undefined, env, 2), { index: 1, count: 2, from: 'JOB_COMPLETION_INDEX' });
  assert.equal(resolveShard(undefined, {}), undefined);
});

const ref = (healpix: number, coadd: number, redrock = 10, survey = 'main', program = 'dark'): TileRef => ({
  survey,
  program,
  healpix,
  coadd: { path: `/src/${healpix}/coadd.fits`, size: coadd, mtimeMs: 1 },
  redrock: { path: `/src/${healpix}/redrock.fits`, size: redrock, etag: '"e"' },
});

test('balanceShards: deterministic, a big tile alone on its shard, the rest spread by bytes', () => {
  const tiles = [ref(1, 100), ref(2, 100), ref(3, 5000), ref(4, 100), ref(5, 100), ref(6, 100), ref(7, 100)];
  const a = balanceShards(tiles, 2);
  assert.deepEqual([...balanceShards([...tiles].reverse(), 2)].sort(), [...a].sort(), 'the input order does not matter');
  assert.equal(a.get('main/dark/3'), 0, 'the largest tile goes first, to shard 0');
  for (const k of [1, 2, 4, 5, 6, 7]) assert.equal(a.get(`main/dark/${k}`), 1, `tile ${k} avoids the big tile's shard`);
  // Equal tiles over 3 shards: 2 each; ties by key and by lowest shard index.
  const even = balanceShards([ref(10, 50), ref(11, 50), ref(12, 50), ref(13, 50), ref(14, 50), ref(15, 50)], 3);
  assert.deepEqual(
    [0, 1, 2].map((s) => [...even].filter(([, x]) => x === s).length),
    [2, 2, 2],
  );
  assert.equal(even.get('main/dark/10'), 0);
  assert.equal(even.get('main/dark/11'), 1);
  // Greedy bound: no shard exceeds the average by more than the largest tile.
  const sizes = Array.from({ length: 40 }, (_, i) => ref(100 + i, ((i * 7919) % 997) * 1000 + 1));
  const shards = balanceShards(sizes, 4);
  const load = [0, 0, 0, 0];
  for (const t of sizes) load[shards.get(`main/dark/${t.healpix}`)!] += t.coadd!.size + t.redrock!.size;
  const avg = load.reduce((s, x) => s + x, 0) / 4;
  const largest = Math.max(...sizes.map((t) => t.coadd!.size + t.redrock!.size));
  for (const l of load) assert.ok(l <= avg + largest, `${l} vs ${avg} + ${largest}`);
  assert.throws(() => balanceShards(tiles, 0), RangeError);
});

const planArgs = (tiles: TileRef[], shards: number) => ({
  tiles,
  shards,
  created: new Date('2026-01-02T03:04:05Z'),
  createdBy: 'run-1',
  source: '/src',
  selection: "SPECTYPE == 'QSO' and ZWARN == 0",
  surveys: ['main'],
  programs: ['dark'],
});
const planOf = (tiles: TileRef[], shards: number): Plan => makePlan(planArgs(tiles, shards));

test('makePlan/parsePlan: a round trip keeps every tile, its shard and its files (missing files as null)', () => {
  const missing: TileRef = { survey: 'main', program: 'dark', healpix: 9, coadd: { path: '/src/9/coadd.fits', size: 7 } };
  const tiles = [ref(1, 100), ref(2, 300), missing, ref(4, 200, 20, 'sv1', 'bright')];
  const plan = planOf(tiles, 2);
  assert.equal(plan.totalTiles, 4);
  assert.equal(plan.totalBytes, 110 + 310 + 7 + 220);
  assert.deepEqual(
    plan.shardTiles.reduce((s, x) => s + x, 0),
    4,
  );
  assert.deepEqual(
    plan.tiles.map((t) => t.key),
    ['main/dark/1', 'main/dark/2', 'main/dark/9', 'sv1/bright/4'],
    'discovery order',
  );
  assert.equal(plan.tiles[2].redrock, null);
  const back = parsePlan(JSON.stringify(plan), 'plan.json');
  assert.deepEqual(back, plan);
  const all = [...shardTiles(back, 0), ...shardTiles(back, 1)];
  assert.equal(all.length, 4);
  for (const t of tiles)
    assert.deepEqual(
      all.find((x) => x.healpix === t.healpix),
      t,
    );
  assert.deepEqual(planTileRef(back.tiles[2]), missing, 'no redrock key, as discovery gives a missing file');
});

test('makePlan records the column set; parsePlan keeps it, reads a plan without one as default, refuses another', () => {
  const tiles = [ref(1, 100), ref(2, 300)];
  assert.equal(planOf(tiles, 1).columns, 'default', 'no --columns: the default set, written out');
  const all = makePlan({ ...planArgs(tiles, 2), columns: 'all' });
  const back = parsePlan(JSON.stringify(all), 'plan.json');
  assert.equal(back.columns, 'all');
  assert.equal(planColumns(back), 'all');
  const old: Partial<Plan> = { ...all };
  delete old.columns;
  assert.equal(planColumns(parsePlan(JSON.stringify(old), 'plan.json')), 'default', 'a plan made before plans recorded it');
  assert.throws(() => parsePlan(JSON.stringify({ ...all, columns: 'some' }), 'p.json'), /p\.json: .*"columns" "some" is not a column set \(default, all\)/);
});

test('makePlan records the --with groups in their canonical order; parsePlan keeps them, reads none as [], refuses a bad one', () => {
  const tiles = [ref(1, 100), ref(2, 300)];
  assert.equal(planOf(tiles, 1).with, undefined, 'no --with: nothing written');
  assert.deepEqual(planWith(planOf(tiles, 1)), []);
  const w = makePlan({ ...planArgs(tiles, 2), with: ['qso_mgii', 'resolution', 'qso_qn'] });
  assert.deepEqual(w.with, ['resolution', 'qso_qn', 'qso_mgii'], 'the order of with-option.ts, whatever the order given');
  assert.deepEqual(planWith(parsePlan(JSON.stringify(w), 'plan.json')), ['resolution', 'qso_qn', 'qso_mgii']);
  assert.deepEqual(withGroupsOf({ withResolution: true, withAfterburners: ['emline', 'qso_qn'] }), ['resolution', 'qso_qn', 'emline']);
  assert.throws(() => parsePlan(JSON.stringify({ ...w, with: ['fastspec'] }), 'p.json'), /p\.json: .*"with" \["fastspec"\] is not a list of --with groups/);
  assert.throws(() => parsePlan(JSON.stringify({ ...w, with: 'qso_qn' }), 'p.json'), /"with" "qso_qn" is not a list/);
});

test('parsePlan refuses what is not a plan, naming the file and the cause', () => {
  const good = planOf([ref(1, 100), ref(2, 300)], 2);
  const bad = (mutate: (p: Record<string, unknown>) => void, re: RegExp) => {
    const p = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    mutate(p);
    assert.throws(
      () => parsePlan(JSON.stringify(p), 'o/_desi-qad/plan.json'),
      (e: Error) => e.name === 'PlanError' && e.message.startsWith('o/_desi-qad/plan.json: ') && re.test(e.message),
    );
  };
  assert.throws(() => parsePlan('{', 'x'), /x: not a desi-qad plan/);
  bad((p) => (p.format = 'other'), /"format"/);
  bad((p) => (p.version = 2), /version 2/);
  bad((p) => (p.shards = 0), /"shards"/);
  bad((p) => delete p.tiles, /"tiles"/);
  bad((p) => (p.source = 3), /"source"/);
  bad((p) => (p.shardBytes = [1]), /"shardBytes"/);
  bad((p) => (p.totalTiles = 5), /"totalTiles"/);
  bad((p) => ((p.tiles as { shard: number }[])[0].shard = 2), /shard 2 outside 0\.\.1/);
  bad((p) => ((p.tiles as { key: string }[])[0].key = '../x/1'), /tile key/);
  bad((p) => ((p.tiles as { key: string }[])[1].key = (p.tiles as { key: string }[])[0].key), /listed twice/);
  bad((p) => ((p.tiles as { coadd: unknown }[])[0].coadd = { path: 1 }), /without path or size/);
});
