/**
 * Check 7, `desi-qad verify --deep N`: N tiles drawn at random among the journaled ok ones (deterministic
 * for --seed) are converted again from --source into a scratch folder, by the same desi-qad binary in a
 * child process, and each new file is compared byte for byte with the
 * dataset's. A conversion gives the same bytes for the same input on every run (README, The output), so a
 * difference means that the dataset's file is not what its sources make; a tile that does not convert
 * again is a finding too. The scratch folder is removed afterwards.
 *
 * When the tiles' files were just looked up (check 6), the scratch dataset gets a one-shard plan of them
 * and the child runs `convert --shard 0/1`, which needs no discovery (on S3 a discovery lists every
 * pixgroup of a survey and program: 492 LISTs each); otherwise `convert --tiles … --shard none` discovers.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSelection, RULE_TEXT, selectionText, type QsoRuleSet, type Selection } from '../desi/selection.js';
import type { ColumnSet } from '../desi/column-sets.js';
import { tileKey, type TileRef } from '../desi/tile.js';
import { makePlan, writePlan } from '../pipeline/plan-file.js';
import { sample } from '../pipeline/sample.js';
import { LocalJournalStore } from '../storage/journal-local.js';
import { LocalOutputStore } from '../storage/output-local.js';
import { newRunId } from '../storage/run-id.js';
import { redactSecrets } from '../util/secrets.js';
import { latestRecords, tileOfKey, type OkTile } from './checks.js';
import type { DatasetFiles } from './dataset-files.js';
import { finding, type Finding } from './findings.js';

/** The CLI entry of this very installation. */
const BIN = fileURLToPath(new URL('../../../bin/desi-qad.js', import.meta.url));

type SelectionArgs = Parameters<typeof parseSelection>[0];

/**
 * The convert options that give `selection` (its canonical text, desi/selection.ts selectionText) back;
 * undefined when the text is not one selectionText writes. A named rule set (RULE_TEXT) gives `--select
 * NAME`; a cut gives the options it is made of (--spectype, --keep-zwarn, --min-deltachi2, --target,
 * --fiberstatus, --objtype).
 */
export function selectionOptions(selection: string): string[] | undefined {
  return readSelectionText(selection)?.options;
}

/** The Selection whose canonical text is `selection` (which afterburners it reads, say); undefined for an unknown text. */
export function selectionOfText(selection: string): Selection | undefined {
  return readSelectionText(selection)?.selection;
}

/** The text read back into parseSelection's arguments and the same as convert options, checked to give the very text again. */
function readSelectionText(selection: string): { selection: Selection; options: string[] } | undefined {
  const named = (Object.entries(RULE_TEXT) as [QsoRuleSet, string][]).find(([, text]) => text === selection);
  if (named) return roundTrip(selection, { select: named[0] }, ['--select', named[0]]);
  const o: SelectionArgs = { spectype: 'any', keepZwarn: true };
  if (selection !== 'all rows') {
    for (const part of selection.split(' and ')) {
      let m: RegExpExecArray | null;
      if (part === 'ZWARN == 0') o.keepZwarn = false;
      else if ((m = /^SPECTYPE == '([A-Z0-9_]+)'$/.exec(part))) o.spectype = m[1];
      else if ((m = /^SPECTYPE in \((.+)\)$/.exec(part)))
        o.spectype = m[1]
          .split(', ')
          .map((s) => s.replace(/^'|'$/g, ''))
          .join(',');
      else if ((m = /^DELTACHI2 > (\S+)$/.exec(part)) && Number.isFinite(Number(m[1]))) o.minDeltachi2 = Number(m[1]);
      else if ((m = /^TARGET in \(([A-Z_, ]+)\)$/.exec(part))) o.target = m[1].split(', ').join(',');
      else if (part === 'COADD_FIBERSTATUS == 0') o.fiberstatus = 'good';
      else if ((m = /^\(COADD_FIBERSTATUS & (\d+)\) == 0$/.exec(part))) o.fiberstatus = m[1];
      else if (part === "OBJTYPE == 'TGT'") o.objtype = 'TGT';
      else return undefined;
    }
  }
  const opts = ['--spectype', o.spectype!];
  if (o.keepZwarn) opts.push('--keep-zwarn');
  if (o.minDeltachi2 !== undefined) opts.push(`--min-deltachi2=${o.minDeltachi2}`);
  if (o.target !== undefined) opts.push('--target', o.target);
  if (o.fiberstatus !== undefined) opts.push('--fiberstatus', o.fiberstatus);
  if (o.objtype !== undefined) opts.push('--objtype', o.objtype);
  return roundTrip(selection, o, opts);
}

