/**
 * A seeded mutation fuzzer for the FITS reader and the tile conversion. Each case takes a real tile pair
 * (the astropy fixture tree, plus the hostile corpus's base pair and its variable-length-COEFF redrock),
 * mutates one or both files (bit flips, byte runs, header card values and keywords, card and END removal,
 * truncations, block and HDU duplication or deletion, junk appended), and
 * - converts the pair with the real tile job (runTile on a LocalTileStore and a real WorkerPool), fetching
 *   by ranges or whole files at random, then with the other fetch mode, which must end the same way;
 * - reads both files "deeply" in a separate thread: every header, every column of every binary table
 *   (P/Q heaps included), every image's data — the reader's surface beyond what the conversion touches.
 * A case is a problem when an outcome is not ok/empty or a FitsError/DesiError code (an INTERNAL, TypeError,
 * RangeError, IO_RANGE, MEMORY_BUDGET, a crashed worker) or when a step overruns the per-case time limit.
 * Case k of seed s is the same mutation on every machine, so a problem is replayed from (s, k) alone.
 */
import { mulberry32 } from '../../src/util/prng.js';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURE_TREE } from './cli.js';
import { baseFiles, caseFiles, loadHostileIndex } from '../hostile/corpus.js';
import { runTile, type TileJobContext, type TileOutcome } from '../../src/pipeline/tile-job.js';
import { WorkerPool } from '../../src/pipeline/pool.js';
import { ByteBudget } from '../../src/pipeline/budget.js';
import { readLimits } from '../../src/pipeline/fetch.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import type { OutputStore, WrittenFile } from '../../src/storage/output-store.js';
import { MemorySource } from '../../src/storage/source.js';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { coaddName, redrockName, tileDir, type TileRef } from '../../src/desi/tile.js';
import { FitsError, type FitsErrorCode } from '../../src/fits/errors.js';
import { DesiError, type DesiErrorCode } from '../../src/desi/errors.js';
import { decodeImage, imageInfo, readColumn, readHduData, scanHdus, tableInfo } from '../../src/fits/index.js';

// The compiler checks that these lists hold every code of the two error classes, and nothing else.
const FITS_CODES = {
  NOT_FITS: 1,
  TRUNCATED: 1,
  NO_END: 1,
  BAD_HEADER: 1,
  SIZE_LIMIT: 1,
  MISSING_HDU: 1,
  DUPLICATE_HDU: 1,
  MISSING_COLUMN: 1,
  BAD_TFORM: 1,
  BAD_HEAP: 1,
  UNSUPPORTED: 1,
} satisfies Record<FitsErrorCode, 1>;
const DESI_CODES = { TARGET_MISMATCH: 1, BAD_TYPE: 1, SHAPE_MISMATCH: 1, TILE_MISMATCH: 1, BAD_UNIT: 1, WAVELENGTH_MISMATCH: 1 } satisfies Record<
  DesiErrorCode,
  1
>;

/** Every FitsError and DesiError code: the error classes a bad input may end in. */
export const KNOWN_ERROR_CLASSES: ReadonlySet<string> = new Set([...Object.keys(FITS_CODES), ...Object.keys(DESI_CODES)]);

// ------------------------------------------------------------------------------------------------
// Randomness

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every platform. */
export class Rng {
  private readonly gen: () => number;
  constructor(seed: number) {
    this.gen = mulberry32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.gen();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** One of `choices`, drawn by weight. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let x = this.next() * choices.reduce((s, c) => s + c[1], 0);
    for (const [v, w] of choices) {
      if ((x -= w) < 0) return v;
    }
    return choices[choices.length - 1][0];
  }
}

/** The PRNG seed of case `index` of a run seeded `seed` (a 32-bit mix, so neighbouring cases differ fully). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ------------------------------------------------------------------------------------------------
// Where the headers are (a lenient walker of its own, so that mutations can aim at cards even when the
// reader under test would refuse the file)

const BLOCK = 2880;
const CARD = 80;

/** Where one HDU of a (possibly broken) file seems to be, by the walker below. */
export interface HduRegion {
  index: number;
  headerStart: number;
  /** Just past the header's last block (= where the data starts). */
  dataStart: number;
  dataEnd: number;
  /** Card offsets and keywords, END included when found. */
  cards: { at: number; key: string }[];
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, Math.max(0, Math.min(end, buf.byteLength) - start)).toString('latin1');
}

