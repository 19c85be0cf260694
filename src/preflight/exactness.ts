import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalRecord, RunRecord, TileRecord } from '../storage/journal-store.js';
import { DONE_STATUSES } from '../pipeline/journal.js';
import { isDatasetTablePath } from '../desi/output-path.js';

/** What the kill and the resume left, as preflight saw it. */
export interface ResumeEvidence {
  /** The sampled tiles' keys ("main/dark/23040"), in the sample's order. */
  sample: string[];
  /** Every record of the scratch output's journal, oldest first. */
  records: JournalRecord[];
  /** Whether the first run was killed by preflight (SIGKILL at the kill point), and how it ended otherwise. */
  killed: boolean;
  firstExit: string;
  /** The resumed run's log. */
  resumedLog: string;
  /** Every file of the scratch output but `_desi-qad/`: relative path → size. */
  files: Map<string, number>;
}

/** The verdict on the resume, with the counts the checklist and the JSON report show. */
export interface ResumeVerdict {
  ok: boolean;
  /** Tiles journaled by the killed run (any status) and, of them, done (ok or empty). */
  journaledBeforeKill: number;
  doneBeforeKill: number;
  /** Tiles the resumed run journaled, and the completed tiles its log says it found. */
  resumedJournaled: number;
  foundCompleted?: number;
  /** The run ids of the killed and the resumed run. */
  runs: string[];
  /** What did not hold, each in a sentence (empty when ok). */
  problems: string[];
}

/**
 * Checks that the resume was exact: the first run was killed with some but not all tiles journaled; the
 * resumed run found exactly the tiles done before the kill, skipped them and journaled every other sampled
 * tile once; no tile is journaled as done twice, none is missing, none outside the sample; and the Parquet
 * files in place are exactly those of the ok records, with their sizes, and no temporary is left.
 */
export function judgeResume(e: ResumeEvidence): ResumeVerdict {
  const problems: string[] = [];
  const runs = e.records.filter((r): r is RunRecord => r.type === 'run').map((r) => r.run);
  const tiles = e.records.filter((r): r is TileRecord => r.type === 'tile');
  const [first, second] = runs;
  const byFirst = tiles.filter((r) => r.run === first);
  const bySecond = tiles.filter((r) => r.run === second);
  const doneFirst = new Set(byFirst.filter((r) => DONE_STATUSES.has(r.status)).map((r) => r.tile));
  const sample = new Set(e.sample);
  const foundText = /Found (\d+) completed tiles\./.exec(e.resumedLog)?.[1];
  const found = foundText === undefined ? undefined : Number(foundText);
  const v: ResumeVerdict = {
    ok: false,
    journaledBeforeKill: new Set(byFirst.map((r) => r.tile)).size,
    doneBeforeKill: doneFirst.size,
    resumedJournaled: bySecond.length,
    foundCompleted: found,
    runs,
    problems,
  };
  if (!e.killed) problems.push(`the first conversion was not killed (it ended ${e.firstExit} before the kill point)`);
  else if (v.journaledBeforeKill === 0 || v.journaledBeforeKill >= e.sample.length)
    problems.push(`the kill came after ${v.journaledBeforeKill} of ${e.sample.length} tiles, not in the middle of the run`);
  if (runs.length !== 2) problems.push(`the journal names ${runs.length} runs, not 2 (the killed one and its resume)`);
  if (found === undefined) problems.push('the resumed run did not log "Found N completed tiles."');
  else if (found !== doneFirst.size) problems.push(`the resumed run found ${found} completed tiles, but ${doneFirst.size} were done before the kill`);
  const redone = bySecond.filter((r) => doneFirst.has(r.tile));
  if (redone.length > 0) problems.push(`the resumed run redid ${redone.length} tiles done before the kill (e.g. ${redone[0].tile})`);
  const outside = tiles.filter((r) => !sample.has(r.tile));
  if (outside.length > 0) problems.push(`${outside.length} journaled tiles are not in the sample (e.g. ${outside[0].tile})`);
  const count = (rs: TileRecord[], k: string) => rs.filter((r) => r.tile === k).length;
  const doneCount = (k: string) => tiles.filter((r) => r.tile === k && DONE_STATUSES.has(r.status)).length;
  const twice = e.sample.filter((k) => doneCount(k) > 1);
  if (twice.length > 0) problems.push(`${twice.length} tiles are journaled as done more than once (e.g. ${twice[0]})`);
  const unresumed = e.sample.filter((k) => !doneFirst.has(k) && count(bySecond, k) !== 1);
  if (unresumed.length > 0)
    problems.push(
      `${unresumed.length} tiles not done before the kill were not journaled exactly once by the resumed run (e.g. ${unresumed[0]}: ${count(bySecond, unresumed[0])} times)`,
    );
  // The final record of each tile (the latest wins), and the files the ok ones name.
  const final = new Map<string, TileRecord>();
  for (const r of tiles) final.set(r.tile, r);
  const absent = e.sample.filter((k) => !final.has(k));
  if (absent.length > 0) problems.push(`${absent.length} sampled tiles have no journal record (e.g. ${absent[0]})`);
  const expected = new Map<string, number>();
  for (const r of final.values()) if (r.status === 'ok' && r.path !== undefined) expected.set(r.path, r.parquetBytes ?? -1);
  const missingFiles = [...expected.keys()].filter((p) => !e.files.has(p));
  if (missingFiles.length > 0) problems.push(`${missingFiles.length} journaled Parquet files are missing (e.g. ${missingFiles[0]})`);
  const wrongSize = [...expected].filter(([p, n]) => e.files.has(p) && e.files.get(p) !== n);
  if (wrongSize.length > 0) problems.push(`${wrongSize.length} Parquet files differ in size from their journal record (e.g. ${wrongSize[0][0]})`);
  // The dataset-level tables (_catalog/, _wavelength/) are written by the run that completes the dataset, not journaled per tile.
  const extra = [...e.files.keys()].filter((p) => !expected.has(p) && !isDatasetTablePath(p));
  if (extra.length > 0) problems.push(`${extra.length} files in the output are not journaled as ok (e.g. ${extra[0]}: a temporary or a duplicate)`);
  v.ok = problems.length === 0;
  return v;
}

/** Every file under a local output but `_desi-qad/`, as relative path (with /) → size. */
export async function outputFiles(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const d of entries) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (r === '_desi-qad') continue;
      if (d.isDirectory()) await walk(join(dir, d.name), r);
      else files.set(r, (await stat(join(dir, d.name))).size);
    }
  };
  await walk(root, '');
  return files;
}

/** The relative paths whose bytes differ between two local outputs (or that one of them lacks). */
export async function differingFiles(a: string, b: string, paths: string[]): Promise<string[]> {
  const differ: string[] = [];
  for (const p of paths) {
    const [x, y] = await Promise.all([readFile(join(a, p)).catch(() => undefined), readFile(join(b, p)).catch(() => undefined)]);
    if (!x || !y || !x.equals(y)) differ.push(p);
  }
  return differ;
}
