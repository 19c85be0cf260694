/**
 * The FITS writer and the DESI-format tile generator, checked without Python: card formatting, byte
 * order, sizes, layout, determinism, and the seed dry run's shape. (The astropy/fitsverify oracles are
 * in test/integration/synth-oracles.test.ts.)
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCard, formatFloat, formatHeader } from '../../src/fits/card-format.js';
import { rowBytes } from '../../src/fits/hdu-spec.js';
import { FitsWriter } from '../../src/fits/writer.js';
import { estimateTileBytes, seedDryRunSpecs, smallSpecs, synthTree, type SynthTileSpec } from '../../src/synth/index.js';
import { FIBERMAP_COLUMNS, REDSHIFTS_COLUMNS } from '../../src/synth/columns.js';
import { pixelCenter } from '../../src/synth/healpix.js';

const MiB = 1 << 20;

/** The parts of a test/fixtures/expected/*.json file that these tests read (a column is null when it is all null). */
interface ExpectedTile {
  healpix: number;
  status: string;
  rows: number;
  columns: Record<string, { values: unknown[]; dtype: string }>;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-synth-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

// ---- a minimal HDU walker for checking our own output (not the project's reader) -------------------

interface ScannedHdu {
  cards: Map<string, string>;
  dataStart: number;
  dataBytes: number;
}

function cardValue(cards: Map<string, string>, key: string): string {
  const v = cards.get(key);
  assert.ok(v !== undefined, `card ${key} missing`);
  return v;
}

function scanHdus(buf: Buffer): ScannedHdu[] {
  const hdus: ScannedHdu[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const cards = new Map<string, string>();
    let end = -1;
    for (let p = pos; p < buf.length; p += 80) {
      const card = buf.toString('latin1', p, p + 80);
      const key = card.slice(0, 8).trim();
      if (key === 'END') {
        end = p + 80;
        break;
      }
      if (card.slice(8, 10) === '= ') {
        const raw = card.slice(10);
        const value = raw.trimStart().startsWith("'") ? /'((?:[^']|'')*)'/.exec(raw)![1].replace(/''/g, "'").trimEnd() : raw.split('/')[0].trim();
        cards.set(key, value);
      }
    }
    assert.ok(end > 0, 'END card');
    const dataStart = Math.ceil(end / 2880) * 2880;
    const naxis = Number(cardValue(cards, 'NAXIS'));
    let dataBytes = 0;
    if (naxis > 0) {
      dataBytes = Math.abs(Number(cardValue(cards, 'BITPIX'))) / 8;
      for (let i = 1; i <= naxis; i++) dataBytes *= Number(cardValue(cards, `NAXIS${i}`));
    }
    hdus.push({ cards, dataStart, dataBytes });
    pos = dataStart + Math.ceil(dataBytes / 2880) * 2880;
  }
  assert.equal(pos, buf.length, 'HDUs end exactly at the end of the file');
  return hdus;
}

function hduNamed(hdus: ScannedHdu[], name: string): ScannedHdu {
  const found = hdus.filter((h) => h.cards.get('EXTNAME') === name);
  assert.equal(found.length, 1, `one HDU named ${name}`);
  return found[0];
}

/** Offset of a column within a row, from TFORMn (single-letter codes with optional repeat). */
function columnOffset(h: ScannedHdu, name: string): { offset: number; tform: string } {
  const sizes: Record<string, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8 };
  const n = Number(cardValue(h.cards, 'TFIELDS'));
  let offset = 0;
  for (let i = 1; i <= n; i++) {
    const tform = cardValue(h.cards, `TFORM${i}`);
    const m = /^(\d*)([LBIJKAED])$/.exec(tform)!;
    if (cardValue(h.cards, `TTYPE${i}`) === name) return { offset, tform };
    offset += (m[1] === '' ? 1 : Number(m[1])) * sizes[m[2]];
  }
  throw new Error(`no column ${name}`);
}

function readColumn(buf: Buffer, h: ScannedHdu, name: string): (bigint | string)[] {
  const { offset, tform } = columnOffset(h, name);
  const width = Number(cardValue(h.cards, 'NAXIS1'));
  const rows = Number(cardValue(h.cards, 'NAXIS2'));
  const out: (bigint | string)[] = [];
  for (let r = 0; r < rows; r++) {
    const at = h.dataStart + r * width + offset;
    if (tform === 'K') out.push(buf.readBigInt64BE(at));
    else if (tform.endsWith('A')) out.push(buf.toString('latin1', at, at + Number(tform.slice(0, -1))).replace(/[\0 ]+$/, ''));
    else throw new Error(`test reads K and A columns only, not ${tform}`);
  }
  return out;
}

