/**
 * `desi-qad verify` and `plan` on datasets of the newer selections and column sets, on a synthetic tree whose
 * tiles have their QSO afterburners (qso_qn-…, qso_mgii-…) and the planted cases of DESI's quasar catalog:
 *
 * - `--select desi-qso-dr1` and a `--target/--fiberstatus/--objtype` cut: `verify --source --deep` reads the
 *   selection text back, converts again with the same options and finds nothing; a tampered row is a
 *   deep-mismatch.
 * - `verify --source` checks the afterburners a selection reads: one removed is `source-missing` naming it,
 *   one rewritten is `source-changed` naming it; a redrock-qso dataset does not look at them.
 * - `plan --columns all` records the column set; a shard converts with it without --columns, refuses another
 *   --columns and a plan whose column set is not the dataset's; `verify --deep` re-converts with it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthTree, type SynthTileSpec } from '../../src/synth/index.js';
import { tilePaths } from '../../src/synth/tree.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { assertExit, runCli } from '../helpers/cli.js';

const TILES: SynthTileSpec[] = [
  { survey: 'main', program: 'dark', healpix: 23040, targets: 40, goodQso: 8, seed: 21, qsoCases: true },
  { survey: 'main', program: 'dark', healpix: 23041, targets: 25, goodQso: 5, seed: 22 },
  { survey: 'main', program: 'bright', healpix: 9000, targets: 20, goodQso: 4, seed: 23 },
];
const KEY = 'main/dark/23040';
const PATH = 'main/dark/230/main-dark-23040.parquet';
const SURVEY = ['--survey', 'main', '--program', 'dark,bright'];

let dir: string;
let tree: string;
let logs: string;
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'desi-qad-verify-sel-'));
  tree = join(dir, 'tree');
  logs = join(dir, 'logs');
  await synthTree({ out: tree, tiles: TILES, wavelength: 'short' });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh copy of the tree (to change a source in) and a dataset converted from it with `extra`. */
async function dataset(extra: string[]): Promise<{ src: string; out: string }> {
  const k = ++n;
  const src = join(dir, `tree-${k}`);
  await cp(tree, src, { recursive: true });
  const out = join(dir, `out-${k}`);
  await assertExit(await runCli(['convert', '--source', src, '--out', out, '--log-dir', logs, '--threads', '2', '--quiet', ...SURVEY, ...extra]), 0, logs);
  return { src, out };
}

