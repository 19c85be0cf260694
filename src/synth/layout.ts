/**
 * The HDU layout of a synthetic coadd and redrock file, without data: headers and data sizes, so a
 * tile's file sizes are known exactly before (or instead of) writing it.
 */
import { padToBlock } from '../fits/block.js';
import type { Card } from '../fits/card.js';
import { formatHeader } from '../fits/card-format.js';
import { binTableHeaderCards, imageDataBytes, imageHeaderCards, primaryHeaderCards, rowBytes, type BinTableSpec, type ImageSpec } from '../fits/hdu-spec.js';
import { EXP_FIBERMAP_COLUMNS, fibermapColumnsOf, REDSHIFTS_COLUMNS, SCORES_COLUMNS, TSNR2_COLUMNS } from './columns.js';
import { armGrids, NDIAG, type WavelengthMode } from './grids.js';
import { HPX_NPIX, HPX_NSIDE } from './healpix.js';
import { mixSeed } from './random.js';
import type { SynthTileSpec } from './types.js';

export type HduLayout = { kind: 'primary'; cards: Card[] } | { kind: 'image'; spec: ImageSpec } | { kind: 'table'; spec: BinTableSpec };

/** Provenance written in the headers: DR1's production and its desispec/redrock versions (or close to them). */
export const SPECPROD = 'iron';
export const DESISPEC_VERSION = '0.59.2';
export const REDROCK_VERSION = '0.17.6';

/** Most exposures any target gets; a tile holds this many exposures. */
export const MAX_EXPOSURES = 4;

/** Throws unless the spec describes a writable tile. */
export function checkSpec(spec: SynthTileSpec): void {
  const where = `synth tile ${spec.survey}/${spec.program}/${spec.healpix}`;
  if (!/^[a-z0-9]+$/.test(spec.survey) || !/^[a-z0-9]+$/.test(spec.program)) throw new Error(`${where}: survey and program must be lower-case words`);
  if (!Number.isInteger(spec.healpix) || spec.healpix < 0 || spec.healpix >= HPX_NPIX) throw new Error(`${where}: healpix must be in [0, ${HPX_NPIX})`);
  if (!Number.isInteger(spec.targets) || spec.targets < 1) throw new Error(`${where}: targets must be a positive integer`);
  if (!Number.isInteger(spec.goodQso) || spec.goodQso < 0 || spec.goodQso > spec.targets) throw new Error(`${where}: goodQso must be in [0, targets]`);
  if (!Number.isInteger(spec.seed)) throw new Error(`${where}: seed must be an integer`);
  const c = spec.cumulative;
  if (c && (!Number.isInteger(c.tileid) || c.tileid < 0 || !Number.isInteger(c.petal) || c.petal < 0 || c.petal > 9 || !/^20\d{6}$/.test(String(c.lastnight))))
    throw new Error(`${where}: a tile-layout unit needs TILEID >= 0, PETAL 0..9 and LASTNIGHT YYYYMMDD`);
}

/** How many exposures target `i` (FIBERMAP row) of a tile has: 1..MAX_EXPOSURES, fixed by the seed. */
export function exposuresOf(spec: SynthTileSpec, i: number): number {
  return 1 + (mixSeed(spec.seed, spec.healpix, 0xe4, i) % MAX_EXPOSURES);
}

/** Rows of EXP_FIBERMAP: the sum of every target's exposures. */
export function exposureRows(spec: SynthTileSpec): number {
  let rows = 0;
  for (let i = 0; i < spec.targets; i++) rows += exposuresOf(spec, i);
  return rows;
}

function healpixCards(spec: SynthTileSpec): Card[] {
  const c = spec.cumulative;
  if (c)
    return [
      { key: 'SPGRP', value: 'cumulative' },
      { key: 'SPGRPVAL', value: c.lastnight },
      { key: 'TILEID', value: c.tileid },
      { key: 'PETAL', value: c.petal },
      { key: 'SURVEY', value: spec.survey },
      { key: 'PROGRAM', value: spec.program },
      { key: 'SPECPROD', value: SPECPROD },
    ];
  return [
    { key: 'SPGRP', value: 'healpix' },
    { key: 'SPGRPVAL', value: spec.healpix },
    { key: 'HPXPIXEL', value: spec.healpix },
    { key: 'HPXNSIDE', value: HPX_NSIDE },
    { key: 'HPXNEST', value: true },
    { key: 'SURVEY', value: spec.survey },
    { key: 'PROGRAM', value: spec.program },
    { key: 'SPECPROD', value: SPECPROD },
  ];
}

/** DEPNAMnn/DEPVERnn pairs like desispec writes (one path long enough to need CONTINUE). */
function dependencyCards(withRedrock: boolean): Card[] {
  const deps: [string, string][] = [
    ['python', '3.10.8'],
    ['numpy', '1.22.4'],
    ['scipy', '1.8.1'],
    ['astropy', '5.0'],
    ['fitsio', '1.1.6'],
    ['desiutil', '3.2.6'],
    ['desispec', DESISPEC_VERSION],
    ['desitarget', '2.5.0'],
    ['desimodel', '0.17.0'],
    ...(withRedrock ? ([['redrock', REDROCK_VERSION]] as [string, string][]) : []),
    ['SPECPROD', SPECPROD],
    ['DESI_SPECTRO_REDUX', '/global/cfs/cdirs/desi/spectro/redux'],
    ['DESIMODEL', '/global/common/software/desi/perlmutter/desiconda/20220119-2.0.1/code/desimodel/0.17.0'],
  ];
  return deps.flatMap(([name, ver], i) => {
    const nn = String(i).padStart(2, '0');
    return [
      { key: `DEPNAM${nn}`, value: name },
      { key: `DEPVER${nn}`, value: ver },
    ];
  });
}