/** The selection and its options when they give the very text back, or the re-conversion would be of another. */
function roundTrip(text: string, args: SelectionArgs, options: string[]): { selection: Selection; options: string[] } | undefined {
  try {
    const selection = parseSelection(args);
    return selectionText(selection) === text ? { selection, options } : undefined;
  } catch {
    return undefined;
  }
}

export interface DeepOptions {
  /** --source as given. */
  source: string;
  /** The dataset's selection text. */
  selection: string;
  /** The dataset's column set (--columns; 'default' when not given). */
  columns?: ColumnSet;
  /** The dataset's --with groups (its identity's `with` afterburners, and `resolution`); none when not given. */
  withGroups?: readonly string[];
  /** Options passed on to convert as they are (S3 connection options). */
  passOn: string[];
  count: number;
  seed: number;
  /** The tool version and the dataset's source root, to explain a mismatch. */
  version?: string;
  datasetSource?: string;
  /** The source root as convert names it (an absolute folder, or s3://bucket/prefix). */
  sourceRoot?: string;
  /** The tiles' coadd and redrock as just found in --source, by key: the child converts them without a discovery. */
  refs?: ReadonlyMap<string, TileRef>;
}

export interface DeepCheck {
  findings: Finding[];
  /** Tiles re-converted and compared. */
  compared: number;
  tiles: string[];
}

