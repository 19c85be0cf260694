/** `--with LIST`: the names it accepts, repeated and comma-separated values, and the usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWithOption, withOptionValue, WITH_NAMES } from '../../src/cli/with-option.js';

test('--with: comma lists and repeats add up, each name once, afterburners in a fixed order', () => {
  assert.deepEqual(parseWithOption(undefined), { resolution: false, afterburners: [] });
  assert.deepEqual(parseWithOption('resolution'), { resolution: true, afterburners: [] });
  assert.deepEqual(parseWithOption(['emline, qso_qn', 'resolution', 'qso_qn']), { resolution: true, afterburners: ['qso_qn', 'emline'] });
  assert.deepEqual(parseWithOption('qso_mgii'), { resolution: false, afterburners: ['qso_mgii'] });
  assert.deepEqual(WITH_NAMES, ['resolution', 'qso_qn', 'qso_mgii', 'emline']);
});

test('--with: an unknown or empty name is refused, naming the value and the valid names', () => {
  const valid = /use a comma list of resolution, qso_qn, qso_mgii, emline/;
  assert.throws(
    () => parseWithOption('resolutions'),
    (e: Error) =>
      e.message.includes('--with "resolutions": "resolutions" is not a column group') &&
      e.message.includes('use a comma list of resolution, qso_qn, qso_mgii, emline'),
  );
  assert.throws(() => parseWithOption(['resolution', 'RESOLUTION']), /"RESOLUTION" is not a column group/);
  assert.throws(() => parseWithOption('resolution,'), /an empty name is not a column group/);
  assert.throws(() => parseWithOption(''), valid);
});

test('--with: the choice as one value again, for a forwarded command line', () => {
  assert.equal(withOptionValue(parseWithOption(undefined)), undefined);
  assert.equal(withOptionValue(parseWithOption(['emline', 'resolution'])), 'resolution,emline');
  assert.deepEqual(parseWithOption(withOptionValue(parseWithOption('qso_qn,resolution'))), { resolution: true, afterburners: ['qso_qn'] });
});