// ---- the writer ------------------------------------------------------------------------------------

describe('FITS writer: cards', () => {
  test('fixed-format integers, logicals and strings', () => {
    assert.deepEqual(formatCard({ key: 'NAXIS1', value: 2751 }), [`NAXIS1  = ${'2751'.padStart(20)}`.padEnd(80)]);
    assert.deepEqual(formatCard({ key: 'HPXNEST', value: true }), [`HPXNEST = ${'T'.padStart(20)}`.padEnd(80)]);
    assert.deepEqual(formatCard({ key: 'SPGRP', value: 'healpix' }), ["SPGRP   = 'healpix '".padEnd(80)]);
    assert.deepEqual(formatCard({ key: 'OBJ', value: "it's" }), ["OBJ     = 'it''s   '".padEnd(80)]);
    assert.equal(formatCard({ key: 'BZERO', value: 2147483648 })[0].slice(10, 30), '2147483648'.padStart(20));
    assert.equal(formatCard({ key: 'TZERO1', value: 1n << 63n })[0].slice(10, 30), '9223372036854775808'.padStart(20));
    assert.equal(formatCard({ key: 'RRVER', value: '0.17.6', comment: 'Redrock version' })[0], "RRVER   = '0.17.6  '           / Redrock version".padEnd(80));
    assert.throws(() => formatCard({ key: 'TOOLONGKEY', value: 1 }));
    assert.throws(() => formatCard({ key: 'BAD', value: 'caf\u00e9' }));
    assert.throws(() => formatCard({ key: 'BIG', value: 2 ** 60 }));
  });

  test('floats read back to the same double', () => {
    const samples = [0.8, 3600.0, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, -0, -2.5e-7, 123456789.12345679, 2 ** 53 + 2, 1e21];
    for (const x of samples) {
      const text = formatFloat(x);
      assert.match(text, /^-?\d+\.\d*(E[+-]?\d+)?$/, text);
      assert.ok(Object.is(Number(text), x), `${x} -> ${text}`);
      const card = formatCard({ key: 'X', value: x, kind: 'float' })[0];
      assert.ok(Object.is(Number(card.slice(10).trim()), x));
    }
    assert.throws(() => formatFloat(NaN));
    assert.throws(() => formatFloat(Infinity));
  });

  test('long strings use CONTINUE without splitting a quote escape', () => {
    const value = `/global/common/software/desi/perlmutter/desiconda/20220119-2.0.1/code/it''s/${'x'.repeat(90)}'end`;
    const images = formatCard({ key: 'DEPVER21', value, comment: 'a path' });
    assert.ok(images.length >= 3);
    for (const img of images) assert.equal(img.length, 80);
    assert.ok(images.slice(1).every((c) => c.startsWith("CONTINUE  '")));
    // Reassemble like a reader: strip quotes, drop the trailing & of each piece, unescape.
    const pieces = images.map((c) => /'((?:[^']|'')*)'/.exec(c.slice(10))![1]);
    assert.ok(pieces.slice(0, -1).every((p) => p.endsWith('&')));
    const joined = pieces
      .map((p, i) => (i < pieces.length - 1 ? p.slice(0, -1) : p))
      .join('')
      .replace(/''/g, "'");
    assert.equal(joined, value);
    assert.ok(images.at(-1)!.includes('/ a path'));
  });

  test('a header ends with END and is padded with spaces to 2880', () => {
    const h = formatHeader([
      { key: 'SIMPLE', value: true },
      { key: 'COMMENT', value: 'hello' },
    ]);
    assert.equal(h.length, 2880);
    assert.equal(h.toString('latin1', 160, 240).trimEnd(), 'END');
    assert.ok(h.subarray(240).every((b) => b === 0x20));
  });
});