/** The HDUs the walker can find (stops quietly at anything odd). */
export function walkHdus(buf: Uint8Array): HduRegion[] {
  const out: HduRegion[] = [];
  let pos = 0;
  while (pos + CARD <= buf.byteLength && out.length < 200) {
    const cards: { at: number; key: string }[] = [];
    let endAt = -1;
    for (let at = pos; at + CARD <= buf.byteLength && at - pos < 40 * BLOCK; at += CARD) {
      const key = latin1(buf, at, at + 8).trimEnd();
      cards.push({ at, key });
      if (key === 'END') {
        endAt = at;
        break;
      }
    }
    if (endAt < 0) {
      out.push({ index: out.length, headerStart: pos, dataStart: buf.byteLength, dataEnd: buf.byteLength, cards });
      break;
    }
    const dataStart = pos + Math.ceil((endAt + CARD - pos) / BLOCK) * BLOCK;
    const int = (k: string): number | undefined => {
      const c = cards.find((x) => x.key === k);
      const m = c && /^=\s*([+-]?\d+)\s*(\/|$)/.exec(latin1(buf, c.at + 8, c.at + CARD).trimEnd());
      return m ? Number(m[1]) : undefined;
    };
    const naxis = int('NAXIS') ?? 0;
    let n = naxis > 0 ? 1 : 0;
    for (let i = 1; i <= naxis && i <= 999; i++) n *= int(`NAXIS${i}`) ?? 0;
    const length = (Math.abs(int('BITPIX') ?? 8) / 8) * (out.length > 0 ? (int('GCOUNT') ?? 1) : 1) * ((out.length > 0 ? (int('PCOUNT') ?? 0) : 0) + n);
    const ok = Number.isSafeInteger(length) && length >= 0;
    const dataEnd = ok ? Math.min(dataStart + length, buf.byteLength) : buf.byteLength;
    out.push({ index: out.length, headerStart: pos, dataStart: Math.min(dataStart, buf.byteLength), dataEnd, cards });
    if (!ok) break;
    pos = dataStart + Math.ceil(length / BLOCK) * BLOCK;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Mutations

interface Mutated {
  bytes: Uint8Array;
  what: string;
}
type Mutator = (rng: Rng, buf: Uint8Array, regions: HduRegion[]) => Mutated;

const INTERESTING =
  /^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|TFORM\d+|TDIM\d+|TTYPE\d+|THEAP|EXTNAME|BZERO|BSCALE|BLANK|TZERO\d+|TSCAL\d+|TNULL\d+|GROUPS|HPXPIXEL|END)$/;
const KEYS = [
  'SIMPLE',
  'XTENSION',
  'BITPIX',
  'NAXIS',
  'NAXIS1',
  'NAXIS2',
  'NAXIS3',
  'PCOUNT',
  'GCOUNT',
  'TFIELDS',
  'TFORM1',
  'TFORM2',
  'TDIM1',
  'TDIM3',
  'TTYPE1',
  'THEAP',
  'EXTNAME',
  'BZERO',
  'BSCALE',
  'BLANK',
  'TZERO1',
  'TSCAL1',
  'TNULL1',
  'GROUPS',
  'CONTINUE',
  'HIERARCH',
  'COMMENT',
  'END',
  '',
];
const INTS = [
  '0',
  '1',
  '-1',
  '2',
  '3',
  '7',
  '8',
  '16',
  '32',
  '-32',
  '64',
  '-64',
  '999',
  '1000',
  '-2147483648',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551616',
  '1000000000000',
  '99999999999999999999',
];
const FLOATS = ['1.5', '-0.0', '0.0', '1E10', '1.0E400', '1D300', '.5', '+5.', '-1E-300', '3.4028235E38', '2147483648.0', '9.3E18'];
const STRINGS = [
  "''",
  "'X'",
  "'  '",
  "'1W'",
  "'0X'",
  "'0A'",
  "'0P'",
  "'1000000D'",
  "'99999999999E'",
  "'1PE(5)'",
  "'1PE(99999999999)'",
  "'1QD(3)'",
  "'1PZ'",
  "'PE'",
  "'2PE(3)'",
  "'1PA'",
  "'1PX(8)'",
  "'1PL'",
  "'(1,2'",
  "'(99999,99999)'",
  "'(0)'",
  "'(3,0,2)'",
  "'(-1)'",
  "'(2,5)'",
  "'BINTABLE'",
  "'IMAGE   '",
  "'TABLE   '",
  "'A3DTABLE'",
  "'REDSHIFTS'",
  "'B_FLUX'",
  "'FIBERMAP'",
  "'B_WAVELENGTH'",
  "'Z_MASK'",
  "'it''s'",
  "'unterminated",
];
const OTHER = ['T', 'F', '', '(1.0, 2.0)', '= = =', '/ only a comment', '0x10', '1_000', "'a' 'b'"];

function randomValue(rng: Rng, key: string): string {
  const stringy = /^(XTENSION|TFORM|TDIM|TTYPE|EXTNAME)/.test(key);
  const kind = rng.weighted([
    ['int', stringy ? 10 : 35],
    ['rand', 15],
    ['float', 10],
    ['string', stringy ? 55 : 30],
    ['other', 10],
  ] as const);
  switch (kind) {
    case 'int':
      return rng.pick(INTS);
    case 'rand': {
      const r = rng.int(4);
      if (r === 0) return String(rng.int(10));
      if (r === 1) return String(rng.int(100_000) - 50_000);
      if (r === 2) return String(2n ** BigInt(rng.int(64)) + BigInt(rng.int(5) - 2));
      return String(-(2n ** BigInt(rng.int(64))));
    }
    case 'float':
      return rng.pick(FLOATS);
    case 'string':
      return rng.pick(STRINGS);
    default:
      return rng.pick(OTHER);
  }
}

/** A position, inside some header 70% of the time (where structure lives), else anywhere. */
function aimedPos(rng: Rng, buf: Uint8Array, regions: HduRegion[]): number {
  if (regions.length > 0 && rng.chance(0.7)) {
    const r = rng.pick(regions);
    const span = Math.max(1, Math.min(r.dataStart, buf.byteLength) - r.headerStart);
    return Math.min(buf.byteLength - 1, r.headerStart + rng.int(span));
  }
  return rng.int(buf.byteLength);
}

function pickCard(rng: Rng, regions: HduRegion[], wantInteresting: boolean): { r: HduRegion; at: number; key: string } | undefined {
  const all = regions.flatMap((r) => r.cards.map((c) => ({ r, ...c })));
  if (all.length === 0) return undefined;
  const interesting = all.filter((c) => INTERESTING.test(c.key));
  return rng.pick(wantInteresting && interesting.length > 0 ? interesting : all);
}

function writeAscii(buf: Uint8Array, at: number, text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  buf.set(bytes.subarray(0, Math.max(0, Math.min(bytes.byteLength, buf.byteLength - at))), at);
}

function splice(buf: Uint8Array, start: number, deleteCount: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(buf.byteLength - deleteCount + insert.byteLength);
  out.set(buf.subarray(0, start), 0);
  out.set(insert, start);
  out.set(buf.subarray(start + deleteCount), start + insert.byteLength);
  return out;
}

const MUTATORS: readonly (readonly [string, Mutator, number])[] = [
  [
    'flip',
    (rng, buf, regions) => {
      const out = buf.slice();
      const flips: string[] = [];
      for (let k = 1 + rng.int(8); k > 0 && out.byteLength > 0; k--) {
        const at = aimedPos(rng, out, regions);
        const bit = rng.int(8);
        out[at] ^= 1 << bit;
        flips.push(`${at}.${bit}`);
      }
      return { bytes: out, what: `flip bits ${flips.join(' ')}` };
    },
    15,
  ],
  [
    'run',
    (rng, buf, regions) => {
      const out = buf.slice();
      if (out.byteLength === 0) return { bytes: out, what: 'run (empty file)' };
      const at = aimedPos(rng, out, regions);
      const len = Math.min(1 + rng.int(64), out.byteLength - at);
      const fill = rng.chance(0.3) ? -1 : rng.pick([0x00, 0x20, 0xff, 0x27, 0x3d, 0x30 + rng.int(10), rng.int(256)]);
      for (let i = 0; i < len; i++) out[at + i] = fill < 0 ? rng.int(256) : fill;
      return { bytes: out, what: `overwrite ${len} bytes at ${at} with ${fill < 0 ? 'random bytes' : `0x${fill.toString(16)}`}` };
    },
    10,
  ],
  [
    'card',
    (rng, buf, regions) => {
      const c = pickCard(
        rng,
        regions.filter((r) => r.cards.length > 1),
        rng.chance(0.75),
      );
      if (!c || c.key === 'END') return { bytes: buf, what: 'card value (no card)' };
      const out = buf.slice();
      const value = randomValue(rng, c.key);
      writeAscii(out, c.at, `${c.key.padEnd(8)}= ${value.padStart(20)}`.padEnd(CARD).slice(0, CARD));
      return { bytes: out, what: `HDU #${c.r.index} ${c.key} := ${value} (card at ${c.at})` };
    },
    30,
  ],
  [
    'key',
    (rng, buf, regions) => {
      const c = pickCard(rng, regions, rng.chance(0.5));
      if (!c) return { bytes: buf, what: 'keyword (no card)' };
      const out = buf.slice();
      const key = rng.pick(KEYS);
      writeAscii(out, c.at, key.padEnd(8));
      return { bytes: out, what: `HDU #${c.r.index} keyword ${c.key || '(blank)'} -> ${key || '(blank)'} (card at ${c.at})` };
    },
    6,
  ],
  [
    'delete-card',
    (rng, buf, regions) => {
      const c = pickCard(rng, regions, rng.chance(0.6));
      if (!c) return { bytes: buf, what: 'delete card (no card)' };
      const out = buf.slice();
      const end = Math.min(c.r.dataStart, out.byteLength);
      out.copyWithin(c.at, c.at + CARD, end);
      out.fill(0x20, Math.max(c.at, end - CARD), end);
      return { bytes: out, what: `HDU #${c.r.index} delete card ${c.key || '(blank)'} at ${c.at}` };
    },
    5,
  ],
  [
    'duplicate-card',
    (rng, buf, regions) => {
      const c = pickCard(rng, regions, rng.chance(0.6));
      if (!c) return { bytes: buf, what: 'duplicate card (no card)' };
      const out = buf.slice();
      const end = Math.min(c.r.dataStart, out.byteLength);
      if (c.at + CARD < end) out.copyWithin(c.at + CARD, c.at, end - CARD);
      return { bytes: out, what: `HDU #${c.r.index} duplicate card ${c.key || '(blank)'} at ${c.at}` };
    },
    5,
  ],
  [
    'no-end',
    (rng, buf, regions) => {
      const withEnd = regions.filter((r) => r.cards.some((c) => c.key === 'END'));
      if (withEnd.length === 0) return { bytes: buf, what: 'remove END (none)' };
      const r = rng.pick(withEnd);
      const at = r.cards.find((c) => c.key === 'END')!.at;
      const out = buf.slice();
      out.fill(0x20, at, at + CARD);
      return { bytes: out, what: `HDU #${r.index} END blanked (at ${at})` };
    },
    4,
  ],
  [
    'truncate',
    (rng, buf, regions) => {
      let at: number;
      if (regions.length > 0 && rng.chance(0.5)) {
        const r = rng.pick(regions);
        const edge = rng.pick([r.headerStart, r.dataStart, r.dataEnd, r.dataStart + Math.ceil((r.dataEnd - r.dataStart) / BLOCK) * BLOCK]);
        at = edge + rng.pick([0, 0, -1, 1, -80, 80, -rng.int(200), rng.int(200)]);
      } else at = rng.int(buf.byteLength + 1);
      at = Math.max(0, Math.min(buf.byteLength, at));
      return { bytes: buf.slice(0, at), what: `truncate at ${at} of ${buf.byteLength}` };
    },
    12,
  ],
  [
    'block',
    (rng, buf, regions) => {
      const blocks = Math.floor(buf.byteLength / BLOCK);
      if (blocks === 0) return { bytes: buf, what: 'block (file under one block)' };
      const starts = regions.map((r) => r.headerStart / BLOCK).filter((b) => Number.isInteger(b) && b < blocks);
      const k = starts.length > 0 && rng.chance(0.5) ? rng.pick(starts) : rng.int(blocks);
      const block = buf.slice(k * BLOCK, (k + 1) * BLOCK);
      return rng.chance(0.5)
        ? { bytes: splice(buf, k * BLOCK, 0, block), what: `duplicate block ${k}` }
        : { bytes: splice(buf, k * BLOCK, BLOCK), what: `delete block ${k}` };
    },
    8,
  ],
  [
    'hdu',
    (rng, buf, regions) => {
      const whole = regions.filter((r) => r.index > 0 && r.dataEnd <= buf.byteLength);
      if (whole.length === 0) return { bytes: buf, what: 'hdu (no extension)' };
      const r = rng.pick(whole);
      const end = Math.min(buf.byteLength, r.dataStart + Math.ceil((r.dataEnd - r.dataStart) / BLOCK) * BLOCK);
      if (rng.chance(0.5)) return { bytes: splice(buf, r.headerStart, end - r.headerStart), what: `delete HDU #${r.index}` };
      const to = rng.pick(
        regions
          .filter((x) => x.index > 0)
          .map((x) => x.headerStart)
          .concat([buf.byteLength]),
      );
      return { bytes: splice(buf, to, 0, buf.slice(r.headerStart, end)), what: `copy HDU #${r.index} to byte ${to}` };
    },
    6,
  ],
  [
    'append',
    (rng, buf) => {
      const n = 1 + rng.int(6000);
      const junk = new Uint8Array(n);
      const ascii = rng.chance(0.5);
      for (let i = 0; i < n; i++) junk[i] = ascii ? 0x20 + rng.int(95) : rng.int(256);
      if (rng.chance(0.3)) junk.set(Buffer.from("XTENSION= 'BINTABLE'", 'latin1').subarray(0, n));
      return { bytes: splice(buf, buf.byteLength, 0, junk), what: `append ${n} ${ascii ? 'ASCII' : 'random'} bytes` };
    },
    3,
  ],
];

// ------------------------------------------------------------------------------------------------
// Bases

interface Base {
  name: string;
  survey: string;
  program: string;
  healpix: number;
  coadd: Uint8Array;
  redrock: Uint8Array;
}

/** Every complete tile pair of the fixture tree, the hostile base pair and its variable-length-COEFF redrock. */
async function loadBases(): Promise<Base[]> {
  const bases: Base[] = [];
  for (const survey of (await readdir(FIXTURE_TREE)).sort()) {
    for (const program of (await readdir(join(FIXTURE_TREE, survey))).sort()) {
      for (const group of (await readdir(join(FIXTURE_TREE, survey, program))).sort()) {
        for (const pix of (await readdir(join(FIXTURE_TREE, survey, program, group))).sort()) {
          const t = { survey, program, healpix: Number(pix) };
          const dir = join(FIXTURE_TREE, tileDir(t));
          const c = join(dir, coaddName(t));
          const r = join(dir, redrockName(t));
          if (!existsSync(c) || !existsSync(r)) continue;
          bases.push({ name: `fixture ${survey}/${program}/${pix}`, ...t, coadd: await readFile(c), redrock: await readFile(r) });
        }
      }
    }
  }
  const index = await loadHostileIndex();
  const base = await baseFiles(index);
  bases.push({ name: 'hostile base', survey: 'main', program: 'dark', healpix: 999, ...base });
  const p = index.cases.find((c) => c.id === 'redrock:heap:REDSHIFTS:valid-P');
  if (p) bases.push({ name: 'hostile base, COEFF as 1PD()', survey: 'main', program: 'dark', healpix: 998, ...(await caseFiles(index, p)) });
  // Plain Uint8Arrays: Buffer#slice would share memory and let one case's mutations leak into the next.
  return bases.map((b) => ({ ...b, coadd: new Uint8Array(b.coadd), redrock: new Uint8Array(b.redrock) }));
}

// ------------------------------------------------------------------------------------------------
// The deep read, in its own thread (so that a hang or an allocation from a claimed size can be cut off)

const DEEP_ROLE = 'desi-qad-fuzz-deep-read';

/** What the deep read of one file met: HDUs found, FitsError/DesiError codes, and any other error (a problem). */
export interface DeepResult {
  file: string;
  hdus: number;
  known: string[];
  problem?: string;
}

/** Reads every HDU of a file: known errors are counted per HDU and reading goes on; any other error is a problem. */
async function deepRead(name: string, bytes: Uint8Array): Promise<DeepResult> {
  const res: DeepResult = { file: name, hdus: 0, known: [] };
  const known = (err: unknown): boolean => {
    if (err instanceof FitsError || err instanceof DesiError) {
      res.known.push(err.code);
      return true;
    }
    return false;
  };
  const describe = (err: unknown, where: string) => `${where}: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}`;
  try {
    const src = new MemorySource(name, bytes);
    const hdus = await scanHdus(src);
    res.hdus = hdus.length;
    for (const h of hdus) {
      try {
        if (h.kind === 'bintable') {
          const info = tableInfo(name, h);
          const data = await readHduData(src, h);
          for (const col of info.columns) {
            try {
              readColumn(name, h, info, col, data);
            } catch (err) {
              if (!known(err)) throw err;
            }
          }
        } else if ((h.kind === 'image' || h.kind === 'primary') && h.dataLength > 0) {
          decodeImage(name, h, imageInfo(name, h), await readHduData(src, h));
        }
      } catch (err) {
        if (!known(err)) {
          res.problem = describe(err, `HDU #${h.index} ${h.name}`);
          return res;
        }
      }
    }
  } catch (err) {
    if (!known(err)) res.problem = describe(err, 'scanHdus');
  }
  return res;
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === DEEP_ROLE) {
  parentPort!.on('message', (m: { id: number; files: { name: string; bytes: Uint8Array }[] }) => {
    void Promise.all(m.files.map((f) => deepRead(f.name, f.bytes))).then((results) => parentPort!.postMessage({ id: m.id, results }));
  });
}

/** The deep-read thread: one request at a time, cut off (and replaced) past the time limit or on a crash. */
class DeepReader {
  private worker?: Worker;
  private seq = 0;

  private start(): Worker {
    this.worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { role: DEEP_ROLE },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    this.worker.unref();
    return this.worker;
  }

  async read(files: { name: string; bytes: Uint8Array }[], timeLimitMs: number): Promise<DeepResult[] | string> {
    const w = this.worker ?? this.start();
    const id = ++this.seq;
    return new Promise<DeepResult[] | string>((resolve) => {
      const done = (v: DeepResult[] | string, restart: boolean) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        if (restart) {
          void w.terminate();
          this.worker = undefined;
        }
        resolve(v);
      };
      const onMessage = (m: { id: number; results: DeepResult[] }) => {
        if (m.id === id) done(m.results, false);
      };
      const onError = (err: Error) => done(`deep read crashed the thread: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`, true);
      const onExit = (code: number) => done(`deep read thread exited with code ${code}`, true);
      const timer = setTimeout(() => done(`deep read did not finish within ${timeLimitMs} ms (a hang, or work from a claimed size)`, true), timeLimitMs);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ id, files });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

/**
 * Reads every HDU of each file in a separate thread (every column of every binary table, every image's
 * data), within `timeLimitMs` and 512 MB of JS heap. Returns what each file met, or a string saying why the
 * read was cut off (a hang, a crash, memory exhausted by work sized from a claimed size).
 */
export async function deepReadFiles(files: { name: string; bytes: Uint8Array }[], timeLimitMs: number): Promise<DeepResult[] | string> {
  const reader = new DeepReader();
  try {
    return await reader.read(files, timeLimitMs);
  } finally {
    await reader.close();
  }
}

// ------------------------------------------------------------------------------------------------
// The run

export interface FuzzCase {
  /** The case number within the seed's sequence. */
  index: number;
  seed: number;
  base: string;
  fetch: 'ranges' | 'full';
  /** What was done, in order ("coadd: HDU #4 NAXIS2 := -1 (card at 31840)"). */
  mutations: string[];
  status: 'ok' | 'empty' | 'failed' | 'missing' | 'timeout';
  errorClass?: string;
  message?: string;
  /** Error codes the deep read met (one per HDU or column that refused). */
  deepKnown: string[];
  ms: number;
  /** Why this case is a problem (empty when it is not). */
  problems: string[];
}

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** Per case, for each conversion and for the deep read. */
  timeLimitMs: number;
  onCase?: (c: FuzzCase) => void;
  /** The first case number (to replay case k: firstCase k, iterations 1). Default 0. */
  firstCase?: number;
  /** Worker threads of the conversion pool (default 2). */
  threads?: number;
  /** Read every HDU of the mutated files in a separate thread too (default true). */
  deepRead?: boolean;
  /** Convert each pair with the other fetch mode too and require the same outcome and message (default true). */
  bothFetchModes?: boolean;
  /** Write the mutated pair of every problem case under this folder, as a tile tree the CLI can read. */
  keepProblemsIn?: string;
}

export interface FuzzCounts {
  cases: number;
  ok: number;
  empty: number;
  failedByClass: Record<string, number>;
  /** The cases that are problems, with their replay information. */
  problems: FuzzCase[];
}

/** An OutputStore that keeps nothing but checks that what it is given looks like a Parquet file. */
class CheckingOutput implements OutputStore {
  readonly root = 'memory:';
  bad?: string;
  location(rel: string): string {
    return `memory:${rel}`;
  }
  writeAtomic(rel: string, bytes: Uint8Array): Promise<WrittenFile> {
    const magic = (a: number) => latin1(bytes, a, a + 4) === 'PAR1';
    if (bytes.byteLength < 12 || !magic(0) || !magic(bytes.byteLength - 4)) this.bad = `${rel}: ${bytes.byteLength} bytes that are not a Parquet file`;
    return Promise.resolve({ size: bytes.byteLength });
  }
  /** What writeOnce stored (the dataset's wavelength table): kept, so that a read-back finds it. */
  private readonly once = new Map<string, Uint8Array>();
  async writeOnce(rel: string, bytes: Uint8Array): Promise<{ created: boolean }> {
    if (this.once.has(rel)) return { created: false };
    await this.writeAtomic(rel, bytes);
    this.once.set(rel, bytes);
    return { created: true };
  }
  sweepTemporaries(): Promise<number> {
    return Promise.resolve(0);
  }
  remove(): Promise<void> {
    return Promise.resolve();
  }
  readFile(rel: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.once.get(rel));
  }
  listFiles(): Promise<Map<string, number>> {
    return Promise.resolve(new Map<string, number>());
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

/** How to see and replay a case: its seed, number, base, fetch mode and mutations. */
export function describeCase(c: FuzzCase): string {
  return [
    `fuzz case ${c.index} of seed ${c.seed} (base ${c.base}, --fetch ${c.fetch}): ${c.status}${c.errorClass ? ` ${c.errorClass}` : ''}${c.message ? `: ${c.message}` : ''}`,
    ...c.mutations.map((m) => `  mutation: ${m}`),
    ...c.problems.map((p) => `  problem: ${p}`),
    `  replay: DESI_QAD_FUZZ_SEED=${c.seed} DESI_QAD_FUZZ_CASE=${c.index} node --test dist/test/integration/fuzz.test.js`,
  ].join('\n');
}

/**
 * Runs `iterations` fuzz cases of `seed` (case numbers firstCase, firstCase + 1, ...) and returns how they
 * ended: ok, empty, failures by error class, and the problem cases (see the module comment).
 */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzCounts> {
  const bases = await loadBases();
  const root = await mkdtemp(join(tmpdir(), 'desi-qad-fuzz-'));
  const pool = new WorkerPool(opts.threads ?? 2);
  const deep = opts.deepRead === false ? undefined : new DeepReader();
  const out = new CheckingOutput();
  const ctx: TileJobContext = {
    store: new LocalTileStore(root),
    out,
    pool,
    selection: DEFAULT_SELECTION,
    fetch: 'ranges',
    gapBytes: 1 << 20,
    version: 'desi-qad fuzz',
    budget: new ByteBudget(512 * 2 ** 20),
    limits: readLimits(),
  };
  const counts: FuzzCounts = { cases: 0, ok: 0, empty: 0, failedByClass: {}, problems: [] };
  const first = opts.firstCase ?? 0;
  try {
    for (let index = first; index < first + opts.iterations; index++) {
      const rng = new Rng(caseSeed(opts.seed, index));
      const base = rng.pick(bases);
      const files = { coadd: base.coadd, redrock: base.redrock };
      const mutations: string[] = [];
      const ops = 1 + (rng.chance(0.35) ? 1 + (rng.chance(0.3) ? 1 : 0) : 0);
      for (let k = 0; k < ops; k++) {
        const role = rng.chance(0.55) ? 'coadd' : 'redrock';
        const [, mutate] = rng.weighted(MUTATORS.map((m) => [m, m[2]] as const));
        const m = mutate(rng, files[role], walkHdus(files[role]));
        files[role] = m.bytes;
        mutations.push(`${role}: ${m.what}`);
      }
      const fetch = rng.chance(0.5) ? 'ranges' : 'full';
      const tile: TileRef = { survey: base.survey, program: base.program, healpix: base.healpix };
      const dir = join(root, tileDir(tile));
      await mkdir(dir, { recursive: true });
      const cPath = join(dir, coaddName(tile));
      const rPath = join(dir, redrockName(tile));
      await writeFile(cPath, files.coadd);
      await writeFile(rPath, files.redrock);
      tile.coadd = { path: cPath, size: files.coadd.byteLength };
      tile.redrock = { path: rPath, size: files.redrock.byteLength };

      const c: FuzzCase = { index, seed: opts.seed, base: base.name, fetch, mutations, status: 'failed', deepKnown: [], ms: 0, problems: [] };
      const t0 = performance.now();
      out.bad = undefined;
      const r: TileOutcome | 'timeout' = await withTimeout(runTile({ ...ctx, fetch }, tile), opts.timeLimitMs);
      c.ms = performance.now() - t0;
      if (r === 'timeout') {
        c.status = 'timeout';
        c.problems.push(`the conversion did not finish within ${opts.timeLimitMs} ms`);
      } else {
        c.status = r.status;
        if (r.errorClass) c.errorClass = r.errorClass;
        if (r.error) c.message = r.error;
        if (r.status === 'missing') c.problems.push('journaled as a missing source, though both files exist');
        if (r.status === 'failed' && !KNOWN_ERROR_CLASSES.has(r.errorClass ?? ''))
          c.problems.push(`error class ${r.errorClass} is not a FitsError/DesiError code: ${r.error}`);
        // runTile sets out.bad while it is awaited, which TypeScript's narrowing (from `out.bad = undefined`) cannot see.
        if (r.status === 'ok' && out.bad) c.problems.push(out.bad);
        if (opts.bothFetchModes !== false) {
          // The other fetch strategy reads the same bytes through the same reader: it must end the same way.
          const other = fetch === 'ranges' ? 'full' : 'ranges';
          const o = await withTimeout(runTile({ ...ctx, fetch: other }, tile), opts.timeLimitMs);
          if (o === 'timeout') c.problems.push(`with --fetch ${other}, the conversion did not finish within ${opts.timeLimitMs} ms`);
          else if (o.status !== r.status || o.errorClass !== r.errorClass || o.error !== r.error) {
            c.problems.push(`--fetch ${other} ends otherwise: ${o.status}${o.errorClass ? ` ${o.errorClass}: ${o.error}` : ''}`);
          }
        }
      }
      if (deep) {
        const d = await deep.read(
          [
            { name: coaddName(tile), bytes: files.coadd },
            { name: redrockName(tile), bytes: files.redrock },
          ],
          opts.timeLimitMs,
        );
        if (typeof d === 'string') c.problems.push(d);
        else {
          for (const x of d) {
            c.deepKnown.push(...x.known);
            if (x.problem) c.problems.push(`deep read of ${x.file}: ${x.problem}`);
          }
        }
      }

      counts.cases += 1;
      if (c.status === 'ok') counts.ok += 1;
      else if (c.status === 'empty') counts.empty += 1;
      else counts.failedByClass[c.errorClass ?? c.status] = (counts.failedByClass[c.errorClass ?? c.status] ?? 0) + 1;
      if (c.problems.length > 0) {
        counts.problems.push(c);
        if (opts.keepProblemsIn) {
          const keep = join(opts.keepProblemsIn, `seed-${opts.seed}-case-${index}`, tileDir(tile));
          await mkdir(keep, { recursive: true });
          await writeFile(join(keep, coaddName(tile)), files.coadd);
          await writeFile(join(keep, redrockName(tile)), files.redrock);
        }
      }
      opts.onCase?.(c);
    }
  } finally {
    await deep?.close();
    await pool.close();
    await rm(root, { recursive: true, force: true });
  }
  return counts;
}
