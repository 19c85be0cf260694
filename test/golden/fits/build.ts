/**
 * Tiny FITS builder for unit tests: card images, headers padded to 2880-byte blocks, data padded with
 * zeros, and big-endian arrays. Only for making small, deliberately broken or unusual files in tests.
 */

export const BLOCK = 2880;

/** A card image: "KEY     = value / comment" with the value right-justified to column 30 like astropy. */
export function card(key: string, value: string | number | bigint | boolean, comment?: string): string {
  let v: string;
  if (typeof value === 'string') v = `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
  else if (typeof value === 'boolean') v = (value ? 'T' : 'F').padStart(20);
  else v = String(value).padStart(20);
  const text = `${key.padEnd(8)}= ${v}${comment !== undefined ? ` / ${comment}` : ''}`;
  if (text.length > 80) throw new Error(`card too long: ${text}`);
  return text.padEnd(80);
}

/** A card image given literally, padded to 80 characters. */
export function raw(text: string): string {
  if (text.length > 80) throw new Error(`card too long: ${text}`);
  return text.padEnd(80);
}

/** Header bytes: the cards, END, spaces to a whole block. */
export function header(cards: string[], end = true): Buffer {
  let text = cards.join('') + (end ? 'END'.padEnd(80) : '');
  text += ' '.repeat((BLOCK - (text.length % BLOCK)) % BLOCK);
  return Buffer.from(text, 'latin1');
}

/** Data bytes padded with zeros to a whole block. */
export function padded(data: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.ceil(data.byteLength / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

/** The mandatory cards of a primary HDU. */
export function primaryCards(bitpix = 8, axes: number[] = [], extra: string[] = []): string[] {
  return [
    card('SIMPLE', true),
    card('BITPIX', bitpix),
    card('NAXIS', axes.length),
    ...axes.map((n, i) => card(`NAXIS${i + 1}`, n)),
    card('EXTEND', true),
    ...extra,
  ];
}

/** The mandatory cards of an IMAGE extension. */
export function imageCards(name: string, bitpix: number, axes: number[], extra: string[] = []): string[] {
  return [
    card('XTENSION', 'IMAGE'),
    card('BITPIX', bitpix),
    card('NAXIS', axes.length),
    ...axes.map((n, i) => card(`NAXIS${i + 1}`, n)),
    card('PCOUNT', 0),
    card('GCOUNT', 1),
    card('EXTNAME', name),
    ...extra,
  ];
}

/** The mandatory cards of a BINTABLE with columns [TTYPE, TFORM, extra keys without the n]. */
export function tableCards(
  name: string,
  rowBytes: number,
  rows: number,
  columns: [string, string, Record<string, string | number | bigint>?][],
  pcount = 0,
  extra: string[] = [],
): string[] {
  const cards = [
    card('XTENSION', 'BINTABLE'),
    card('BITPIX', 8),
    card('NAXIS', 2),
    card('NAXIS1', rowBytes),
    card('NAXIS2', rows),
    card('PCOUNT', pcount),
    card('GCOUNT', 1),
    card('TFIELDS', columns.length),
  ];
  columns.forEach(([ttype, tform, keys], i) => {
    cards.push(card(`TTYPE${i + 1}`, ttype), card(`TFORM${i + 1}`, tform));
    for (const [k, v] of Object.entries(keys ?? {})) cards.push(card(`${k}${i + 1}`, v));
  });
  return [...cards, card('EXTNAME', name), ...extra];
}

/** One HDU: header then padded data. */
export function hdu(cards: string[], data: Uint8Array = new Uint8Array(0)): Buffer {
  return Buffer.concat([header(cards), padded(data)]);
}

/** A whole file from HDUs. */
export function fitsFile(...hdus: Buffer[]): Uint8Array {
  return new Uint8Array(Buffer.concat(hdus));
}

/** Big-endian bytes of numbers written with a DataView setter. */
export function be(kind: 'i16' | 'i32' | 'i64' | 'f32' | 'f64' | 'u8', values: (number | bigint)[]): Uint8Array {
  const size = { u8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8 }[kind];
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * size;
    if (kind === 'u8') dv.setUint8(at, Number(v));
    else if (kind === 'i16') dv.setInt16(at, Number(v));
    else if (kind === 'i32') dv.setInt32(at, Number(v));
    else if (kind === 'i64') dv.setBigInt64(at, BigInt(v));
    else if (kind === 'f32') dv.setFloat32(at, Number(v));
    else dv.setFloat64(at, Number(v));
  });
  return out;
}

/** Concatenated byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
