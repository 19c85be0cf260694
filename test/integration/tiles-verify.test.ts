/**
 * `desi-qad verify --source` on a tile-layout dataset: the units' sources are found where the tile layout
 * keeps them (`{TILEID}/{LASTNIGHT}/…-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`), so an untouched source verifies
 * clean; a rewritten coadd, a removed redrock and a later LASTNIGHT folder are each reported for their unit
 * alone, and a rewritten afterburner the selection never read is not a change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VerifyReport } from '../../src/verify/findings.js';
import { synthTree, tileLayoutSpecs, SYNTH_TILEID, SYNTH_LASTNIGHT } from '../../src/synth/index.js';
import { runCli } from '../helpers/cli.js';

async function verifyJson(args: string[]): Promise<{ code: number | null; report: VerifyReport }> {
  const r = await runCli(['verify', '--json', ...args]);
  try {
    return { code: r.code, report: JSON.parse(r.stdout) as VerifyReport };
  } catch {
    throw new Error(`verify --json printed no single JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

test('verify --source finds a tile-layout dataset’s sources and reports each change for its unit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-verify-'));
  try {
    const src = join(dir, 'cumulative');
    const specs = tileLayoutSpecs({ tiles: 9, seed: 4 }).map((s) => ({ ...s, goodQso: Math.max(1, s.goodQso) }));
    await synthTree({ out: src, tiles: specs, wavelength: 'short' });
    const out = join(dir, 'out');
    const logs = join(dir, 'logs');
    const r = await runCli(['convert', '--layout', 'tiles', '--source', src, '--out', out, '--log-dir', logs, '--quiet', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);

    const clean = await verifyJson(['--out', out, '--source', src]);
    assert.deepEqual(clean.report.findings, [], 'untouched sources verify clean');
    assert.equal(clean.code, 0);
    assert.equal(clean.report.checked.sources, specs.length, 'every unit compared');

    // Tile SYNTH_TILEID: petal 0's coadd rewritten (new mtime), petal 7's redrock gone, and petal 4's qso_qn
    // rewritten, which redrock-qso never read: not a change of that unit's sources.
    const t0 = SYNTH_TILEID;
    const n0 = SYNTH_LASTNIGHT;
    const later = new Date(Date.now() + 3_600_000);
    await utimes(join(src, `${t0}/${n0}/coadd-0-${t0}-thru${n0}.fits`), later, later);
    await utimes(join(src, `${t0}/${n0}/qso_qn-4-${t0}-thru${n0}.fits`), later, later);
    await rm(join(src, `${t0}/${n0}/redrock-7-${t0}-thru${n0}.fits`));
    // Tile SYNTH_TILEID + 1 gains a later night (petal 0 copied there): its units are no longer the latest.
    const t1 = SYNTH_TILEID + 1;
    const n1 = SYNTH_LASTNIGHT + 1;
    await mkdir(join(src, `${t1}/${n1 + 1}`));
    for (const f of await readdir(join(src, `${t1}/${n1}`)))
      if (f.includes('-0-')) await cp(join(src, `${t1}/${n1}`, f), join(src, `${t1}/${n1 + 1}`, f.replace(`thru${n1}`, `thru${n1 + 1}`)));

    const { code, report } = await verifyJson(['--out', out, '--source', src]);
    assert.equal(code, 1);
    const named = report.findings.map((f) => `${f.kind} ${f.tile}`).sort();
    assert.deepEqual(named, [
      `source-changed cumulative/${t0}/0`,
      `source-changed cumulative/${t1}/0`,
      `source-missing cumulative/${t0}/7`,
      `source-missing cumulative/${t1}/4`,
      `source-missing cumulative/${t1}/7`,
    ]);
    const missing = report.findings.find((f) => f.tile === `cumulative/${t0}/7`)!;
    assert.match(missing.detail, /its redrock is no longer under/);
    const changed = report.findings.find((f) => f.tile === `cumulative/${t0}/0`)!;
    assert.match(changed.detail, /coadd mtime \S+ → \S+/, 'the detail says what changed, from the footer');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
