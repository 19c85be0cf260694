import { FitsError } from '../fits/errors.js';
import type { Hdu, ImageArray, ImageInfo } from '../fits/index.js';
import { decodeImage, imageInfo, imageRowsRange } from '../fits/index.js';
import { DesiError } from './errors.js';
import { RESOLUTION_DIAGONALS, SPECTRA_KINDS, type SpectraKind } from './schema.js';

/** One arm of a coadd (B, R, Z, or whatever `X_FLUX` HDUs the file has) and the HDUs that hold it. */
export interface Arm {
  arm: string;
  wavelength: Hdu;
  images: { kind: SpectraKind; hdu: Hdu }[];
  /** The arm's X_RESOLUTION HDU, when findArms was asked for it (--with resolution). */
  resolution?: Hdu;
}

/** DESI's spectrograph arms, in the order their columns appear in the output. */
export const ARM_ORDER = ['B', 'R', 'Z'];

/**
 * Finds the arms of a coadd by EXTNAME, in the order B, R, Z (then any other, alphabetically): every `X_FLUX` must come with
 * `X_IVAR`, `X_MASK` and `X_WAVELENGTH`, and with `resolution` (--with resolution) `X_RESOLUTION` too; without it
 * the RESOLUTION HDUs are not part of the output and are never read.
 */
export function findArms(file: string, hdus: Hdu[], resolution = false): Arm[] {
  const byName = new Map<string, Hdu[]>();
  for (const h of hdus) byName.set(h.name, [...(byName.get(h.name) ?? []), h]);
  const one = (name: string): Hdu => {
    const found = byName.get(name);
    if (!found) throw new FitsError('MISSING_HDU', file, `no HDU with EXTNAME ${name}`, name);
    if (found.length > 1) throw new FitsError('DUPLICATE_HDU', file, `EXTNAME ${name} appears ${found.length} times`, name);
    return found[0];
  };
  const arms: Arm[] = [];
  for (const h of hdus) {
    const m = /^([A-Z0-9]+)_FLUX$/.exec(h.name);
    if (!m) continue;
    const arm = m[1];
    arms.push({
      arm,
      wavelength: one(`${arm}_WAVELENGTH`),
      images: SPECTRA_KINDS.map((kind) => ({ kind, hdu: one(`${arm}_${kind.suffix}`) })),
      ...(resolution ? { resolution: one(`${arm}_RESOLUTION`) } : {}),
    });
  }
  // Every file of a dataset has the same columns: a coadd without one of DESI's arms cannot be converted.
  for (const a of ARM_ORDER) {
    if (!arms.some((x) => x.arm === a)) throw new FitsError('MISSING_HDU', file, `no HDU with EXTNAME ${a}_FLUX (the ${a} arm)`, `${a}_FLUX`);
  }
  // The output's column order must not depend on the HDU order of a file: DESI's arms first, then any other.
  const rank = (a: string) => (ARM_ORDER.indexOf(a) + ARM_ORDER.length + 1) % (ARM_ORDER.length + 1);
  return arms.sort((x, y) => rank(x.arm) - rank(y.arm) || x.arm.localeCompare(y.arm));
}

/** A byte range of an image HDU covering rows [firstRow, endRow). */
export interface RowRange {
  firstRow: number;
  endRow: number;
  start: number;
  end: number;
}

/** A SHAPE_MISMATCH when the image's NAXISn describe more bytes than its HDU holds. */
function checkDataSize(file: string, hdu: Hdu, info: ImageInfo): void {
  const described = info.rowLength * info.rows * info.bytesPerValue;
  if (described > hdu.dataLength)
    throw new DesiError('SHAPE_MISMATCH', file, `NAXISn describe ${described} bytes but the HDU holds ${hdu.dataLength}`, hdu.name, 'NAXIS');
}

/**
 * Checks an image HDU's shape against the FIBERMAP (one row per target, `nwave` values each) and returns its
 * layout. Header arithmetic only: no data is read.
 */
export function spectraImageInfo(file: string, hdu: Hdu, nspec: number, nwave: number | undefined): ImageInfo {
  const info = imageInfo(file, hdu);
  if (info.axes.length !== 2) throw new DesiError('SHAPE_MISMATCH', file, `expected a 2-D image (nwave, nspec), found NAXIS=${info.axes.length}`, hdu.name);
  if (info.rows !== nspec) throw new DesiError('SHAPE_MISMATCH', file, `has ${info.rows} spectra (NAXIS2) but FIBERMAP has ${nspec} rows`, hdu.name, 'NAXIS2');
  checkDataSize(file, hdu, info);
  if (nwave !== undefined && info.rowLength !== nwave) {
    throw new DesiError('SHAPE_MISMATCH', file, `has ${info.rowLength} wavelengths (NAXIS1) but the WAVELENGTH HDU has ${nwave}`, hdu.name, 'NAXIS1');
  }
  return info;
}

/**
 * Checks a RESOLUTION image's shape against the FIBERMAP and the arm's wavelength grid: (nspec, 11, nwave) in
 * numpy order, i.e. NAXIS1 = nwave, NAXIS2 = 11 diagonals, NAXIS3 = nspec, float32. Each row (one target)
 * is then 11 x nwave values. Header arithmetic only: no data is read.
 */