describe('FITS writer: data', () => {
  test('images and tables are big-endian, unsigned via BZERO/TZERO, padded with zeros', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'x.fits');
      const w = await FitsWriter.create(path);
      await w.writePrimary([{ key: 'ORIGIN', value: 'test' }]);
      await w.writeImage({ extname: 'F', bitpix: -32, naxes: [3] }, new Float32Array([1.5, -0, NaN]));
      await w.writeImage({ extname: 'M', bitpix: 32, naxes: [2], unsigned: true }, new Uint32Array([0, 0xffffffff]));
      const columns = [
        { name: 'ID', tform: 'K' as const },
        { name: 'C', tform: 'D' as const, repeat: 2, tdim: [2] },
        { name: 'S', tform: 'A' as const, repeat: 4 },
        { name: 'U', tform: 'J' as const, unsigned: true },
        { name: 'L', tform: 'L' as const },
      ];
      await w.beginBinTable({ extname: 'T', columns, nrows: 3 });
      await w.writeRows({
        ID: new BigInt64Array([(1n << 62n) + 1n, -2n]),
        C: new Float64Array([1, 2, 3, 4]),
        S: ['QSO', 'STAR'],
        U: new Uint32Array([7, 0x80000000]),
        L: [true, false],
      });
      await w.writeRows({ ID: new BigInt64Array([3n]), C: new Float64Array([5, 6]), S: [''], U: new Uint32Array([1]), L: [true] });
      await w.endHdu();
      await w.close();

      const buf = await readFile(path);
      assert.equal(buf.length % 2880, 0);
      const hdus = scanHdus(buf);
      assert.deepEqual(
        hdus.map((h) => h.cards.get('EXTNAME')),
        [undefined, 'F', 'M', 'T'],
      );
      const f = hdus[1];
      assert.equal(buf.readFloatBE(f.dataStart), 1.5);
      assert.ok(Object.is(buf.readFloatBE(f.dataStart + 4), -0));
      assert.ok(
        buf.subarray(f.dataStart + 12, f.dataStart + 2880).every((b) => b === 0),
        'data padded with zeros',
      );
      const m = hdus[2];
      assert.equal(m.cards.get('BZERO'), '2147483648');
      assert.equal(buf.readInt32BE(m.dataStart), -2147483648, 'stored = value - 2^31');
      assert.equal(buf.readInt32BE(m.dataStart + 4), 2147483647);
      const t = hdus[3];
      assert.equal(t.cards.get('NAXIS1'), String(rowBytes(columns)));
      assert.equal(t.cards.get('TDIM2'), '(2)');
      assert.equal(t.cards.get('TZERO4'), '2147483648');
      assert.deepEqual(readColumn(buf, t, 'ID'), [(1n << 62n) + 1n, -2n, 3n]);
      assert.deepEqual(readColumn(buf, t, 'S'), ['QSO', 'STAR', '']);
      const row0 = t.dataStart;
      assert.equal(buf.readDoubleBE(row0 + 8 + 8), 2);
      assert.equal(buf.readUInt32BE(row0 + 8 + 16 + 4), (7 ^ 0x80000000) >>> 0);
      assert.equal(buf.toString('latin1', row0 + 32, row0 + 33), 'T');
      assert.equal(buf.toString('latin1', row0 + 33 + 32, row0 + 33 + 33), 'F');
    });
  });

  test('refuses data that does not match its header', async () => {
    await withTempDir(async (dir) => {
      const w = await FitsWriter.create(join(dir, 'bad.fits'));
      await assert.rejects(() => w.beginImage({ bitpix: 16, naxes: [2] }), /primary HDU first/);
      await w.writePrimary([]);
      await w.beginImage({ extname: 'A', bitpix: 16, naxes: [2] });
      await assert.rejects(() => w.writePixels(new Float32Array(2)), /BITPIX 16/);
      await w.writePixels(new Int16Array([1]));
      await assert.rejects(() => w.endHdu(), /got 2 data bytes, its header says 4/);
      await assert.rejects(() => w.writePixels(new Int16Array([1, 2])), /more than the 4 data bytes/);
      await w.abort();
    });
  });
});

// ---- the generator ----------------------------------------------------------------------------------

