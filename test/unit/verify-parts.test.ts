/**
 * The pure parts of `desi-qad verify`: a footer read from a file's last bytes (and refused, before any
 * allocation, when its claimed length does not fit), the schema the code defines and the reference file's,
 * the selection text turned back into convert options, the latest record per tile, and the report's order
 * and redaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterburnersNeeded, parseSelection, selectionText } from '../../src/desi/selection.js';
import { buildTable, encodeParquet } from '../../src/parquet/index.js';
import { readParquetFooter } from '../../src/parquet/footer.js';
import { MemorySource } from '../../src/storage/source.js';
import { registerSecret } from '../../src/util/secrets.js';
import { latestRecords } from '../../src/verify/checks.js';
import { firstDifference, selectionOfText, selectionOptions } from '../../src/verify/deep.js';
import { FooterProblem, readFileFooter } from '../../src/verify/file-footer.js';
import { finding, sortFindings, emptyChecked, type VerifyReport } from '../../src/verify/findings.js';
import { reportJson, reportLines } from '../../src/verify/format.js';
import { RULE_TEXT } from '../../src/desi/selection.js';
import {
  codeSchemaProblems,
  expectedCatalogColumns,
  referenceSchemaProblems,
  selectionExtraColumns,
  withColumns,
  type SchemaSignature,
} from '../../src/verify/schema-check.js';
import type { JournalRecord } from '../../src/storage/journal-store.js';

/** A small real Parquet file with one `desi_qad` key. */
function smallParquet(info: object): Uint8Array {
  const table = buildTable(2, [
    { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([1n, 2n]) },
    { name: 'B_FLUX', kind: 'list', type: 'float32', values: Float32Array.from([1, 2, 3, 4]), width: 2 },
  ]);
  return encodeParquet(table, { desi_qad: JSON.stringify(info) });
}

test('a footer is read from the last bytes: rows, desi_qad metadata and the Arrow schema with logical types', async () => {
  const bytes = smallParquet({ tile: 'main/dark/1', selection: 'all rows' });
  const src = new MemorySource('x.parquet', bytes);
  const f = await readFileFooter(src);
  assert.equal(f.footer.numRows, 2);
  assert.deepEqual(f.info, { tile: 'main/dark/1', selection: 'all rows' });
  assert.deepEqual(
    f.schema.fields.map((x) => `${x.name}: ${String(x.type)}`),
    ['TARGETID: Int64', 'B_FLUX: List<Float32>'],
  );
  assert.ok(src.stats.bytesFetched < bytes.byteLength, 'only the footer and the magic were read');
});

test('a footer whose claimed length does not fit the file is refused before it is read', async () => {
  const bytes = smallParquet({ tile: 't' });
  const bad = bytes.slice();
  new DataView(bad.buffer).setUint32(bad.byteLength - 8, 0xfffffff0, true);
  const src = new MemorySource('bad.parquet', bad);
  await assert.rejects(readFileFooter(src), (e: Error) => e instanceof FooterProblem && e.message.includes('footer length 4294967280 does not fit'));
  assert.equal(src.stats.bytesFetched, 12, 'only the first 4 and the last 8 bytes were read');
  await assert.rejects(readFileFooter(new MemorySource('short', bytes.subarray(0, 8))), /only 8 bytes/);
  await assert.rejects(readFileFooter(new MemorySource('cut', bytes.subarray(0, bytes.byteLength - 3))), /does not end with PAR1/);
  const plain = encodeParquet(buildTable(1, [{ name: 'A', kind: 'scalar', type: 'int32', values: Int32Array.from([1]) }]), {});
  assert.equal(readParquetFooter(plain).numRows, 1);
  await assert.rejects(readFileFooter(new MemorySource('plain', plain)), /no desi_qad metadata/);
});

