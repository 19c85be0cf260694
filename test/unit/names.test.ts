import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalNames, levenshtein, suggestion } from '../../src/desi/names.js';
import { PROGRAMS, SURVEYS } from '../../src/desi/layout.js';

test('canonicalNames: trimmed, empties dropped, duplicates kept once at their first place', () => {
  assert.deepEqual(canonicalNames('survey', ['main']), ['main']);
  assert.deepEqual(canonicalNames('survey', ['main', 'main']), ['main']);
  assert.deepEqual(canonicalNames('survey', [' sv3', '', 'main ', 'sv3', '  ']), ['sv3', 'main']);
  assert.deepEqual(canonicalNames('program', ['bright', 'dark', 'bright']), ['bright', 'dark']);
  assert.deepEqual(canonicalNames('survey', [...SURVEYS]), [...SURVEYS]);
  assert.deepEqual(canonicalNames('program', [...PROGRAMS]), [...PROGRAMS]);
});

test('canonicalNames: a name outside DESI sets is an Error, with the near name when there is one', () => {
  assert.throws(() => canonicalNames('program', ['darkk']), {
    message: '--program "darkk" is not a DESI program (dark, bright, backup, other); did you mean "dark"?',
  });
  assert.throws(() => canonicalNames('survey', ['main', 'mian']), {
    message: '--survey "mian" is not a DESI survey (cmx, sv1, sv2, sv3, main, special); did you mean "main"?',
  });
  assert.throws(() => canonicalNames('survey', ['MAIN']), /did you mean "main"\?$/, 'case is ignored for the suggestion, not for the name');
  assert.throws(() => canonicalNames('program', ['bri']), /did you mean "bright"\?$/, 'a prefix');
  assert.throws(() => canonicalNames('program', ['backup-2024']), /did you mean "backup"\?$/, 'a name that begins with a known one');
  assert.throws(() => canonicalNames('program', ['quasars']), {
    message: '--program "quasars" is not a DESI program (dark, bright, backup, other)',
  });
  assert.throws(() => canonicalNames('survey', ['../x']), /"\.\.\/x" is not a DESI survey/);
  assert.throws(() => canonicalNames('program', ['dark', 'bright', 'drak']), /"drak".*did you mean "dark"/, 'every value is checked');
});

test('canonicalNames: a list that names nothing is an Error', () => {
  assert.throws(() => canonicalNames('survey', []), { message: '--survey names no survey: give one or more of cmx, sv1, sv2, sv3, main, special' });
  assert.throws(() => canonicalNames('program', ['', ' ']), /--program names no program/);
});

test('levenshtein and suggestion', () => {
  assert.equal(levenshtein('', ''), 0);
  assert.equal(levenshtein('dark', 'dark'), 0);
  assert.equal(levenshtein('darkk', 'dark'), 1);
  assert.equal(levenshtein('mian', 'main'), 2);
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(suggestion('sv4', SURVEYS), 'sv1', 'the first of equally near names');
  assert.equal(suggestion('specal', SURVEYS), 'special');
  assert.equal(suggestion('zzzzzz', SURVEYS), undefined);
  assert.equal(suggestion('', PROGRAMS), undefined);
});