describe('synth: small tree', () => {
  const specs = smallSpecs({ tiles: 6, seed: 11 });

  test('smallSpecs is a mixed, valid set', () => {
    assert.equal(specs.length, 6);
    assert.ok(specs.some((s) => s.goodQso === 0));
    assert.ok(specs.some((s) => s.goodQso > 0));
    assert.ok(specs.some((s) => s.mask === 'uint32-bzero'));
    assert.ok(new Set(specs.map((s) => s.program)).size > 1);
    assert.equal(new Set(specs.map((s) => s.healpix)).size, 6);
    for (const s of specs) assert.ok(s.goodQso <= s.targets && s.targets >= 3 && s.healpix < 49152);
    assert.deepEqual(smallSpecs({ tiles: 6, seed: 11 }), specs);
  });

  test('layout, sizes, content and determinism', async () => {
    await withTempDir(async (dir) => {
      const a = join(dir, 'a');
      const report = await synthTree({ out: a, tiles: specs, wavelength: 'short' });
      assert.equal(report.tiles.length, specs.length);
      const expectedFiles: string[] = [];
      for (const s of specs) {
        const d = `${s.survey}/${s.program}/${Math.floor(s.healpix / 100)}/${s.healpix}`;
        const stem = `${s.survey}-${s.program}-${s.healpix}.fits`;
        // the afterburners (QSO and emission lines) beside coadd and redrock, as in DESI's tree
        expectedFiles.push(`${d}/coadd-${stem}`, `${d}/redrock-${stem}`, `${d}/qso_qn-${stem}`, `${d}/qso_mgii-${stem}`, `${d}/emline-${stem}`);
      }
      assert.deepEqual(await listFiles(a), expectedFiles.sort(), 'exactly the DESI layout, no temp files left');

      let total = 0;
      for (const [k, t] of report.tiles.entries()) {
        const s = specs[k];
        const coaddSize = (await stat(t.coaddPath)).size;
        const redrockSize = (await stat(t.redrockPath)).size;
        assert.equal(coaddSize, t.coaddBytes);
        assert.equal(redrockSize, t.redrockBytes);
        assert.equal(coaddSize % 2880, 0);
        assert.equal(redrockSize % 2880, 0);
        assert.deepEqual(estimateTileBytes(s, 'short'), { coaddBytes: coaddSize, redrockBytes: redrockSize }, 'estimate = real size');
        total += coaddSize + redrockSize;

        const coadd = scanHdus(await readFile(t.coaddPath));
        const redrockBuf = await readFile(t.redrockPath);
        const redrock = scanHdus(redrockBuf);
        assert.deepEqual(
          coadd.slice(1).map((h) => h.cards.get('EXTNAME')),
          [
            'FIBERMAP',
            'EXP_FIBERMAP',
            ...['B', 'R', 'Z'].flatMap((a) => ['WAVELENGTH', 'FLUX', 'IVAR', 'MASK', 'RESOLUTION'].map((x) => `${a}_${x}`)),
            'SCORES',
          ],
        );
        assert.deepEqual(
          redrock.slice(1).map((h) => h.cards.get('EXTNAME')),
          ['REDSHIFTS', 'FIBERMAP', 'EXP_FIBERMAP', 'TSNR2'],
        );
        assert.equal(coadd[0].cards.get('HPXPIXEL'), String(s.healpix));
        assert.equal(coadd[0].cards.get('SURVEY'), s.survey);
        assert.equal(hduNamed(coadd, 'B_FLUX').cards.get('NAXIS2'), String(s.targets));
        assert.equal(hduNamed(coadd, 'B_MASK').cards.get('BZERO'), s.mask === 'uint32-bzero' ? '2147483648' : undefined);
        assert.equal(hduNamed(coadd, 'FIBERMAP').cards.get('TFIELDS'), '67');

        const zcat = hduNamed(redrock, 'REDSHIFTS');
        const zTargetIds = readColumn(redrockBuf, zcat, 'TARGETID') as bigint[];
        const fmTargetIds = readColumn(await readFile(t.coaddPath), hduNamed(coadd, 'FIBERMAP'), 'TARGETID') as bigint[];
        assert.equal(new Set(fmTargetIds).size, s.targets, 'TARGETIDs unique');
        assert.deepEqual([...zTargetIds].sort(), [...fmTargetIds].sort(), 'same targets');
        assert.notDeepEqual(zTargetIds, fmTargetIds, 'REDSHIFTS order differs from FIBERMAP order');
        assert.ok(fmTargetIds.every((id) => id > 0n));
        assert.ok(fmTargetIds.some((id) => id > 2n ** 53n));
        const spectype = readColumn(redrockBuf, zcat, 'SPECTYPE');
        const { offset } = columnOffset(zcat, 'ZWARN');
        const width = Number(zcat.cards.get('NAXIS1'));
        const zwarn = spectype.map((_, r) => redrockBuf.readBigInt64BE(zcat.dataStart + r * width + offset));
        const good = spectype.filter((st, r) => st === 'QSO' && zwarn[r] === 0n).length;
        const anyQso = spectype.filter((st) => st === 'QSO').length;
        assert.equal(good, s.goodQso, 'exactly goodQso rows are QSO with ZWARN 0');
        if (s.targets > s.goodQso) assert.ok(anyQso > good, 'a cut ignoring ZWARN selects more');
      }
      assert.equal(report.totalBytes, total);

      // Same specs, same bytes; another seed, other bytes.
      const b = join(dir, 'b');
      await synthTree({ out: b, tiles: specs, wavelength: 'short' });
      for (const f of await listFiles(a)) {
        const [x, y] = await Promise.all([readFile(join(a, f)), readFile(join(b, f))]);
        assert.ok(x.equals(y), `${f} identical`);
      }
      const c = join(dir, 'c');
      const reseeded = specs.map((s) => ({ ...s, seed: s.seed + 1 }));
      await synthTree({ out: c, tiles: reseeded.slice(0, 1), wavelength: 'short' });
      const f0 = expectedFiles.find((f) => f.includes(`coadd-${specs[0].survey}-${specs[0].program}-${specs[0].healpix}`))!;
      const [x, y] = await Promise.all([readFile(join(a, f0)), readFile(join(c, f0))]);
      assert.ok(!x.equals(y), 'another seed gives other bytes');
    });
  });

  test('coadd size grows with targets by about 0.45 MB each on full grids', () => {
    const base: SynthTileSpec = { survey: 'main', program: 'dark', healpix: 100, targets: 10, goodQso: 2, seed: 1 };
    const small = estimateTileBytes(base).coaddBytes;
    const large = estimateTileBytes({ ...base, targets: 110 }).coaddBytes;
    const perTarget = (large - small) / 100;
    assert.ok(perTarget > 0.43 * 1e6 && perTarget < 0.46 * 1e6, `per target ${perTarget}`);
    assert.ok(estimateTileBytes({ ...base, targets: 110 }, 'short').coaddBytes < small);
  });

  test('rejects bad specs and duplicate tiles', async () => {
    const good: SynthTileSpec = { survey: 'main', program: 'dark', healpix: 5, targets: 3, goodQso: 1, seed: 1 };
    assert.throws(() => estimateTileBytes({ ...good, goodQso: 4 }), /goodQso/);
    assert.throws(() => estimateTileBytes({ ...good, healpix: 49152 }), /healpix/);
    assert.throws(() => estimateTileBytes({ ...good, targets: 0 }), /targets/);
    await assert.rejects(() => synthTree({ out: join(tmpdir(), 'never-written'), tiles: [good, good] }), /twice/);
  });

  test('pixel centres follow the NESTED scheme', () => {
    const p0 = pixelCenter(64, 0);
    assert.ok(Math.abs(p0.ra - 45) < 1e-9 && Math.abs(p0.dec - 0.5968) < 1e-3, JSON.stringify(p0));
    const north = pixelCenter(64, 64 * 64 - 1); // last pixel of face 0: next to the north pole
    assert.ok(north.dec > 88, JSON.stringify(north));
    const south = pixelCenter(64, 8 * 64 * 64); // first pixel of face 8: near the south pole
    assert.ok(south.dec < -40, JSON.stringify(south));
  });
});