export function resolutionImageInfo(file: string, hdu: Hdu, nspec: number, nwave: number | undefined): ImageInfo {
  const info = imageInfo(file, hdu);
  if (info.axes.length !== 3)
    throw new DesiError(
      'SHAPE_MISMATCH',
      file,
      `expected a 3-D image (nwave, ${RESOLUTION_DIAGONALS}, nspec), found NAXIS=${info.axes.length}`,
      hdu.name,
      'NAXIS',
    );
  const [n1, n2, n3] = info.axes;
  if (nwave !== undefined && n1 !== nwave)
    throw new DesiError('SHAPE_MISMATCH', file, `has ${n1} wavelengths (NAXIS1) but the WAVELENGTH HDU has ${nwave}`, hdu.name, 'NAXIS1');
  if (n2 !== RESOLUTION_DIAGONALS)
    throw new DesiError('SHAPE_MISMATCH', file, `has ${n2} diagonals (NAXIS2), expected DESI's ${RESOLUTION_DIAGONALS}`, hdu.name, 'NAXIS2');
  if (n3 !== nspec) throw new DesiError('SHAPE_MISMATCH', file, `has ${n3} spectra (NAXIS3) but FIBERMAP has ${nspec} rows`, hdu.name, 'NAXIS3');
  if (info.bitpix !== -32 || info.type !== 'float32')
    throw new DesiError('BAD_TYPE', file, `expected float32 (BITPIX -32, no scaling), found BITPIX ${info.bitpix} read as ${info.type}`, hdu.name, 'BITPIX');
  checkDataSize(file, hdu, info);
  return info;
}

/**
 * Plans the reads of the given rows (ascending) of an image: one range per run of rows, where runs closer
 * than `gapBytes` are merged so that a few larger reads replace many small ones. `gapBytes` = Infinity gives
 * one range from the first to the last row.
 */
export function planRowRanges(info: ImageInfo, hdu: Hdu, rows: Int32Array, gapBytes: number): RowRange[] {
  const rowBytes = info.rowLength * info.bytesPerValue;
  const gapRows = gapBytes === Infinity ? Infinity : Math.floor(gapBytes / Math.max(rowBytes, 1));
  const ranges: RowRange[] = [];
  let i = 0;
  while (i < rows.length) {
    const first = rows[i];
    let last = first;
    while (i + 1 < rows.length && rows[i + 1] - last - 1 <= gapRows) {
      i += 1;
      last = rows[i];
    }
    const { start, end } = imageRowsRange(info, hdu, first, last + 1);
    ranges.push({ firstRow: first, endRow: last + 1, start, end });
    i += 1;
  }
  return ranges;
}

/** The fetched bytes of rows [firstRow, endRow) of an image. */
export interface RowChunk {
  firstRow: number;
  endRow: number;
  bytes: Uint8Array;
}

/**
 * Decodes the fetched chunks of one image HDU and gathers the wanted rows (ascending `rows`) into one flat
 * array, row-major, as the output type of its kind: float32 for FLUX and IVAR, uint32 for MASK (the same 32
 * bits astropy reads, BZERO applied when the file uses the unsigned convention). Bits are copied through
 * integer views, so NaN payloads, -0.0 and denormals survive.
 */
export function gatherRows(
  file: string,
  hdu: Hdu,
  info: ImageInfo,
  kind: SpectraKind,
  chunks: readonly RowChunk[],
  rows: Int32Array,
): Float32Array | Uint32Array {
  const width = info.rowLength;
  const whole = wholeChunk(chunks, rows);
  if (whole !== undefined) {
    // Every row of the one chunk, in order (a cut that keeps every spectrum): its decoded values are the
    // output as they are, with no copy (and no second buffer the size of the column to allocate).
    const values = decodeImage(file, hdu, info, whole.bytes);
    checkElementType(file, hdu, kind, values);
    if (kind.type === 'float32') return values as Float32Array;
    return values instanceof Uint32Array ? values : new Uint32Array(values.buffer, values.byteOffset, values.length);
  }
  const out = kind.type === 'float32' ? new Float32Array(rows.length * width) : new Uint32Array(rows.length * width);
  const dst = new Uint32Array(out.buffer);
  let k = 0;
  for (const chunk of chunks) {
    const values = decodeImage(file, hdu, info, chunk.bytes);
    checkElementType(file, hdu, kind, values);
    const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
    while (k < rows.length && rows[k] < chunk.endRow) {
      const r = rows[k];
      if (r < chunk.firstRow) throw new Error(`internal: row ${r} of ${hdu.name} not covered by the planned reads`);
      const off = (r - chunk.firstRow) * width;
      dst.set(src.subarray(off, off + width), k * width);
      k += 1;
    }
  }
  if (k !== rows.length) throw new Error(`internal: ${rows.length - k} rows of ${hdu.name} not covered by the planned reads`);
  return out;
}

/** The only chunk when it holds exactly `rows` (ascending), row for row; else undefined. */
function wholeChunk(chunks: readonly RowChunk[], rows: Int32Array): RowChunk | undefined {
  if (chunks.length !== 1) return undefined;
  const c = chunks[0];
  if (rows.length !== c.endRow - c.firstRow) return undefined;
  for (let k = 0; k < rows.length; k++) if (rows[k] !== c.firstRow + k) return undefined;
  return c;
}

function checkElementType(file: string, hdu: Hdu, kind: SpectraKind, values: ImageArray): void {
  const ok = kind.type === 'float32' ? values instanceof Float32Array : values instanceof Int32Array || values instanceof Uint32Array;
  if (!ok) {
    throw new DesiError(
      'BAD_TYPE',
      file,
      `expected ${kind.type === 'float32' ? 'float32 (BITPIX -32)' : '32-bit integers (BITPIX 32)'}, found ${values.constructor.name}`,
      hdu.name,
      'BITPIX',
    );
  }
}
