/**
 * `--with` (cli/with-option.ts) and the afterburner columns it adds (desi/afterburner-columns.ts): the
 * parser's accepted and refused values, and the naming rule (prefixed where a name clashes), with types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWith, WITH_NAMES } from '../../src/cli/with-option.js';
import { afterburnerColumns } from '../../src/desi/afterburner-columns.js';
import { catalogColumns } from '../../src/desi/schema.js';
import { afterburnerKinds, afterburnersRead, parseSelection } from '../../src/desi/selection.js';

test('parseWith takes comma lists and repeats, any case, each name once, in a fixed order', () => {
  assert.deepEqual(parseWith([]), { resolution: false, afterburners: [] });
  assert.deepEqual(parseWith(['emline,qso_qn']), { resolution: false, afterburners: ['qso_qn', 'emline'] });
  assert.deepEqual(parseWith(['QSO_MGII', ' emline ', 'qso_mgii']), { resolution: false, afterburners: ['qso_mgii', 'emline'] });
  assert.deepEqual(parseWith(['resolution,qso_qn']), { resolution: true, afterburners: ['qso_qn'] });
  assert.deepEqual(WITH_NAMES, ['resolution', 'qso_qn', 'qso_mgii', 'emline']);
});

test('parseWith refuses unknown and empty names, naming the valid ones', () => {
  assert.throws(() => parseWith(['qso_qn,tsnr2']), /--with: "tsnr2" is not a column group; valid values: resolution, qso_qn, qso_mgii, emline/);
  assert.throws(() => parseWith(['qso_qn,']), /--with: an empty name is not a column group; valid values: resolution/);
  assert.throws(() => parseWith(['']), /an empty name/);
  assert.throws(() => afterburnerKinds(['resolution']), /not an afterburner/);
});

test('the afterburners a tile reads: the selection’s, then --with’s, each once', () => {
  assert.deepEqual(afterburnersRead(parseSelection({}), ['emline']), ['emline']);
  assert.deepEqual(afterburnersRead(parseSelection({ select: 'desi-qso-dr1' }), ['emline', 'qso_qn']), ['qso_qn', 'qso_mgii', 'emline']);
  assert.deepEqual(afterburnersRead(parseSelection({ select: 'all' })), []);
});

test('emline: names that clash with catalog columns are prefixed EMLINE_, line columns keep theirs; types are the FITS ones', () => {
  const cols = afterburnerColumns('emline');
  const head = cols.slice(0, 7).map((c) => `${c.name}:${c.type}`);
  assert.deepEqual(head, [
    'EMLINE_Z:float64',
    'EMLINE_ZWARN:int64',
    'EMLINE_SPECTYPE:utf8',
    'EMLINE_DELTACHI2:float64',
    'EMLINE_TARGET_RA:float64',
    'EMLINE_TARGET_DEC:float64',
    'EMLINE_OBJTYPE:utf8',
  ]);
  assert.equal(cols.length, 7 + 6 * 12);
  assert.deepEqual(
    cols.filter((c) => c.source.startsWith('OII_')).map((c) => `${c.name}:${c.type}`),
    ['FLUX', 'FLUX_IVAR', 'SIGMA', 'SIGMA_IVAR', 'CONT', 'CONT_IVAR', 'SHARE', 'SHARE_IVAR', 'EW', 'EW_IVAR', 'CHI2']
      .map((q) => `OII_${q}:float32`)
      .concat('OII_NDOF:int32'),
  );
});

test('qso_qn and qso_mgii: shared or rule names prefixed, the rules’ own columns unprefixed with the rules’ types', () => {
  const qn = Object.fromEntries(afterburnerColumns('qso_qn').map((c) => [c.source, c]));
  assert.equal(qn.RA.name, 'QSO_QN_RA');
  assert.equal(qn.DEC.name, 'QSO_QN_DEC');
  assert.equal(qn.SPECTYPE.name, 'QSO_QN_SPECTYPE');
  assert.equal(qn.Z_RR.name, 'QSO_QN_Z_RR');
  assert.equal(qn.Z_RR.type, 'float32');
  assert.deepEqual([qn.Z_NEW.name, qn.Z_NEW.type], ['Z_NEW', 'float64']);
  assert.deepEqual([qn.ZERR_NEW.name, qn.ZERR_NEW.type], ['ZERR_NEW', 'float32']);
  assert.deepEqual([qn.IS_QSO_QN_NEW_RR.name, qn.IS_QSO_QN_NEW_RR.type], ['IS_QSO_QN_NEW_RR', 'bool']);
  assert.deepEqual([qn.C_MgII.name, qn.C_MgII.type], ['C_MgII', 'float32']);
  assert.deepEqual([qn.COEFFS.name, qn.COEFFS.type, qn.COEFFS.list], ['COEFFS', 'float32', true]);
  assert.equal(qn.Z_QN.name, 'Z_QN');
  assert.ok(!('TARGETID' in qn) && !('DESI_TARGET' in qn), 'TARGETID and the target column are not repeated');
  const mgii = Object.fromEntries(afterburnerColumns('qso_mgii').map((c) => [c.source, c]));
  assert.deepEqual(
    ['RA', 'DEC', 'Z_RR', 'ZERR', 'SPECTYPE'].map((n) => mgii[n].name),
    ['QSO_MGII_RA', 'QSO_MGII_DEC', 'QSO_MGII_Z_RR', 'QSO_MGII_ZERR', 'QSO_MGII_SPECTYPE'],
  );
  assert.deepEqual([mgii.Z_RR.type, mgii.ZERR.type, mgii.IS_QSO_MGII.name, mgii.IS_QSO_MGII.type], ['float64', 'float32', 'IS_QSO_MGII', 'bool']);
  assert.deepEqual(
    ['DELTA_CHI2', 'A', 'SIGMA', 'B', 'VAR_A', 'VAR_SIGMA', 'VAR_B'].map((n) => mgii[n].name),
    ['DELTA_CHI2', 'A', 'SIGMA', 'B', 'VAR_A', 'VAR_SIGMA', 'VAR_B'],
  );
});

test('no two columns of the three afterburners share an output name, and none is a catalog column', () => {
  const names = (['qso_qn', 'qso_mgii', 'emline'] as const).flatMap((k) => afterburnerColumns(k).map((c) => c.name));
  assert.equal(new Set(names).size, names.length);
  const catalog = new Set(catalogColumns('all').map((c) => c.name));
  assert.deepEqual(
    names.filter((n) => catalog.has(n)),
    [],
  );
});