describe('synth: the seed dry run shape', () => {
  const specs = seedDryRunSpecs({});
  const sizes = specs.map((s) => estimateTileBytes(s).coaddBytes / MiB);

  test('40 tiles, 15 empty, 0..234 good QSOs, logged first tiles', () => {
    assert.equal(specs.length, 40);
    assert.equal(specs.filter((s) => s.goodQso === 0).length, 15);
    assert.equal(Math.max(...specs.map((s) => s.goodQso)), 234);
    assert.equal(new Set(specs.map((s) => s.healpix)).size, 40);
    assert.deepEqual(
      specs.slice(0, 2).map((s) => s.healpix),
      [10304, 10305],
    );
    for (const s of specs) assert.ok(s.goodQso <= s.targets && s.healpix < 49152 && s.survey === 'main' && s.program === 'dark');
    // Empty tiles per batch of 8, as in the log.
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((b) => specs.slice(b * 8, b * 8 + 8).filter((s) => s.goodQso === 0).length),
      [2, 5, 4, 0, 4],
    );
  });

  test('coadd sizes 1.5 to 880 MB, 7.7 GB in all, batch totals as logged', () => {
    assert.ok(Math.min(...sizes) > 1.2 && Math.min(...sizes) < 1.8, `min ${Math.min(...sizes)}`);
    assert.ok(Math.max(...sizes) > 860 && Math.max(...sizes) < 900, `max ${Math.max(...sizes)}`);
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 7715.85) / 7715.85 < 0.01, `total ${total} MiB`);
    const logged = [1236.86, 1613.64, 1679.38, 2392.32, 793.65];
    logged.forEach((mb, b) => {
      const batch = sizes.slice(b * 8, b * 8 + 8).reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(batch - mb) / mb < 0.02, `batch ${b + 1}: ${batch} vs ${mb}`);
    });
    assert.ok(Math.abs((sizes[0] ?? 0) - 172.46) < 1, 'tile 10304 about 172.46 MB');
  });

  test('deterministic for a seed; scale shrinks sizes and keeps the empty pattern', () => {
    assert.deepEqual(seedDryRunSpecs({}), specs);
    const other = seedDryRunSpecs({ seed: 7 });
    assert.notDeepEqual(
      other.map((s) => s.healpix),
      specs.map((s) => s.healpix),
    );
    const scaled = seedDryRunSpecs({ scale: 0.01, survey: 'sv3', program: 'bright' });
    assert.equal(scaled.length, 40);
    assert.ok(scaled.every((s, k) => s.targets >= 1 && s.targets <= specs[k].targets && s.goodQso <= s.targets && s.survey === 'sv3'));
    assert.equal(scaled.filter((s) => s.goodQso === 0).length, 15);
    const scaledTotal = scaled.reduce((a, s) => a + estimateTileBytes(s).coaddBytes, 0) / MiB;
    assert.ok(scaledTotal < 120, `scaled total ${scaledTotal} MiB`);
    assert.throws(() => seedDryRunSpecs({ scale: 0 }));
    assert.throws(() => seedDryRunSpecs({ scale: 1.5 }));
  });
});

