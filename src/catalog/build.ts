/**
 * The dataset-level table of every spectrum (`OUT/_catalog/zcatalog.parquet`): one row per row of the
 * dataset's files, with its identity and redshift columns, TSNR2_LRG, the file and row where its spectrum
 * is, and DR1's primary flags (primary.ts) over the whole dataset. Built from the files' catalog columns only
 * (read-columns.ts), a bounded number of files at a time, and written in one atomic write through the
 * OutputStore (local: temporary file and rename; S3: one upload, visible only when complete).
 *
 * Rows come in tile order (SURVEY, PROGRAM by code units, HEALPIX as a number), each file's rows in file
 * order; that order is also the tie-break of the ranking. The same files give the same bytes.
 */
import { CATALOG_PATH } from '../desi/output-path.js';
import { outputPath, parseTileSpec } from '../desi/layout.js';
import { FOOTER_KEY } from '../desi/schema.js';
import type { ByteSource } from '../fits/source.js';
import { buildTable, type ColumnSpec, type ScalarArray } from '../parquet/arrow-table.js';
import { encodeParquetStream } from '../parquet/encode.js';
import type { JournalRecord, TileRecord } from '../storage/journal-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { mapLimit } from '../util/concurrency.js';
import { primaryFlags } from './primary.js';
import { CatalogReadError, readCatalogColumns, type CopiedColumn, type FileColumns } from './read-columns.js';
import type { Vector } from 'apache-arrow';

/** Opens a dataset file (relative to --out, of the size the journal recorded) for ranged reads. */
export type CatalogOpener = (relPath: string, size: number) => Promise<ByteSource & { close?(): Promise<void> }>;

/** Files read at once. */
export const CATALOG_READS = 8;

/** The rule, as the table's footer states it. */
export const RULE_TEXT =
  'per TARGETID: ZWARN == 0 first, then the largest TSNR2_LRG (missing or NaN last), first is primary; NSPEC counts the rows. ZCAT_ over all rows, MAIN_ over survey main, SV_ over sv1/sv2/sv3';
export const TIE_BREAK_TEXT = 'SURVEY, then PROGRAM (by code units), then HEALPIX, then the row in its file (ROW), ascending';

/** One ok tile's file, as the journal names it. */
export interface CatalogFile {
  path: string;
  size: number;
  rows?: number;
  survey: string;
  program: string;
  /** -1 when the key names no healpix. */
  healpix: number;
}

