/**
 * A dataset's identity: the selection, the source root and the schema version its files were made with,
 * kept in one manifest inside --out (`_desi-qad/dataset.json`). Every run establishes it before writing a
 * file: the first run's proposal becomes the identity, and a later or concurrent run with a different
 * selection or source is refused instead of mixing files. This module holds the record, its validation and
 * the comparison; identity-local.ts and identity-s3.ts decide it race-safely on a folder and on S3.
 */
import { COLUMN_SETS, type ColumnSet } from '../desi/column-sets.js';

export const DATASET_FORMAT = 'desi-qad-dataset';
/**
 * The dataset layout version; a run refuses a dataset made with another one. 2: the column sets (TSNR2,
 * target masks of every survey, photometry; `--columns default|all`). A dataset of version 1 has the old
 * schema, and its files cannot be mixed with new ones (readers unify files by schema): it is refused.
 */
export const DATASET_SCHEMA_VERSION = 2;
/** Where the manifest lives inside --out. */
export const MANIFEST_REL = '_desi-qad/dataset.json';

/** What a dataset was made with, and by whom (the manifest's content). */
export interface DatasetIdentity {
  format: typeof DATASET_FORMAT;
  schemaVersion: number;
  /** Canonical selection text (desi/selection.ts selectionText). */
  selection: string;
  /** The column set (--columns): one dataset, one schema. Version-1 manifests, which had none, read as 'default'. */
  columns: ColumnSet;
  /**
   * --with: the column groups the dataset adds to its selection (cli/with-option.ts WITH_NAMES, in that order).
   * Absent when none, so the manifests written before --with read unchanged; a run with other groups is refused.
   */
  with?: string[];
  /** The source root (an absolute local path or s3://bucket/prefix). */
  source: string;
  /**
   * 'tiles' for a dataset of the tile layout (tile-based cumulative coadds); absent for the healpix layout,
   * so the manifests written before the tile layout existed read unchanged. A dataset never mixes layouts.
   */
  layout?: 'tiles';
  toolVersion: string;
  /** ISO time. */
  created: string;
  /** The run id (src/storage/run-id.ts newRunId) of the run that proposed it. */
  createdBy: string;
}

/** The fields that make two runs' datasets incompatible; toolVersion, created and createdBy do not. */
const MATTERS = ['selection', 'columns', 'with', 'source', 'layout', 'schemaVersion'] as const;

/**
 * Lines saying what differs that matters (selection, columns, with, source, layout, schemaVersion only), e.g.
 * `selection: "SPECTYPE in (QSO) and ZWARN == 0" in the dataset, "all rows" in this run`; [] when compatible.
 */
export function identityDifferences(dataset: DatasetIdentity, run: DatasetIdentity): string[] {
  const lines: string[] = [];
  for (const k of MATTERS) {
    const [d, r] =
      k === 'layout'
        ? [dataset.layout ?? 'healpix', run.layout ?? 'healpix']
        : k === 'with'
          ? [withText(dataset.with), withText(run.with)]
          : [dataset[k], run[k]];
    if (d !== r) lines.push(`${k}: ${JSON.stringify(d)} in the dataset, ${JSON.stringify(r)} in this run`);
  }
  return lines;
}

/** --with's groups as one text ("none" when there are none), for comparing and saying what differs. */
function withText(groups: readonly string[] | undefined): string {
  return groups && groups.length > 0 ? groups.join(',') : 'none';
}

/** Whether two identities are the same record, field by field (the same decision, not only compatible). */
export function sameIdentity(a: DatasetIdentity, b: DatasetIdentity): boolean {
  return formatIdentity(a) === formatIdentity(b);
}

/** The manifest's text: the fields in a fixed order, indented, with a final newline. */
export function formatIdentity(id: DatasetIdentity): string {
  const ordered: DatasetIdentity = {
    format: id.format,
    schemaVersion: id.schemaVersion,
    selection: id.selection,
    columns: id.columns,
    ...(id.with && id.with.length > 0 ? { with: [...id.with] } : {}),
    source: id.source,
    ...(id.layout === 'tiles' ? { layout: id.layout } : {}),
    toolVersion: id.toolVersion,
    created: id.created,
    createdBy: id.createdBy,
  };
  return JSON.stringify(ordered, null, 2) + '\n';
}

