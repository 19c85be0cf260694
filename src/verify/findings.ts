/**
 * What `desi-qad verify` reports: findings (one per fault it found, each named by a short kebab-case kind),
 * the counts of what it checked, and the report that `--json` prints. The JSON shape is a contract: other
 * commands (`desi-qad preflight`) run `verify --json` and read `ok` and `findings`.
 */

/** Every kind of finding, in the order of the checks (README, Verifying a dataset). */
export const FINDING_KINDS = [
  'no-dataset',
  'out-unreadable',
  'journal-damaged',
  'missing-file',
  'size-mismatch',
  'unreadable-file',
  'bad-footer',
  'other-tile',
  'other-selection',
  'schema-mismatch',
  'row-count-mismatch',
  'wavelength-missing',
  'bad-wavelength',
  'wavelength-mismatch',
  'stray-file',
  'stray-temporary',
  'source-missing',
  'source-changed',
  'source-unreadable',
  'deep-mismatch',
  'deep-failed',
] as const;

export type FindingKind = (typeof FINDING_KINDS)[number];

/** One fault: what kind, which tile ("main/dark/23040") and file (relative to --out) when known, and why. */
export interface Finding {
  kind: FindingKind;
  tile?: string;
  path?: string;
  detail: string;
}

/** What was checked, for the summary and `checked` in the JSON report. */
export interface Checked {
  /** The latest journal record of each tile, by status. */
  ok: number;
  empty: number;
  missing: number;
  failed: number;
  /** Journal records that did not parse. */
  damagedRecords: number;
  /** Footers read and checked (selection, tile, schema, rows). */
  footers: number;
  /** Temporaries of live runs (still being written): not stray, not checked. */
  liveTemporaries: number;
  /** Tiles whose coadd and redrock were compared with the journal's fingerprint (--source). */
  sources: number;
  /** Done tiles whose record has no fingerprint (older versions): nothing to compare them with. */
  sourcesUnknown: number;
  /** Tiles re-converted and compared byte for byte (--deep). */
  deep: number;
}

/** Zero counts. */
export function emptyChecked(): Checked {
  return { ok: 0, empty: 0, missing: 0, failed: 0, damagedRecords: 0, footers: 0, liveTemporaries: 0, sources: 0, sourcesUnknown: 0, deep: 0 };
}

/** What `verify --json` prints: one JSON document. */
export interface VerifyReport {
  /** No finding. */
  ok: boolean;
  /** --out as given (a folder's absolute path, or s3://bucket/prefix). */
  dataset: string;
  /** Tiles the journal knows (any status). */
  tiles: number;
  /** Dataset `.parquet` files found under --out (not temporaries, not `_desi-qad/`). */
  files: number;
  checked: Checked;
  findings: Finding[];
}

/** A finding, without the optional fields that are undefined (so the JSON has no `"tile": null`). */
export function finding(kind: FindingKind, detail: string, where: { tile?: string; path?: string } = {}): Finding {
  return {
    kind,
    ...(where.tile !== undefined ? { tile: where.tile } : {}),
    ...(where.path !== undefined ? { path: where.path } : {}),
    detail,
  };
}

/** Findings in a stable order: by tile (or path), then by the order of the checks. */
export function sortFindings(findings: Finding[]): Finding[] {
  const at = (f: Finding) => f.tile ?? f.path ?? '';
  return [...findings].sort((a, b) => {
    const x = at(a);
    const y = at(b);
    if (x !== y) return x === '' ? -1 : y === '' ? 1 : x < y ? -1 : 1;
    return FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind);
  });
}