/** The files the catalog is made of: the latest record of each tile, when it is ok with rows, in tile order. */
export function catalogFiles(records: readonly JournalRecord[]): CatalogFile[] {
  const latest = new Map<string, TileRecord>();
  for (const r of records) if (r.type === 'tile') latest.set(r.tile, r);
  const files: CatalogFile[] = [];
  for (const r of latest.values()) {
    if (r.status !== 'ok' || (r.rows !== undefined && r.rows === 0)) continue;
    const spec = parseTileSpec(r.tile);
    const tile = spec?.survey !== undefined && spec.program !== undefined ? { survey: spec.survey, program: spec.program, healpix: spec.healpix } : undefined;
    const path = r.path ?? (tile ? outputPath(tile) : undefined);
    if (path === undefined) continue;
    const [survey = '', program = ''] = r.tile.split('/');
    files.push({
      path,
      size: r.parquetBytes ?? 0,
      rows: r.rows,
      survey: tile?.survey ?? survey,
      program: tile?.program ?? program,
      healpix: tile?.healpix ?? -1,
    });
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  files.sort((a, b) => cmp(a.survey, b.survey) || cmp(a.program, b.program) || a.healpix - b.healpix || cmp(a.path, b.path));
  return files;
}

/** What was built: the table's bytes and what it holds. */
export interface BuiltCatalog {
  bytes: Uint8Array;
  rows: number;
  files: number;
  /** Distinct TARGETIDs. */
  targets: number;
  /** Files that had a TSNR2_LRG column (the rest rank by ZWARN and the tie-break only). */
  filesWithTsnr2: number;
}

export interface BuildOptions {
  files: readonly CatalogFile[];
  open: CatalogOpener;
  /** desi-qad's version, the dataset's selection and source: stated in the footer. */
  version: string;
  selection?: string;
  source?: string;
  concurrency?: number;
}

type Float = 'TARGET_RA' | 'TARGET_DEC' | 'Z' | 'ZERR' | 'CHI2' | 'DELTACHI2';
const FLOATS: readonly Float[] = ['TARGET_RA', 'TARGET_DEC', 'Z', 'ZERR', 'CHI2', 'DELTACHI2'];

/** Reads every file's catalog columns, ranks the rows and encodes the table. Throws CatalogReadError naming a file. */
export async function buildCatalog(o: BuildOptions): Promise<BuiltCatalog> {
  const parts = await mapLimit(o.files, o.concurrency ?? CATALOG_READS, async (f) => {
    const src = await o.open(f.path, f.size);
    try {
      const got = await readCatalogColumns(src);
      if (f.rows !== undefined && got.rows !== f.rows) throw new CatalogReadError(`${src.name}: ${got.rows} rows, the journal says ${f.rows}`);
      return got;
    } finally {
      await src.close?.();
    }
  });
  const n = parts.reduce((s, p) => s + p.rows, 0);
  const targetid = new BigInt64Array(n);
  const survey: string[] = new Array<string>(n);
  const program: string[] = new Array<string>(n);
  const healpix = new Int32Array(n);
  const healpixValid = new Uint8Array(n);
  const floats = new Map(FLOATS.map((c) => [c, { values: new Float64Array(n), valid: new Uint8Array(n) }]));
  const zwarn = new BigInt64Array(n);
  const zwarnValid = new Uint8Array(n);
  const spectype: string[] = new Array<string>(n).fill('');
  const spectypeValid = new Uint8Array(n);
  const subtype: string[] = new Array<string>(n).fill('');
  const subtypeValid = new Uint8Array(n);
  const tsnr2 = new Float32Array(n);
  const tsnr2Valid = new Uint8Array(n);
  const file: string[] = new Array<string>(n);
  const row = new Int32Array(n);
  let at = 0;
  let filesWithTsnr2 = 0;
  parts.forEach((p, k) => {
    const f = o.files[k];
    const col = (name: CopiedColumn) => p.columns.get(name);
    copyInto(col('TARGETID'), targetid, at);
    fillStrings(col('SURVEY'), survey, undefined, at, p.rows, f.survey);
    fillStrings(col('PROGRAM'), program, undefined, at, p.rows, f.program);
    copyInto(col('HEALPIX'), healpix, at, healpixValid);
    for (const c of FLOATS) {
      const t = floats.get(c)!;
      copyInto(col(c), t.values, at, t.valid);
    }
    copyInto(col('ZWARN'), zwarn, at, zwarnValid);
    fillStrings(col('SPECTYPE'), spectype, spectypeValid, at, p.rows);
    fillStrings(col('SUBTYPE'), subtype, subtypeValid, at, p.rows);
    if (col('TSNR2_LRG')) filesWithTsnr2 += 1;
    copyInto(col('TSNR2_LRG'), tsnr2, at, tsnr2Valid);
    for (let i = 0; i < p.rows; i++) {
      file[at + i] = f.path;
      row[at + i] = i;
    }
    at += p.rows;
  });
  checkNoNullTargetids(parts, o.files);

  const zwarnZero = Uint8Array.from(zwarn, (z, i) => (zwarnValid[i] === 1 && z === 0n ? 1 : 0));
  const tsnr2Lrg = Float64Array.from(tsnr2, (t, i) => (tsnr2Valid[i] === 1 ? t : NaN));
  const flags = primaryFlags({ targetid, zwarnZero, tsnr2Lrg }, survey);

  const columns: ColumnSpec[] = [
    { name: 'TARGETID', kind: 'scalar', type: 'int64', values: targetid },
    { name: 'SURVEY', kind: 'scalar', type: 'utf8', values: survey },
    { name: 'PROGRAM', kind: 'scalar', type: 'utf8', values: program },
    { name: 'HEALPIX', kind: 'scalar', type: 'int32', values: healpix, valid: healpixValid },
    ...FLOATS.slice(0, 2).map((c): ColumnSpec => ({ name: c, kind: 'scalar', type: 'float64', ...floats.get(c)! })),
    ...FLOATS.slice(2, 4).map((c): ColumnSpec => ({ name: c, kind: 'scalar', type: 'float64', ...floats.get(c)! })),
    { name: 'ZWARN', kind: 'scalar', type: 'int64', values: zwarn, valid: zwarnValid },
    ...FLOATS.slice(4).map((c): ColumnSpec => ({ name: c, kind: 'scalar', type: 'float64', ...floats.get(c)! })),
    { name: 'SPECTYPE', kind: 'scalar', type: 'utf8', values: spectype, valid: spectypeValid },
    { name: 'SUBTYPE', kind: 'scalar', type: 'utf8', values: subtype, valid: subtypeValid },
    { name: 'TSNR2_LRG', kind: 'scalar', type: 'float32', values: tsnr2, valid: tsnr2Valid },
    { name: 'FILE', kind: 'scalar', type: 'utf8', values: file },
    { name: 'ROW', kind: 'scalar', type: 'int32', values: row },
  ];
  for (const [prefix, f] of flags) {
    columns.push({ name: `${prefix}_NSPEC`, kind: 'scalar', type: 'int16', values: f.nspec });
    columns.push({ name: `${prefix}_PRIMARY`, kind: 'scalar', type: 'bool', values: f.primary });
  }
  const targets = flags.get('ZCAT')!.primary.reduce((s, v) => s + v, 0);
  const doc = {
    table: 'zcatalog',
    version: o.version,
    ...(o.selection !== undefined ? { selection: o.selection } : {}),
    ...(o.source !== undefined ? { source: o.source } : {}),
    files: o.files.length,
    rows: n,
    targets,
    filesWithTsnr2Lrg: filesWithTsnr2,
    rule: RULE_TEXT,
    tieBreak: TIE_BREAK_TEXT,
  };
  const bytes = await encodeParquetStream(buildTable(n, columns), { [FOOTER_KEY]: JSON.stringify(doc) });
  return { bytes, rows: n, files: o.files.length, targets, filesWithTsnr2 };
}

/**
 * Builds the table and writes it at CATALOG_PATH, replacing the one there in a single atomic write; a table
 * already there with the same bytes is left alone (`unchanged`), so a run that changed nothing rewrites nothing.
 */
export async function writeCatalog(out: OutputStore, o: BuildOptions): Promise<BuiltCatalog & { location: string; unchanged: boolean }> {
  const built = await buildCatalog(o);
  const old = await out.readFile(CATALOG_PATH);
  const unchanged = old !== undefined && Buffer.from(old.buffer, old.byteOffset, old.byteLength).equals(built.bytes);
  if (!unchanged) await out.writeAtomic(CATALOG_PATH, built.bytes);
  return { ...built, location: out.location(CATALOG_PATH), unchanged };
}

/** Every row has a TARGETID (its key): a null one is no dataset file's. */
function checkNoNullTargetids(parts: readonly FileColumns[], files: readonly CatalogFile[]): void {
  parts.forEach((p, k) => {
    const v = p.columns.get('TARGETID')!;
    if (v.nullCount > 0) throw new CatalogReadError(`${files[k].path}: TARGETID has ${v.nullCount} null value(s)`);
  });
}

/** Copies a numeric column into `target` at `at` (bit for bit when the types match), marking valid rows. */
function copyInto(v: Vector | undefined, target: ScalarArray, at: number, valid?: Uint8Array): void {
  if (!v) return; // absent: the rows stay null (valid 0)
  const arr = v.toArray() as unknown;
  if (arr instanceof (target.constructor as new (n: number) => ScalarArray)) (target as Float64Array).set(arr as Float64Array, at);
  else if (target instanceof BigInt64Array) for (let i = 0; i < v.length; i++) target[at + i] = BigInt((v.get(i) as number | bigint | null) ?? 0);
  else for (let i = 0; i < v.length; i++) (target as Float64Array)[at + i] = Number((v.get(i) as number | bigint | null) ?? 0);
  if (!valid) return;
  if (v.nullCount === 0) valid.fill(1, at, at + v.length);
  else for (let i = 0; i < v.length; i++) valid[at + i] = v.isValid(i) ? 1 : 0;
}

/** Copies a string column (or `fallback` for every row when the file lacks it) into `target` at `at`. */
function fillStrings(v: Vector | undefined, target: string[], valid: Uint8Array | undefined, at: number, rows: number, fallback?: string): void {
  for (let i = 0; i < rows; i++) {
    const s = v ? (v.get(i) as string | null) : (fallback ?? null);
    target[at + i] = s ?? '';
    if (valid) valid[at + i] = s === null ? 0 : 1;
  }
}