describe('synth: column layouts match desi-format.md', () => {
  test('REDSHIFTS is the DR1 layout (NAXIS1 170) and FIBERMAP has 67 columns', () => {
    const text = (cols: typeof REDSHIFTS_COLUMNS): string => cols.map((c) => `${c.name}:${c.repeat ?? ''}${c.tform}`).join(' ');
    assert.equal(text(REDSHIFTS_COLUMNS), 'TARGETID:K Z:D ZERR:D ZWARN:K CHI2:D COEFF:10D NPIXELS:K SPECTYPE:6A SUBTYPE:20A NCOEFF:K DELTACHI2:D');
    assert.equal(rowBytes(REDSHIFTS_COLUMNS), 170);
    assert.equal(FIBERMAP_COLUMNS.length, 67);
    assert.equal(new Set(FIBERMAP_COLUMNS.map((c) => c.name)).size, 67);
  });
});

describe('fixture tree (committed, astropy-written)', () => {
  const root = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

  test('every tile directory has its expected output, and the tree is small', async () => {
    assert.ok(existsSync(join(root, 'tree')), 'test/fixtures/tree exists (regenerate with scripts/make-fixture-tree.py)');
    const files = await listFiles(join(root, 'tree'));
    const tiles = new Set(files.map((f) => f.split('/').slice(0, 4).join('/')));
    assert.equal(tiles.size, 7);
    let bytes = 0;
    for (const f of files) bytes += (await stat(join(root, 'tree', f))).size;
    assert.ok(bytes < 3 * MiB, `tree is ${bytes} bytes`);
    for (const t of tiles) {
      const [survey, program, , healpix] = t.split('/');
      const expected = JSON.parse(await readFile(join(root, 'expected', `${survey}-${program}-${healpix}.json`), 'utf8')) as ExpectedTile;
      assert.equal(expected.healpix, Number(healpix));
      assert.ok(['ok', 'empty', 'missing-source'].includes(expected.status));
      if (expected.status === 'ok') assert.equal(expected.columns.TARGETID.values.length, expected.rows);
    }
    const e23040 = JSON.parse(await readFile(join(root, 'expected', 'main-dark-23040.json'), 'utf8')) as ExpectedTile;
    assert.equal(e23040.rows, 4);
    const e27247 = JSON.parse(await readFile(join(root, 'expected', 'main-dark-27247.json'), 'utf8')) as ExpectedTile;
    assert.equal(e27247.columns.SCND_TARGET, null);
    assert.equal(e27247.columns.FLUX_W2, null);
    const e10304 = JSON.parse(await readFile(join(root, 'expected', 'main-dark-10304.json'), 'utf8')) as ExpectedTile;
    assert.equal(e10304.columns.B_MASK.dtype, 'uint32');
    const readme = await readFile(join(root, 'expected', 'README.md'), 'utf8');
    assert.equal(readme.trimEnd().split('\n').length, 5);
    assert.match(readme, /make-fixture-tree\.py/);
  });
});