test('the schema the code defines: catalog columns in order and type, then ARM_FLUX/IVAR/MASK lists', () => {
  const catalog = expectedCatalogColumns();
  assert.equal(catalog[0], 'TARGETID: Int64');
  assert.ok(catalog.includes('COEFF: List<Float64>'));
  assert.ok(catalog.includes('COADD_NUMEXP: Int16'));
  const good: SchemaSignature = { columns: [...catalog, 'B_FLUX: List<Float32>', 'B_MASK: List<Uint32>'], leaves: ['TARGETID: INT64'] };
  assert.deepEqual(codeSchemaProblems(good), []);
  const narrowed = { ...good, columns: good.columns.map((c) => (c === 'COADD_NUMEXP: Int16' ? 'COADD_NUMEXP: Int32' : c)) };
  assert.match(codeSchemaProblems(narrowed).join(), /"COADD_NUMEXP: Int32", expected "COADD_NUMEXP: Int16"/);
  const maskAsInt = { ...good, columns: [...catalog, 'B_MASK: List<Int32>'] };
  assert.match(codeSchemaProblems(maskAsInt).join(), /B_MASK: List<Int32>" should be List<Uint32>/);
  const extra = { ...good, columns: [...catalog, 'NOTES: Utf8'] };
  assert.match(codeSchemaProblems(extra).join(), /neither a catalog column, nor one its selection or --with adds, nor a spectra column/);
  // The columns a selection and --with add: each once, all there, between the catalog and the spectra.
  const added = [...selectionExtraColumns(RULE_TEXT['desi-qso-dr1']), ...withColumns(['emline'])];
  assert.ok(added.includes('QSO_MASKBITS: Int32') && added.includes('EMLINE_Z: Float64') && added.includes('OII_NDOF: Int32'), added.join());
  const withAdded = { ...good, columns: [...catalog, ...added, 'B_FLUX: List<Float32>'] };
  assert.deepEqual(codeSchemaProblems(withAdded, 'default', false, added), []);
  assert.match(codeSchemaProblems(withAdded).join(), /"QSO_MASKBITS: Int32" is neither a catalog column/);
  assert.match(codeSchemaProblems(good, 'default', false, added).join(), /its selection or --with adds QSO_MASKBITS: Int32, .*absent here/);
  const twice = { ...good, columns: [...catalog, ...added, 'EMLINE_Z: Float64'] };
  assert.match(codeSchemaProblems(twice, 'default', false, added).join(), /"EMLINE_Z: Float64" is there twice/);
  // --with resolution: B/R/Z_RESOLUTION (float32 lists) exactly when the footer says so.
  const res = ['B', 'R', 'Z'].map((a) => `${a}_RESOLUTION: List<Float32>`);
  const withRes = { ...good, columns: [...good.columns, ...res] };
  assert.deepEqual(codeSchemaProblems(withRes, 'default', true), []);
  assert.match(codeSchemaProblems(withRes).join(), /B_RESOLUTION, R_RESOLUTION, Z_RESOLUTION are there, but its footer does not say --with resolution/);
  assert.match(codeSchemaProblems(good, 'default', true).join(), /its footer says --with resolution, but B_RESOLUTION, R_RESOLUTION, Z_RESOLUTION are absent/);
  const resAsDouble = { ...good, columns: [...good.columns, 'B_RESOLUTION: List<Float64>', ...res.slice(1)] };
  assert.match(codeSchemaProblems(resAsDouble, 'default', true).join(), /B_RESOLUTION: List<Float64>" should be List<Float32>/);
  assert.deepEqual(referenceSchemaProblems(good, good, 'a.parquet'), []);
  const noB = { ...good, columns: [...catalog, 'R_FLUX: List<Float32>'] };
  assert.match(referenceSchemaProblems(noB, good, 'a.parquet').join(), /lacks: B_FLUX: List<Float32>/);
});

test('a selection text is turned back into the convert options that give it', () => {
  for (const opts of [
    {},
    { spectype: 'any' },
    { spectype: 'any', keepZwarn: true },
    { spectype: 'QSO,GALAXY', minDeltachi2: 25 },
    { spectype: 'star', keepZwarn: true, minDeltachi2: -1.5 },
  ]) {
    const text = selectionText(parseSelection(opts));
    const args = selectionOptions(text);
    assert.ok(args, text);
    const get = (k: string) => args[args.indexOf(k) + 1];
    const back = parseSelection({
      spectype: get('--spectype'),
      keepZwarn: args.includes('--keep-zwarn'),
      minDeltachi2: args.find((a) => a.startsWith('--min-deltachi2=')) ? Number(args.find((a) => a.startsWith('--min-deltachi2='))!.split('=')[1]) : undefined,
    });
    assert.equal(selectionText(back), text);
  }
  assert.equal(selectionOptions('SPECTYPE like QSO'), undefined);
});

test('named selections and the --target/--fiberstatus/--objtype cuts are turned back into convert options', () => {
  // The options as convert parses them: a flag and its value, or --flag=value.
  const parseArgs = (args: string[]) => {
    const get = (k: string) => {
      const i = args.findIndex((a) => a === k || a.startsWith(`${k}=`));
      return i < 0 ? undefined : args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
    };
    const d = get('--min-deltachi2');
    return parseSelection({
      select: get('--select'),
      spectype: get('--spectype'),
      keepZwarn: args.includes('--keep-zwarn') || undefined,
      minDeltachi2: d === undefined ? undefined : Number(d),
      target: get('--target'),
      fiberstatus: get('--fiberstatus'),
      objtype: get('--objtype'),
    });
  };
  const cases: [Parameters<typeof parseSelection>[0], string[] | undefined][] = [
    [{ select: 'desi-qso-dr1' }, ['--select', 'desi-qso-dr1']],
    [{ select: 'desi-qso' }, ['--select', 'desi-qso']],
    [{ select: 'all' }, undefined],
    [{ select: 'redrock-qso' }, undefined],
    [{ target: 'QSO' }, undefined],
    [{ target: 'lrg,QSO,BGS_ANY', fiberstatus: 'good', objtype: 'tgt' }, undefined],
    [
      { spectype: 'any', keepZwarn: true, target: 'SCND_ANY', fiberstatus: '0x900' },
      ['--spectype', 'any', '--keep-zwarn', '--target', 'SCND_ANY', '--fiberstatus', '2304'],
    ],
    [{ spectype: 'QSO,GALAXY', minDeltachi2: 25, objtype: 'TGT' }, undefined],
  ];
  for (const [opts, expected] of cases) {
    const sel = parseSelection(opts);
    const text = selectionText(sel);
    const args = selectionOptions(text);
    assert.ok(args, text);
    if (expected) assert.deepEqual(args, expected, text);
    assert.equal(selectionText(parseArgs(args)), text, `${text} -> ${args.join(' ')}`);
    const back = selectionOfText(text);
    assert.ok(back, text);
    assert.deepEqual(afterburnersNeeded(back), afterburnersNeeded(sel), text);
    assert.equal(selectionText(back), text);
  }
  assert.deepEqual(afterburnersNeeded(selectionOfText(selectionText(parseSelection({ select: 'desi-qso-dr1' })))!), ['qso_qn', 'qso_mgii']);
  // Texts no selection writes are refused, not guessed at.
  for (const bad of [
    'TARGET in (QUASAR)',
    '(COADD_FIBERSTATUS & 0) == 0',
    "OBJTYPE == 'SKY'",
    'desi-qso-dr1: QSO_MASKBITS > 0',
    "SPECTYPE == 'QSO' and TARGET in (LRG, QSO)",
  ]) {
    assert.equal(selectionOptions(bad), undefined, bad);
    assert.equal(selectionOfText(bad), undefined, bad);
  }
});

test('the latest record of a tile wins; the first differing byte', () => {
  const rec = (tile: string, status: 'ok' | 'failed', time: string): JournalRecord => ({ type: 'tile', tile, status, time, run: 'r' });
  const latest = latestRecords([rec('a', 'ok', '1'), rec('b', 'ok', '2'), rec('a', 'failed', '3')]);
  assert.equal(latest.get('a')?.status, 'failed');
  assert.equal(latest.get('b')?.status, 'ok');
  assert.equal(firstDifference(Uint8Array.from([1, 2, 3]), Uint8Array.from([1, 2, 3])), undefined);
  assert.equal(firstDifference(Uint8Array.from([1, 2, 3]), Uint8Array.from([1, 9, 3])), 1);
  assert.equal(firstDifference(Uint8Array.from([1, 2]), Uint8Array.from([1, 2, 3])), 2);
});

test('the report: findings by tile then check order, JSON without undefined fields, secrets blanked', () => {
  registerSecret('sekrit-value-1234', 'test secret');
  const findings = sortFindings([
    finding('stray-file', 'x', { tile: 'main/dark/2', path: 'p2' }),
    finding('size-mismatch', 'y', { tile: 'main/dark/1', path: 'p1' }),
    finding('missing-file', 'z sekrit-value-1234', { tile: 'main/dark/1', path: 'p1' }),
    finding('journal-damaged', 'w'),
  ]);
  assert.deepEqual(
    findings.map((f) => f.kind),
    ['journal-damaged', 'missing-file', 'size-mismatch', 'stray-file'],
  );
  const report: VerifyReport = { ok: false, dataset: '/d', tiles: 2, files: 1, checked: emptyChecked(), findings };
  const json = JSON.parse(reportJson(report)) as VerifyReport;
  assert.deepEqual(json.findings[0], { kind: 'journal-damaged', detail: 'w' });
  assert.doesNotMatch(reportJson(report), /sekrit-value-1234/);
  const lines = reportLines(report);
  assert.doesNotMatch(lines.join('\n'), /sekrit-value-1234/);
  assert.equal(lines[lines.length - 1], 'verify: 2 tiles, 1 files checked, 4 findings ❌');
  assert.equal(reportLines({ ...report, ok: true, findings: [] }).at(-1), 'verify: 2 tiles, 1 files checked, 0 findings ✅');
});
