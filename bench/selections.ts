/**
 * The bench's selections section: `desi-qad convert --fetch ranges` on the seed-shaped set once per named
 * selection (`--select redrock-qso`, the default cut, next to `--select desi-qso-dr1` and `desi-qso`, which
 * also read each tile's qso_qn and qso_mgii files and its coadd FIBERMAP), so that the table shows what a
 * DESI-grade sample costs in bytes fetched and requests beside the default one. Local disk, as users run it.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SynthReport } from '../src/synth/index.js';
import { runCliMeasured, type CliRun } from './run-cli.js';

export const BENCH_SELECTIONS = ['redrock-qso', 'desi-qso-dr1', 'desi-qso'] as const;

export interface SelectionRun extends CliRun {
  selection: string;
}

export interface Selections {
  threads: number;
  /** Bytes of the set's coadd + redrock files (the FITS size the log's TOTALS count) and of its afterburner files. */
  fitsBytes: number;
  afterburnerBytes: number;
  runs: SelectionRun[];
}

/** The afterburner files beside each tile's coadd (synth writes qso_qn-… and qso_mgii-… for every tile). */
async function afterburnerBytes(report: SynthReport): Promise<number> {
  let total = 0;
  for (const t of report.tiles)
    for (const kind of ['qso_qn', 'qso_mgii']) total += (await stat(t.coaddPath.replace(/coadd-([^/]+)$/, `${kind}-$1`)).catch(() => ({ size: NaN }))).size;
  return total;
}

/** Converts the tree once per selection (a fresh --out each), with `--fetch ranges` and `threads` threads. */
export async function measureSelections(cacheRoot: string, tree: string, report: SynthReport, threads: number): Promise<Selections> {
  const abBytes = await afterburnerBytes(report);
  if (!Number.isFinite(abBytes))
    throw new Error(`bench: the cached set under ${tree} has no afterburner files; remove it (bench/.cache) so that it is written again`);
  const work = join(cacheRoot, 'selection-runs');
  const runs: SelectionRun[] = [];
  try {
    for (const selection of BENCH_SELECTIONS) {
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      const label = `--select ${selection}`;
      process.stderr.write(`bench: selections, ${label} (local, --fetch ranges, --threads ${threads})...\n`);
      const args = ['convert', '--source', tree, '--out', join(work, 'out'), '--fetch', 'ranges', '--threads', String(threads), '--select', selection];
      const run = await runCliMeasured(label, args, join(work, 'logs'));
      if (run.exitCode !== 0) throw new Error(`bench: ${label} exited ${run.exitCode} (some tiles failed)`);
      runs.push({ selection, ...run });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { threads, fitsBytes: report.totalBytes, afterburnerBytes: abBytes, runs };
}

const MB = 1e6;

/** The section as markdown: one row per selection. */
export function selectionsMarkdown(s: Selections): string[] {
  return [
    `Selections (\`desi-qad convert --fetch ranges --threads ${s.threads}\`, local disk; the set's coadd + redrock files are ${(s.fitsBytes / MB).toFixed(1)} MB, its qso_qn + qso_mgii files ${(s.afterburnerBytes / MB).toFixed(2)} MB):`,
    '',
    '| selection | rows kept | bytes fetched | requests | % of the FITS bytes | wall |',
    '|---|---|---|---|---|---|',
    ...s.runs.map(
      (r) =>
        `| \`--select ${r.selection}\` | ${r.rows} | ${(r.fetchedBytes / MB).toFixed(1)} MB | ${r.requests} | ${((100 * r.fetchedBytes) / r.fitsBytes).toFixed(2)} % | ${r.wallSec.toFixed(1)} s |`,
    ),
    '',
    '- "% of the FITS bytes" is bytes fetched over the coadd + redrock sizes (the log\'s FITS Downloaded); the afterburners read by the QSO rule sets are fetched on top (their bytes are counted in bytes fetched).',
    '',
  ];
}
