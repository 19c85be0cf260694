/**
 * The dataset identity record (what differs, what parses), the ballots of the S3 protocol, and the local
 * store on a real folder: first establish creates, later ones get it back, a damaged manifest is an error
 * naming the file and is left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DATASET_FORMAT,
  DATASET_SCHEMA_VERSION,
  formatIdentity,
  identityDifferences,
  MANIFEST_REL,
  parseIdentity,
  type DatasetIdentity,
} from '../../src/storage/dataset-identity.js';
import { LocalIdentityStore } from '../../src/storage/identity-local.js';
import { compareBallots, formatBlock, parseBlock, type Ballot } from '../../src/storage/identity-s3.js';

const base: DatasetIdentity = {
  format: DATASET_FORMAT,
  schemaVersion: DATASET_SCHEMA_VERSION,
  columns: 'default',
  selection: "SPECTYPE == 'QSO' and ZWARN == 0",
  source: '/data/desi/healpix',
  toolVersion: '0.1.0',
  created: '2026-01-02T03:04:05.000Z',
  createdBy: '20260102T030405-4242-9f3a61c2',
};

test('identityDifferences names selection, columns, source and schemaVersion, and nothing else', () => {
  const sameButOtherRun = { ...base, toolVersion: '0.2.0', created: '2027-01-01T00:00:00.000Z', createdBy: '20270101T000000-1-00000000' };
  assert.deepEqual(identityDifferences(base, sameButOtherRun), []);
  assert.deepEqual(identityDifferences(base, { ...base, selection: 'all rows' }), [
    `selection: "SPECTYPE == 'QSO' and ZWARN == 0" in the dataset, "all rows" in this run`,
  ]);
  assert.deepEqual(identityDifferences(base, { ...base, source: 's3://desiproject/x', schemaVersion: 3 }), [
    'source: "/data/desi/healpix" in the dataset, "s3://desiproject/x" in this run',
    'schemaVersion: 2 in the dataset, 3 in this run',
  ]);
  assert.deepEqual(identityDifferences(base, { ...base, columns: 'all' }), ['columns: "default" in the dataset, "all" in this run']);
});

test('--with groups are part of the identity: absent reads as none, another list differs, and they round-trip', () => {
  const withAb: DatasetIdentity = { ...base, with: ['qso_qn', 'emline'] };
  assert.deepEqual(identityDifferences(base, withAb), ['with: "none" in the dataset, "qso_qn,emline" in this run']);
  assert.deepEqual(identityDifferences(withAb, { ...base, with: ['emline'] }), ['with: "qso_qn,emline" in the dataset, "emline" in this run']);
  assert.deepEqual(identityDifferences(base, { ...base, with: [] }), [], 'an empty list is none');
  assert.deepEqual(parseIdentity(formatIdentity(withAb), 'x'), withAb);
  assert.ok(!formatIdentity(base).includes('"with"'), 'a manifest without --with has no "with" (older manifests read unchanged)');
  assert.throws(() => parseIdentity(JSON.stringify({ ...base, with: 'emline' }), '/o/m.json'), /\/o\/m.json: .*"with" is "emline", expected a list/);
});

test('a version-1 manifest (before column sets) reads as columns "default" and differs by its schemaVersion; a version-2 one must name its columns', () => {
  const v1: Partial<DatasetIdentity> = { ...base, schemaVersion: 1 };
  delete v1.columns;
  const old = parseIdentity(JSON.stringify(v1), 'x');
  assert.equal(old.columns, 'default');
  assert.deepEqual(identityDifferences(old, base), ['schemaVersion: 1 in the dataset, 2 in this run']);
  const v2: Partial<DatasetIdentity> = { ...base };
  delete v2.columns;
  assert.throws(() => parseIdentity(JSON.stringify(v2), '/out/m.json'), /\/out\/m.json: .*"columns" is undefined, expected one of default, all/);
  assert.throws(() => parseIdentity(JSON.stringify({ ...base, columns: 'some' }), 'x'), /"columns" is "some"/);
});

test('parseIdentity round-trips a manifest and refuses bad JSON, another format and missing fields, naming the file', () => {
  assert.deepEqual(parseIdentity(formatIdentity(base), 'x'), base);
  // Unknown extra fields (a newer writer) are dropped, not refused.
  assert.deepEqual(parseIdentity(JSON.stringify({ ...base, note: 'hi' }), 'x'), base);
  const where = '/out/_desi-qad/dataset.json';
  const cases: [string, RegExp][] = [
    ['{"format": "desi-qad-dataset", ', /not valid JSON/],
    ['<html><body>portal</body></html>', /not valid JSON \(it starts with "<html>/],
    ['', /not valid JSON/],
    ['[1,2]', /expected a JSON object/],
    ['null', /expected a JSON object/],
    [JSON.stringify({ ...base, format: 'parquet-dataset' }), /"format" is "parquet-dataset", expected "desi-qad-dataset"/],
    [JSON.stringify({ ...base, schemaVersion: '1' }), /"schemaVersion" is "1", expected a positive integer/],
    [JSON.stringify({ ...base, schemaVersion: 0 }), /"schemaVersion" is 0/],
    [JSON.stringify({ ...base, selection: undefined }), /"selection" is missing/],
    [JSON.stringify({ ...base, source: 3 }), /"source" is 3, expected a string/],
    [JSON.stringify({ ...base, toolVersion: undefined }), /"toolVersion" is missing/],
    [JSON.stringify({ ...base, created: 'yesterday' }), /"created" is "yesterday", expected an ISO time/],
    [JSON.stringify({ ...base, createdBy: '' }), /"createdBy" is empty/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseIdentity(text, where),
      (err: Error) => err.message.startsWith(`${where}: `) && re.test(err.message),
      text,
    );
  }
});

test('ballots compare by counter first, then by run id; null is below all', () => {
  const b = (n: number, id: string): Ballot => [n, id];
  assert.equal(compareBallots(b(2, 'a'), b(1, 'z')), 1);
  assert.equal(compareBallots(b(1, 'z'), b(2, 'a')), -1);
  assert.equal(compareBallots(b(3, 'a'), b(3, 'b')), -1);
  assert.equal(compareBallots(b(3, 'b'), b(3, 'a')), 1);
  assert.equal(compareBallots(b(3, 'a'), b(3, 'a')), 0);
  assert.equal(compareBallots(b(10, 'a'), b(9, 'b')), 1, 'counters compare as numbers, not text');
  assert.equal(compareBallots(null, b(1, 'a')), -1);
  assert.equal(compareBallots(b(1, 'a'), null), 1);
  assert.equal(compareBallots(null, null), 0);
  const sorted = [b(2, 'b'), b(1, 'c'), b(2, 'a'), b(1, 'a')].sort(compareBallots);
  assert.deepEqual(sorted, [b(1, 'a'), b(1, 'c'), b(2, 'a'), b(2, 'b')]);
});

test('blocks round-trip and must carry their owner in their ballots, with bal <= mbal', () => {
  const me = base.createdBy;
  const block = { mbal: [4, me] as Ballot, bal: [2, me] as Ballot, value: base };
  assert.deepEqual(parseBlock(formatBlock(block), 'k', me), block);
  assert.deepEqual(parseBlock(formatBlock({ ...block, bal: null }), 'k', me), { ...block, bal: null });
  assert.throws(() => parseBlock(formatBlock(block), 'k', 'someone-else'), /^Error: k: not a valid identity block: "mbal"/);
  assert.throws(() => parseBlock(formatBlock({ ...block, bal: [5, me] }), 'k', me), /"bal" .* is above "mbal"/);
  assert.throws(() => parseBlock('{"mbal":[1,"x"],', 'k', 'x'), /k: the identity block is not valid JSON/);
  assert.throws(() => parseBlock(JSON.stringify({ mbal: [1, 'x'], bal: null, value: { format: 'x' } }), 'k', 'x'), /k \(its value\).*"format"/);
});

test('local store: the first establish creates the manifest, later ones get it back unchanged', async () => {
  const out = await mkdtemp(join(tmpdir(), 'identity-'));
  const store = new LocalIdentityStore(out);
  assert.equal(store.location, join(out, ...MANIFEST_REL.split('/')));
  assert.equal(await store.read(), undefined);
  assert.deepEqual(await store.establish(base), { identity: base, created: true });
  const other = { ...base, selection: 'all rows', createdBy: '20260102T030406-4243-00000000' };
  assert.deepEqual(await new LocalIdentityStore(out).establish(other), { identity: base, created: false });
  assert.equal(await readFile(store.location, 'utf8'), formatIdentity(base));
  assert.deepEqual(await readdir(join(out, '_desi-qad')), ['dataset.json'], 'no temporary is left behind');
});

test('local store: a manifest that does not parse is an error naming it, and is not overwritten', async () => {
  const out = await mkdtemp(join(tmpdir(), 'identity-'));
  await mkdir(join(out, '_desi-qad'));
  const path = join(out, '_desi-qad', 'dataset.json');
  await writeFile(path, '{"format": "desi-qad-dat');
  const store = new LocalIdentityStore(out);
  await assert.rejects(store.establish(base), (err: Error) => err.message.startsWith(`${path}: `) && err.message.includes('not valid JSON'));
  await assert.rejects(store.read(), /not valid JSON/);
  assert.equal(await readFile(path, 'utf8'), '{"format": "desi-qad-dat');
});

test('local store: an aborted signal stops establish before it writes', async () => {
  const out = await mkdtemp(join(tmpdir(), 'identity-'));
  const ac = new AbortController();
  ac.abort(new Error('stop requested'));
  await assert.rejects(new LocalIdentityStore(out).establish(base, ac.signal), /stop requested/);
  assert.equal(await new LocalIdentityStore(out).read(), undefined);
});
