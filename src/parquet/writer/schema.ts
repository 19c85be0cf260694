/**
 * The Parquet schema of an Arrow table as arrow-rs (parquet-wasm) writes it: root "arrow_schema",
 * nullable fields OPTIONAL, list<T> as the three-level LIST (group, repeated "list", leaf named after the
 * Arrow child field), small and unsigned integers as INT32/INT64 with INTEGER logical and converted types,
 * utf8 as BYTE_ARRAY STRING/UTF8. Also the leaf descriptions the column writer needs.
 */
import { DataType, type Field, Precision, type Schema } from 'apache-arrow';
import { Converted, type Logical, PhysicalType, Repetition, type SchemaElement } from './metadata.js';

/** How one leaf's values are stored. */
export type ValueKind = 'i8' | 'i16' | 'i32' | 'i64' | 'u8' | 'u16' | 'u32' | 'u64' | 'f32' | 'f64' | 'bool' | 'utf8';

export interface LeafInfo {
  /** Index of the top-level field. */
  field: number;
  path: string[];
  physical: PhysicalType;
  kind: ValueKind;
  /** A list<T> leaf (max repetition 1, max definition 2 if the list is nullable, else 1). */
  list: boolean;
  /** The top-level field is nullable. */
  nullable: boolean;
}

/** Returns the schema elements and leaves of `schema`, or throws TypeError naming an unsupported field. */
export function parquetSchema(schema: Schema): { elements: SchemaElement[]; leaves: LeafInfo[] } {
  const elements: SchemaElement[] = [{ name: 'arrow_schema', numChildren: schema.fields.length }];
  const leaves: LeafInfo[] = [];
  schema.fields.forEach((f: Field, index) => {
    const type = f.type as DataType;
    const repetition = f.nullable ? Repetition.OPTIONAL : Repetition.REQUIRED;
    if (DataType.isList(type)) {
      const child = type.children[0];
      if (child.nullable) throw new TypeError(`own Parquet writer: list column ${f.name} has nullable elements`);
      const leaf = primitive(child.type as DataType, `${f.name}.${child.name}`);
      elements.push({ name: f.name, repetition, numChildren: 1, converted: Converted.LIST, logical: { kind: 'list' } });
      elements.push({ name: 'list', repetition: Repetition.REPEATED, numChildren: 1 });
      elements.push({ name: child.name, repetition: Repetition.REQUIRED, ...leaf.element });
      leaves.push({ field: index, path: [f.name, 'list', child.name], physical: leaf.element.type, kind: leaf.kind, list: true, nullable: f.nullable });
      return;
    }
    const p = primitive(type, f.name);
    elements.push({ name: f.name, repetition, ...p.element });
    leaves.push({ field: index, path: [f.name], physical: p.element.type, kind: p.kind, list: false, nullable: f.nullable });
  });
  return { elements, leaves };
}

function primitive(type: DataType, name: string): { kind: ValueKind; element: { type: PhysicalType; converted?: Converted; logical?: Logical } } {
  if (DataType.isInt(type)) {
    const signed = type.isSigned;
    const bits = type.bitWidth;
    const logical: Logical = { kind: 'int', bitWidth: bits, signed };
    switch (`${signed ? 'i' : 'u'}${bits}`) {
      case 'i8':
        return { kind: 'i8', element: { type: PhysicalType.INT32, converted: Converted.INT_8, logical } };
      case 'i16':
        return { kind: 'i16', element: { type: PhysicalType.INT32, converted: Converted.INT_16, logical } };
      case 'i32':
        return { kind: 'i32', element: { type: PhysicalType.INT32 } };
      case 'i64':
        return { kind: 'i64', element: { type: PhysicalType.INT64 } };
      case 'u8':
        return { kind: 'u8', element: { type: PhysicalType.INT32, converted: Converted.UINT_8, logical } };
      case 'u16':
        return { kind: 'u16', element: { type: PhysicalType.INT32, converted: Converted.UINT_16, logical } };
      case 'u32':
        return { kind: 'u32', element: { type: PhysicalType.INT32, converted: Converted.UINT_32, logical } };
      case 'u64':
        return { kind: 'u64', element: { type: PhysicalType.INT64, converted: Converted.UINT_64, logical } };
    }
  }
  if (DataType.isFloat(type) && type.precision === Precision.SINGLE) return { kind: 'f32', element: { type: PhysicalType.FLOAT } };
  if (DataType.isFloat(type) && type.precision === Precision.DOUBLE) return { kind: 'f64', element: { type: PhysicalType.DOUBLE } };
  if (DataType.isBool(type)) return { kind: 'bool', element: { type: PhysicalType.BOOLEAN } };
  if (DataType.isUtf8(type)) return { kind: 'utf8', element: { type: PhysicalType.BYTE_ARRAY, converted: Converted.UTF8, logical: { kind: 'string' } } };
  throw new TypeError(`own Parquet writer: column ${name} has unsupported type ${String(type)}`);
}
