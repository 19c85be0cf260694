/**
 * checkSources (verify --source, check 6) with afterburners: a record's fingerprint covers the afterburners
 * its selection read, which the lookup does not know; the unit is unchanged when some subset of what lies
 * beside it gives the recorded fingerprint, and changed when an afterburner it read was rewritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAfterburners } from '../../src/desi/afterburners.js';
import { sourceFingerprint } from '../../src/desi/fingerprint.js';
import type { TileRef } from '../../src/desi/tile.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { checkSources } from '../../src/verify/sources.js';
import type { SourceLookup } from '../../src/verify/source-lookup.js';

const KEY = 'cumulative/80600/4';
const unit = (mgiiSize: number): TileRef => ({
  survey: 'main',
  program: 'dark',
  healpix: -1,
  cumulative: { tileid: 80600, petal: 4, lastnight: 20210517 },
  coadd: { path: 'c', size: 10, mtimeMs: 1 },
  redrock: { path: 'r', size: 20, mtimeMs: 2 },
  afterburners: { qso_qn: { path: 'q', size: 30, mtimeMs: 3 }, qso_mgii: { path: 'm', size: mgiiSize, mtimeMs: 4 } },
});
const lookup = (t: TileRef): SourceLookup => ({ root: '/src', lookup: () => Promise.resolve(new Map([[KEY, t]])) });
const record = (sources: string): TileRecord => ({ type: 'tile', tile: KEY, status: 'ok', time: '', run: 'r', sources });

test('a record made with the afterburners, or without them, matches the same files; a rewritten one it read does not', async () => {
  const now = unit(40);
  for (const read of [[], ['qso_qn'], ['qso_qn', 'qso_mgii']] as const) {
    const fp = sourceFingerprint(withAfterburners(now, read));
    const r = await checkSources(lookup(now), new Map([[KEY, record(fp)]]), new Map());
    assert.deepEqual(r.findings, [], `read ${read.join('+') || 'none'}`);
    assert.equal(r.compared, 1);
  }
  const made = sourceFingerprint(withAfterburners(unit(40), ['qso_qn', 'qso_mgii']));
  const r = await checkSources(lookup(unit(41)), new Map([[KEY, record(made)]]), new Map());
  assert.deepEqual(
    r.findings.map((f) => f.kind),
    ['source-changed'],
  );
  // A file it never read may change: redrock-qso's record has no afterburner in it.
  const plain = sourceFingerprint(withAfterburners(unit(40), []));
  assert.deepEqual((await checkSources(lookup(unit(41)), new Map([[KEY, record(plain)]]), new Map())).findings, []);
});
