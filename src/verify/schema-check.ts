/**
 * Whether a file has the dataset's schema. Two references: the schema the code defines (desi/schema.ts:
 * the catalog columns in their order and types, then spectra columns `{ARM}_{FLUX|IVAR|MASK}` as lists of
 * float32 or uint32), checked on the Arrow schema, which carries the logical types (int16, uint32); and the
 * first good file of the dataset, whose column names, Arrow types and Parquet leaves with their physical
 * types every other file must repeat (the same arms, the same nesting), since readers unify files by them.
 */
import type { Schema } from 'apache-arrow';
import type { ColumnSet } from '../desi/column-sets.js';
import { catalogColumns, SPECTRA_KINDS } from '../desi/schema.js';
import { QN_CONFIDENCES } from '../desi/afterburners.js';
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

/**
 * How the file's schema differs from the one the code defines for its column set (the footer's `columns`;
 * a file without one predates column sets, and is judged by today's default set, which it fails), with the
 * columns its selection adds (`extra`, selectionExtraColumns) after the catalog ones; [] when it holds.
 */
export function codeSchemaProblems(sig: SchemaSignature, columns: ColumnSet = 'default', extra: readonly string[] = []): string[] {
  const problems: string[] = [];
  const expected = [...expectedCatalogColumns(columns), ...extra];
  for (let i = 0; i < expected.length; i++) {
    const got = sig.columns[i];
    if (got !== expected[i]) problems.push(`column ${i + 1} is ${got === undefined ? 'absent' : `"${got}"`}, expected "${expected[i]}"`);
  }
  for (const col of sig.columns.slice(expected.length)) {
    const [name, type] = col.split(': ');
    const kind = SPECTRA_KINDS.find((k) => k.suffix === SPECTRA_NAME.exec(name)?.[1]);
    if (!kind) problems.push(`column "${col}" is neither a catalog column nor a spectra column (ARM_FLUX, ARM_IVAR, ARM_MASK)`);
    else if (type !== `List<${String(arrowType(kind.type))}>`) problems.push(`column "${col}" should be List<${String(arrowType(kind.type))}>`);
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
