/**
 * Whether a file has the dataset's schema. Two references: the schema the code defines (desi/schema.ts:
 * the catalog columns in their order and types, then spectra columns `{ARM}_{FLUX|IVAR|MASK|RESOLUTION}` as lists of
 * float32 or uint32), checked on the Arrow schema, which carries the logical types (int16, uint32); and the
 * first good file of the dataset, whose column names, Arrow types and Parquet leaves with their physical
 * types every other file must repeat (the same arms, the same nesting), since readers unify files by them.
 */
import type { Schema } from 'apache-arrow';
import type { ColumnSet } from '../desi/column-sets.js';
import { catalogColumns, spectraKindOf } from '../desi/schema.js';
import { QN_CONFIDENCES } from '../desi/afterburners.js';
import { afterburnerColumns } from '../desi/afterburner-columns.js';
import type { AfterburnerKind } from '../desi/selection.js';
import { RULE_TEXT } from '../desi/selection.js';
import { arrowType } from '../parquet/index.js';
import type { ScalarType } from '../parquet/index.js';
import type { ParquetFooter } from '../parquet/footer.js';

/** A file's schema as comparable text: `NAME: ArrowType` per column, `path.to.leaf: PHYSICAL` per leaf. */
export interface SchemaSignature {
  columns: string[];
  leaves: string[];
}

export function schemaSignature(schema: Schema, footer: ParquetFooter): SchemaSignature {
  return {
    columns: schema.fields.map((f) => `${f.name}: ${String(f.type)}`),
    leaves: (footer.rowGroups[0]?.columns ?? []).map((c) => `${c.path.join('.')}: ${c.physicalType}`),
  };
}

/** The catalog columns of a column set as the code defines them, in order, as `NAME: ArrowType`. */
export function expectedCatalogColumns(columns: ColumnSet = 'default'): string[] {
  return catalogColumns(columns).map((c) => `${c.name}: ${c.list ? `List<${String(arrowType(c.type))}>` : String(arrowType(c.type))}`);
}

const SPECTRA_NAME = /^[A-Z][A-Z0-9]*_([A-Z]+)$/;

/**
 * The columns a QSO rule set (`--select desi-qso-dr1|desi-qso`) adds after the catalog columns (desi/refine.ts:
 * QSO_MASKBITS, redrock's Z and ZERR, the afterburner values that decided), as `NAME: ArrowType`; [] for the
 * other selections. `selection` is the footer's selection text.
 */
export function selectionExtraColumns(selection: unknown): string[] {
  if (!(Object.values(RULE_TEXT) as unknown[]).includes(selection)) return [];
  const col = (name: string, type: ScalarType) => `${name}: ${String(arrowType(type))}`;
  return [
    col('QSO_MASKBITS', 'int32'),
    col('Z_RR', 'float64'),
    col('ZERR_RR', 'float64'),
    col('Z_NEW', 'float64'),
    col('ZERR_NEW', 'float32'),
    col('IS_QSO_QN_NEW_RR', 'bool'),
    ...QN_CONFIDENCES.map((c) => col(c, 'float32')),
    col('IS_QSO_MGII', 'bool'),
  ];
}

/** The columns `--with` adds for the footer's afterburners (desi/afterburner-columns.ts), as `NAME: ArrowType`. */
export function withColumns(kinds: readonly AfterburnerKind[] = []): string[] {
  const text = (t: ScalarType) => String(arrowType(t));
  return kinds.flatMap((k) => afterburnerColumns(k).map((c) => `${c.name}: ${c.list ? `List<${text(c.type as ScalarType)}>` : text(c.type as ScalarType)}`));
}

/**
 * How the file's schema differs from the one the code defines for its column set (the footer's `columns`;
 * a file without one predates column sets, and is judged by today's default set, which it fails): the catalog
 * columns in order, then the columns its selection and --with add (`extra`: selectionExtraColumns and
 * withColumns, in any order, each once, all there), then spectra columns; B/R/Z_RESOLUTION are there exactly
 * when the footer's `resolution` is true. [] when it holds.
 */
export function codeSchemaProblems(sig: SchemaSignature, columns: ColumnSet = 'default', resolution = false, extra: readonly string[] = []): string[] {
  const problems: string[] = [];
  const expected = expectedCatalogColumns(columns);
  for (let i = 0; i < expected.length; i++) {
    const got = sig.columns[i];
    if (got !== expected[i]) problems.push(`column ${i + 1} is ${got === undefined ? 'absent' : `"${got}"`}, expected "${expected[i]}"`);
  }
  const added = new Set(extra);
  const seen = new Set<string>();
  for (const col of sig.columns.slice(expected.length)) {
    if (added.has(col)) {
      if (seen.has(col)) problems.push(`column "${col}" is there twice`);
      seen.add(col);
      continue;
    }
    const [name, type] = col.split(': ');
    const kind = spectraKindOf(SPECTRA_NAME.exec(name)?.[1]);
    if (!kind)
      problems.push(
        `column "${col}" is neither a catalog column, nor one its selection or --with adds, nor a spectra column (ARM_FLUX, ARM_IVAR, ARM_MASK, ARM_RESOLUTION)`,
      );
    else if (type !== `List<${String(arrowType(kind.type))}>`) problems.push(`column "${col}" should be List<${String(arrowType(kind.type))}>`);
  }
  const absent = [...added].filter((c) => !seen.has(c));
  if (absent.length > 0) problems.push(`its selection or --with adds ${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ', …' : ''}, absent here`);
  // The footer's `resolution` (--with resolution) says whether the file has B/R/Z_RESOLUTION: one dataset, one schema.
  const names = new Set(sig.columns.map((c) => c.split(': ')[0]));
  const arms = ['B', 'R', 'Z'].map((a) => `${a}_RESOLUTION`);
  if (resolution) {
    const absent = arms.filter((n) => !names.has(n));
    if (absent.length > 0) problems.push(`its footer says --with resolution, but ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} absent`);
  } else {
    const present = [...names].filter((n) => n.endsWith('_RESOLUTION'));
    if (present.length > 0) problems.push(`${present.join(', ')} ${present.length > 1 ? 'are' : 'is'} there, but its footer does not say --with resolution`);
  }
  return problems;
}

/** How the file's schema differs from the dataset's first good file; [] when they are the same. */
export function referenceSchemaProblems(sig: SchemaSignature, ref: SchemaSignature, refPath: string): string[] {
  const problems: string[] = [];
  for (const what of ['columns', 'leaves'] as const) {
    const a = sig[what];
    const b = ref[what];
    const missing = b.filter((x) => !a.includes(x));
    const extra = a.filter((x) => !b.includes(x));
    if (missing.length > 0) problems.push(`${what} of ${refPath} it lacks: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}`);
    if (extra.length > 0) problems.push(`${what} ${refPath} lacks: ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}`);
    if (missing.length === 0 && extra.length === 0 && a.join('\n') !== b.join('\n')) problems.push(`its ${what} are in another order than ${refPath}'s`);
  }
  return problems;
}
