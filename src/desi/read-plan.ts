import type { Hdu } from '../fits/index.js';
import { imageInfo } from '../fits/index.js';
import { DesiError } from './errors.js';
import { RESOLUTION_KIND } from './schema.js';
import { findArms, planRowRanges, resolutionImageInfo, spectraImageInfo, type RowRange } from './spectra.js';
import type { SpectraChunks, WavelengthData } from './tile-table.js';

/**
 * The read plan of a tile's spectra, as data (computed from header arithmetic before any byte is read): every
 * byte range of the coadd to fetch and what each fills, either one arm's WAVELENGTH data or one run of rows
 * of one image (B_FLUX ...). A fetcher reads `reads` in any order and with any concurrency; `fillPlan` then
 * puts the bytes where they belong, so the result does not depend on the order the reads finished in.
 */
export interface SpectraReadPlan {
  file: string;
  /** Arms in output order (B, R, Z, then any other), each with its WAVELENGTH HDU. */
  wavelengths: { arm: string; hdu: Hdu }[];
  /**
   * Spectra images in output order (per arm FLUX, IVAR, MASK; then, with --with resolution, every arm's
   * RESOLUTION), with their row ranges in file order.
   */
  images: (Omit<SpectraChunks, 'chunks'> & { ranges: RowRange[] })[];
  reads: PlannedRead[];
}

export interface PlannedRead {
  start: number;
  end: number;
  fills: { wavelength: number } | { image: number; range: number };
}

/**
 * Plans the reads of the selected rows (`coaddRows`, ascending FIBERMAP rows) of every spectra image of a
 * coadd, and of each arm's wavelength grid; with `resolution` (--with resolution) of each arm's RESOLUTION
 * image too, whose rows (11 x nwave values each) are planned like the others. Rows closer than `gapBytes` are
 * read in one range (Infinity: one range from the first to the last selected row of each image).
 */
export function planSpectraReads(file: string, hdus: Hdu[], nspec: number, coaddRows: Int32Array, gapBytes: number, resolution = false): SpectraReadPlan {
  const plan: SpectraReadPlan = { file, wavelengths: [], images: [], reads: [] };
  const arms = findArms(file, hdus, resolution);
  const nwaves: number[] = [];
  for (const arm of arms) {
    const w = arm.wavelength;
    const wInfo = imageInfo(file, w);
    if (wInfo.axes.length !== 1) throw new DesiError('SHAPE_MISMATCH', file, `expected a 1-D wavelength array, found NAXIS=${wInfo.axes.length}`, w.name);
    plan.reads.push({ start: w.dataStart, end: w.dataStart + w.dataLength, fills: { wavelength: plan.wavelengths.length } });
    plan.wavelengths.push({ arm: arm.arm, hdu: w });
    nwaves.push(wInfo.axes[0]);
    for (const { kind, hdu } of arm.images) {
      const info = spectraImageInfo(file, hdu, nspec, wInfo.axes[0]);
      const ranges = planRowRanges(info, hdu, coaddRows, gapBytes);
      const image = plan.images.length;
      plan.images.push({ name: hdu.name, kind: kind.suffix, hdu, info, ranges });
      ranges.forEach((r, range) => plan.reads.push({ start: r.start, end: r.end, fills: { image, range } }));
    }
  }
  arms.forEach((arm, a) => {
    if (!arm.resolution) return;
    const hdu = arm.resolution;
    const info = resolutionImageInfo(file, hdu, nspec, nwaves[a]);
    const ranges = planRowRanges(info, hdu, coaddRows, gapBytes);
    const image = plan.images.length;
    plan.images.push({ name: hdu.name, kind: RESOLUTION_KIND.suffix, hdu, info, ranges });
    ranges.forEach((r, range) => plan.reads.push({ start: r.start, end: r.end, fills: { image, range } }));
  });
  return plan;
}

/** Bytes the plan reads. */
export function planBytes(plan: SpectraReadPlan): number {
  return plan.reads.reduce((s, r) => s + r.end - r.start, 0);
}

/** Puts the fetched bytes (`bytes[i]` for `plan.reads[i]`) into the images' chunks and the wavelength data. */
export function fillPlan(plan: SpectraReadPlan, bytes: readonly Uint8Array[]): { spectra: SpectraChunks[]; wavelengths: WavelengthData[] } {
  if (bytes.length !== plan.reads.length) throw new Error(`internal: ${bytes.length} reads returned for ${plan.reads.length} planned`);
  const spectra: SpectraChunks[] = plan.images.map(({ ranges, ...img }) => ({
    ...img,
    chunks: ranges.map((r) => ({ firstRow: r.firstRow, endRow: r.endRow, bytes: new Uint8Array(0) })),
  }));
  const wavelengths: WavelengthData[] = plan.wavelengths.map((w) => ({ ...w, bytes: new Uint8Array(0) }));
  plan.reads.forEach((read, i) => {
    const b = bytes[i];
    if (b.byteLength !== read.end - read.start) throw new Error(`internal: read [${read.start}, ${read.end}) of ${plan.file} returned ${b.byteLength} bytes`);
    if ('wavelength' in read.fills) wavelengths[read.fills.wavelength].bytes = b;
    else spectra[read.fills.image].chunks[read.fills.range].bytes = b;
  });
  return { spectra, wavelengths };
}