/** The coadd's PRIMARY cards (after SIMPLE..EXTEND). */
export function coaddPrimaryCards(spec: SynthTileSpec): Card[] {
  return [{ key: 'LONGSTRN', value: 'OGIP 1.0' }, ...healpixCards(spec), ...dependencyCards(false)];
}

/** The redrock file's PRIMARY cards. */
export function redrockPrimaryCards(spec: SynthTileSpec): Card[] {
  const templates: [string, string][] = [
    ['GALAXY', '2.6'],
    ['QSO', '1.0'],
    ['STAR:::K', '0.1'],
    ['STAR:::G', '0.1'],
    ['STAR:::M', '0.1'],
    ['STAR:::WD', '0.1'],
  ];
  return [
    { key: 'LONGSTRN', value: 'OGIP 1.0' },
    { key: 'RRVER', value: REDROCK_VERSION, comment: 'Redrock version' },
    ...templates.flatMap(([name, ver], i) => {
      const nn = String(i).padStart(2, '0');
      return [
        { key: `TEMNAM${nn}`, value: name },
        { key: `TEMVER${nn}`, value: ver },
      ];
    }),
    ...dependencyCards(true),
    ...healpixCards(spec),
  ];
}

const UNITS = {
  flux: '10**-17 erg/(s cm2 Angstrom)',
  ivar: '10**+34 (s2 cm4 Angstrom2) / erg2',
  wave: 'Angstrom',
};

function fibermapSpec(spec: SynthTileSpec, extname: 'FIBERMAP'): BinTableSpec {
  return {
    extname,
    columns: fibermapColumnsOf(spec.survey),
    nrows: spec.targets,
    cards: spec.cumulative
      ? [{ key: 'TILEID', value: spec.cumulative.tileid }]
      : [
          { key: 'HPXPIXEL', value: spec.healpix },
          { key: 'HPXNSIDE', value: HPX_NSIDE },
        ],
  };
}

function expFibermapSpec(spec: SynthTileSpec): BinTableSpec {
  return { extname: 'EXP_FIBERMAP', columns: EXP_FIBERMAP_COLUMNS, nrows: exposureRows(spec) };
}

/** Every HDU of the coadd, in DESI's order: PRIMARY, FIBERMAP, EXP_FIBERMAP, per arm WAVELENGTH FLUX IVAR MASK RESOLUTION, SCORES. */
export function coaddLayout(spec: SynthTileSpec, mode: WavelengthMode): HduLayout[] {
  const n = spec.targets;
  const hdus: HduLayout[] = [
    { kind: 'primary', cards: coaddPrimaryCards(spec) },
    { kind: 'table', spec: fibermapSpec(spec, 'FIBERMAP') },
    { kind: 'table', spec: expFibermapSpec(spec) },
  ];
  for (const g of armGrids(mode)) {
    hdus.push(
      { kind: 'image', spec: { extname: `${g.arm}_WAVELENGTH`, bitpix: -64, naxes: [g.nwave], cards: [{ key: 'BUNIT', value: UNITS.wave }] } },
      { kind: 'image', spec: { extname: `${g.arm}_FLUX`, bitpix: -32, naxes: [g.nwave, n], cards: [{ key: 'BUNIT', value: UNITS.flux }] } },
      { kind: 'image', spec: { extname: `${g.arm}_IVAR`, bitpix: -32, naxes: [g.nwave, n], cards: [{ key: 'BUNIT', value: UNITS.ivar }] } },
      { kind: 'image', spec: { extname: `${g.arm}_MASK`, bitpix: 32, naxes: [g.nwave, n], unsigned: spec.mask === 'uint32-bzero' } },
      { kind: 'image', spec: { extname: `${g.arm}_RESOLUTION`, bitpix: -32, naxes: [g.nwave, NDIAG, n] } },
    );
  }
  hdus.push({ kind: 'table', spec: { extname: 'SCORES', columns: SCORES_COLUMNS, nrows: n } });
  return hdus;
}

/** Every HDU of the redrock file: PRIMARY, REDSHIFTS, FIBERMAP, EXP_FIBERMAP, TSNR2. */
export function redrockLayout(spec: SynthTileSpec): HduLayout[] {
  return [
    { kind: 'primary', cards: redrockPrimaryCards(spec) },
    { kind: 'table', spec: { extname: 'REDSHIFTS', columns: REDSHIFTS_COLUMNS, nrows: spec.targets } },
    { kind: 'table', spec: fibermapSpec(spec, 'FIBERMAP') },
    { kind: 'table', spec: expFibermapSpec(spec) },
    { kind: 'table', spec: { extname: 'TSNR2', columns: TSNR2_COLUMNS, nrows: spec.targets } },
  ];
}

/** Bytes one HDU takes in the file: padded header plus padded data. */
export function hduBytes(hdu: HduLayout): number {
  switch (hdu.kind) {
    case 'primary':
      return formatHeader(primaryHeaderCards(hdu.cards)).length;
    case 'image':
      return formatHeader(imageHeaderCards(hdu.spec)).length + padToBlock(imageDataBytes(hdu.spec));
    case 'table':
      return formatHeader(binTableHeaderCards(hdu.spec)).length + padToBlock(rowBytes(hdu.spec.columns) * hdu.spec.nrows);
  }
}

/** The exact sizes of a tile's two files, computed from the layout (no data generated). */
export function estimateTileBytes(spec: SynthTileSpec, mode: WavelengthMode = 'full'): { coaddBytes: number; redrockBytes: number } {
  checkSpec(spec);
  const sum = (hdus: HduLayout[]): number => hdus.reduce((s, h) => s + hduBytes(h), 0);
  return { coaddBytes: sum(coaddLayout(spec, mode)), redrockBytes: sum(redrockLayout(spec)) };
}