/** Parses and validates a manifest's text; throws an Error naming `where` and what is wrong. */
export function parseIdentity(text: string, where: string): DatasetIdentity {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const head = text.trimStart().slice(0, 40);
    const hint = head.startsWith('<') ? ` (it starts with ${JSON.stringify(head)}: an HTML or XML page, not a manifest)` : '';
    throw new Error(`${where}: the dataset manifest is not valid JSON${hint}: ${(err as Error).message}`);
  }
  return identityFromJson(value, where);
}

/** Validates a parsed JSON value as an identity (a manifest, or the value inside an S3 proposal block). */
export function identityFromJson(value: unknown, where: string): DatasetIdentity {
  const bad = (what: string): Error => new Error(`${where}: not a valid dataset manifest: ${what}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('expected a JSON object');
  const o = value as Record<string, unknown>;
  if (o.format !== DATASET_FORMAT) throw bad(`"format" is ${JSON.stringify(o.format)}, expected ${JSON.stringify(DATASET_FORMAT)}`);
  if (typeof o.schemaVersion !== 'number' || !Number.isSafeInteger(o.schemaVersion) || o.schemaVersion < 1) {
    throw bad(`"schemaVersion" is ${JSON.stringify(o.schemaVersion)}, expected a positive integer`);
  }
  const text = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw bad(`"${k}" is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a string`);
    return v;
  };
  const selection = text('selection');
  const source = text('source');
  const toolVersion = text('toolVersion');
  const created = text('created');
  const createdBy = text('createdBy');
  if (selection === '') throw bad('"selection" is empty');
  if (source === '') throw bad('"source" is empty');
  if (o.layout !== undefined && o.layout !== 'tiles') throw bad(`"layout" is ${JSON.stringify(o.layout)}, expected "tiles" or no "layout" (healpix)`);
  if (!Number.isFinite(Date.parse(created))) throw bad(`"created" is ${JSON.stringify(created)}, expected an ISO time`);
  if (createdBy === '') throw bad('"createdBy" is empty');
  let columns: ColumnSet = 'default';
  if (o.columns !== undefined || o.schemaVersion >= 2) {
    if (!(COLUMN_SETS as readonly unknown[]).includes(o.columns))
      throw bad(`"columns" is ${JSON.stringify(o.columns)}, expected one of ${COLUMN_SETS.join(', ')}`);
    columns = o.columns as ColumnSet;
  }
  if (o.with !== undefined && (!Array.isArray(o.with) || o.with.some((g) => typeof g !== 'string' || g === '')))
    throw bad(`"with" is ${JSON.stringify(o.with)}, expected a list of column group names`);
  const groups = o.with as string[] | undefined;
  return {
    format: DATASET_FORMAT,
    schemaVersion: o.schemaVersion,
    selection,
    columns,
    ...(groups && groups.length > 0 ? { with: [...groups] } : {}),
    source,
    ...(o.layout === 'tiles' ? { layout: 'tiles' as const } : {}),
    toolVersion,
    created,
    createdBy,
  };
}

/** Reads and decides the identity of one --out. */
export interface IdentityStore {
  /** Where the manifest is (a path or an s3:// URL), for messages. */
  readonly location: string;
  /** The identity, or undefined when --out has none yet. */
  read(signal?: AbortSignal): Promise<DatasetIdentity | undefined>;
  /**
   * The dataset's identity: the existing one, or `proposed` if --out has none. Any number of concurrent
   * callers on one --out (processes, machines) all get the same identity back; `created` is true for exactly
   * one of them (the one whose proposal won: identity.createdBy === proposed.createdBy).
   */
  establish(proposed: DatasetIdentity, signal?: AbortSignal): Promise<{ identity: DatasetIdentity; created: boolean }>;
}