async function verifyJson(args: string[]): Promise<{ code: number | null; report: VerifyReport }> {
  const r = await runCli(['verify', '--json', ...args]);
  try {
    return { code: r.code, report: JSON.parse(r.stdout) as VerifyReport };
  } catch {
    throw new Error(`verify --json printed no single JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const named = (report: VerifyReport) => report.findings.map((f) => `${f.kind} ${f.tile ?? '-'} ${f.path ?? '-'}`);

/** Flips one byte inside the first data page (a catalog value of the first rows): the footer still holds. */
async function tamper(file: string): Promise<void> {
  const bytes = await readFile(file);
  bytes[200] ^= 0xff;
  await writeFile(file, bytes);
}

for (const [label, extra] of [
  ['--select desi-qso-dr1', ['--select', 'desi-qso-dr1']],
  ['--select desi-qso', ['--select', 'desi-qso']],
  ['--target QSO,ELG --fiberstatus good --objtype TGT', ['--target', 'QSO,ELG', '--fiberstatus', 'good', '--objtype', 'TGT']],
  ['--spectype any --keep-zwarn --fiberstatus 0x900', ['--spectype', 'any', '--keep-zwarn', '--fiberstatus', '0x900']],
] as const) {
  test(`verify --deep re-applies ${label}: clean, then a tampered row is a deep-mismatch`, async () => {
    const { src, out } = await dataset([...extra]);
    const clean = await verifyJson(['--out', out, '--source', src, '--deep', '3']);
    assert.deepEqual(named(clean.report), [], JSON.stringify(clean.report.findings));
    assert.equal(clean.code, 0);
    assert.equal(clean.report.checked.deep, 3, 'every tile converted again and compared');
    await tamper(join(out, PATH));
    const bad = await verifyJson(['--out', out, '--source', src, '--deep', '3']);
    assert.equal(bad.code, 1);
    assert.deepEqual(named(bad.report), [`deep-mismatch ${KEY} ${PATH}`]);
  });
}

test('verify --source checks the afterburners the selection reads: removed, rewritten, each named', async () => {
  const { src, out } = await dataset(['--select', 'desi-qso-dr1']);
  assert.equal((await verifyJson(['--out', out, '--source', src])).code, 0, 'a clean desi-qso-dr1 dataset passes --source');
  const dirOf = (healpix: number) =>
    tilePaths(
      src,
      TILES.find((t) => t.healpix === healpix)!,
    ).dir;
  const mgii = join(dirOf(23040), 'qso_mgii-main-dark-23040.fits');
  const qn = join(dirOf(23041), 'qso_qn-main-dark-23041.fits');
  await rm(mgii);
  const later = new Date(Date.now() + 3_600_000);
  await utimes(qn, later, later);
  const { code, report } = await verifyJson(['--out', out, '--source', src, '--deep', '3']);
  assert.equal(code, 1);
  assert.deepEqual(named(report), [
    `source-missing ${KEY} -`,
    `deep-failed ${KEY} ${PATH}`,
    'source-changed main/dark/23041 -',
    'deep-mismatch main/dark/23041 main/dark/230/main-dark-23041.parquet',
  ]);
  const [missing, failed, changed] = report.findings;
  assert.match(missing.detail, /its qso_mgii \(qso_mgii-main-dark-23040\.fits, which the selection reads\) is no longer under/);
  assert.match(failed.detail, /did not convert again .*qso_mgii/);
  assert.match(changed.detail, /qso_qn qso_qn-main-dark-23041\.fits mtime \S+ → \S+/, 'the detail names the afterburner and what changed');
  assert.equal(report.checked.sources, 3);

  // A redrock-qso dataset reads no afterburner: the same changes are no finding of its.
  const plain = await dataset([]);
  await rm(join(tilePaths(plain.src, TILES[0]).dir, 'qso_mgii-main-dark-23040.fits'));
  await utimes(join(tilePaths(plain.src, TILES[1]).dir, 'qso_qn-main-dark-23041.fits'), later, later);
  const r = await verifyJson(['--out', plain.out, '--source', plain.src, '--deep', '3']);
  assert.deepEqual(named(r.report), []);
  assert.equal(r.code, 0);
});

test('plan records --columns: a shard uses it, refuses another, and a plan of another column set than the dataset', async () => {
  const src = join(dir, 'tree-plan');
  await cp(tree, src, { recursive: true });
  const out = join(dir, 'out-plan');
  const base = ['--out', out, '--log-dir', logs, '--quiet'];
  await assertExit(await runCli(['plan', '--source', src, '--out', out, '--log-dir', logs, ...SURVEY, '--shards', '2', '--columns', 'all']), 0, logs);
  const planFile = join(out, '_desi-qad', 'plan.json');
  const plan = JSON.parse(await readFile(planFile, 'utf8')) as { columns?: string };
  assert.equal(plan.columns, 'all');

  // --columns default next to a plan of all (plan made the dataset's manifest): refused (exit 2).
  const other = await runCli(['convert', ...base, '--shard', '0/2', '--columns', 'default']);
  assert.equal(other.code, 2, other.stderr);
  assert.match(other.stderr, /columns: "all" in the dataset, "default" in this run/);

  // Without --columns the shards take the plan's: the dataset is of the all set, as the manifest says.
  for (const k of [0, 1]) await assertExit(await runCli(['convert', ...base, '--shard', `${k}/2`, '--threads', '2']), 0, logs);
  const manifest = JSON.parse(await readFile(join(out, '_desi-qad', 'dataset.json'), 'utf8')) as { columns: string };
  assert.equal(manifest.columns, 'all');
  const v = await verifyJson(['--out', out, '--source', src, '--deep', '3']);
  assert.deepEqual(named(v.report), [], 'verify --deep re-converts with the dataset column set');
  assert.equal(v.report.checked.deep, 3);

  // A plan saying another column set than the dataset's (an older plan.json, say) is refused naming both.
  await writeFile(planFile, JSON.stringify({ ...plan, columns: 'default' }));
  const stale = await runCli(['convert', ...base, '--shard', '0/2']);
  assert.equal(stale.code, 2, stale.stderr);
  assert.match(stale.stderr, /plan\.json was made for --columns default, but the dataset in .* has --columns all/);
  // A plan made before plans recorded it reads as default: the same refusal.
  const old: { columns?: string } = { ...plan };
  delete old.columns;
  await writeFile(planFile, JSON.stringify(old));
  assert.equal((await runCli(['convert', ...base, '--shard', '0/2'])).code, 2);
  // A column set that is not one: the plan is not valid.
  await writeFile(planFile, JSON.stringify({ ...plan, columns: 'some' }));
  const junk = await runCli(['convert', ...base, '--shard', '0/2']);
  assert.equal(junk.code, 2);
  assert.match(junk.stderr, /"columns" "some" is not a column set/);
});