/** Re-converts `count` ok tiles and compares them; never throws for a conversion that fails (a finding). */
export async function checkDeep(files: DatasetFiles, okTiles: ReadonlyMap<string, OkTile>, o: DeepOptions): Promise<DeepCheck> {
  const candidates = [...okTiles.values()].filter((t) => t.listed !== undefined).sort((a, b) => (a.rec.tile < b.rec.tile ? -1 : 1));
  const chosen = sample(candidates, o.count, o.seed);
  const result: DeepCheck = { findings: [], compared: 0, tiles: chosen.map((t) => t.rec.tile) };
  if (chosen.length === 0) return result;
  const selectionArgs = selectionOptions(o.selection);
  const unsupported = chosen.some((t) => tileOfKey(t.rec.tile) === undefined);
  if (unsupported) {
    for (const t of chosen)
      result.findings.push(
        finding('deep-failed', 'verify --deep does not convert tile-layout units again yet (only the healpix layout)', { tile: t.rec.tile, path: t.path }),
      );
    return result;
  }
  if (!selectionArgs) {
    for (const t of chosen)
      result.findings.push(
        finding('deep-failed', `cannot turn the dataset's selection ${JSON.stringify(o.selection)} back into convert options`, {
          tile: t.rec.tile,
          path: t.path,
        }),
      );
    return result;
  }
  const scratch = await mkdtemp(join(tmpdir(), 'desi-qad-verify-'));
  try {
    const ids = chosen.map((t) => tileOfKey(t.rec.tile)!);
    const out = join(scratch, 'out');
    const surveys = [...new Set(ids.map((t) => t.survey))];
    const programs = [...new Set(ids.map((t) => t.program))];
    let which: string[];
    if (o.refs) {
      const tiles = ids.map((t) => o.refs!.get(tileKey(t)) ?? { ...t });
      const plan = makePlan({
        tiles,
        shards: 1,
        created: new Date(),
        createdBy: newRunId(),
        source: o.sourceRoot ?? o.source,
        selection: o.selection,
        columns: o.columns ?? 'default',
        with: o.withGroups,
        surveys,
        programs,
      });
      await writePlan(new LocalOutputStore(out), plan);
      which = ['--shard', '0/1'];
    } else which = ['--tiles', chosen.map((t) => t.rec.tile).join(','), '--survey', surveys.join(','), '--program', programs.join(','), '--shard', 'none'];
    const args = [
      BIN,
      'convert',
      '--source',
      o.source,
      '--out',
      out,
      ...which,
      '--quiet',
      '--log-dir',
      join(scratch, 'logs'),
      ...selectionArgs,
      '--columns',
      o.columns ?? 'default',
      ...(o.withGroups && o.withGroups.length > 0 ? ['--with', o.withGroups.join(',')] : []),
      ...o.passOn,
    ];
    // The child writes with the Parquet writer the dataset's files were made by (their footers' created_by):
    // the own writer and parquet-wasm give the same values in different bytes, and --deep compares bytes.
    const run = await runChild(args, { ...process.env, DESI_QAD_PARQUET_WRITER: writerOf(chosen) });
    const records = latestRecords((await new LocalJournalStore(join(out, '_desi-qad', 'journal'), 'verify-reader').load()).records);
    for (const t of chosen) {
      const where = { tile: t.rec.tile, path: t.path };
      const rec = records.get(t.rec.tile);
      if (rec?.status !== 'ok' || rec.path === undefined) {
        const why = rec
          ? `${rec.status}${rec.error !== undefined ? `: ${rec.error}` : ''}`
          : `convert exited with ${run.code}${run.lastError ? `: ${run.lastError}` : ''}`;
        result.findings.push(finding('deep-failed', redactSecrets(`the tile did not convert again from ${o.source}: ${why}`), where));
        continue;
      }
      const again = new Uint8Array(await readFile(join(out, ...rec.path.split('/'))));
      let mine: Uint8Array;
      const file = await files.open(t.path, t.listed!);
      try {
        mine = await file.slice(0, file.byteLength);
      } finally {
        await file.close();
      }
      result.compared += 1;
      const at = firstDifference(mine, again);
      if (at === undefined) continue;
      const why: string[] = [];
      if (t.info?.version !== undefined && o.version !== undefined && t.info.version !== o.version)
        why.push(`the file was made by ${t.info.version}, this is ${o.version}`);
      if (o.datasetSource !== undefined && o.sourceRoot !== undefined && o.datasetSource !== o.sourceRoot)
        why.push(`--source ${o.sourceRoot} is not the dataset's source ${o.datasetSource}, and footers name their sources`);
      result.findings.push(
        finding(
          'deep-mismatch',
          `differs from a re-conversion from ${o.source} at byte ${at} (${mine.byteLength} bytes here, ${again.byteLength} re-converted)${why.length > 0 ? ` (${why.join('; ')})` : ''}`,
          where,
        ),
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return result;
}

/**
 * 'wasm' when the first chosen file was written by parquet-wasm (arrow-rs: "parquet-rs version …", as the
 * footer checks read it), else 'own': the writer a re-conversion must use to give the same bytes. A file whose
 * footer could not be read gives 'own' (its comparison then reports the difference).
 */
function writerOf(chosen: readonly OkTile[]): 'own' | 'wasm' {
  return (chosen[0].createdBy ?? '').startsWith('parquet-rs') ? 'wasm' : 'own';
}

/** The first offset where two byte strings differ; undefined when they are the same. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number | undefined {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? undefined : n;
}

/** Runs the child to its end: its exit code and the last line of its stderr (the reason it gives). */
function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; lastError: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stderr.trim().split('\n').filter(Boolean);
      resolve({ code, lastError: redactSecrets(lines[lines.length - 1] ?? '') });
    });
  });
}
