import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelection, selectionColumns, selectionText, DEFAULT_SELECTION } from '../../src/desi/selection.js';

test('the default selection is the seed cut: good quasars', () => {
  const sel = parseSelection({});
  assert.deepEqual(sel, DEFAULT_SELECTION);
  assert.equal(selectionText(sel), "SPECTYPE == 'QSO' and ZWARN == 0");
  assert.deepEqual(selectionColumns(sel), ['TARGETID', 'SPECTYPE', 'ZWARN']);
});

test('--spectype lists are upper-cased, de-duplicated and sorted so the journal compares them stably', () => {
  const sel = parseSelection({ spectype: 'galaxy, QSO,qso', keepZwarn: true, minDeltachi2: 25 });
  assert.deepEqual(sel.spectypes, ['GALAXY', 'QSO']);
  assert.equal(selectionText(sel), "SPECTYPE in ('GALAXY', 'QSO') and DELTACHI2 > 25");
  assert.deepEqual(selectionColumns(sel), ['TARGETID', 'SPECTYPE', 'DELTACHI2']);
});

test('--spectype any with --keep-zwarn keeps every row', () => {
  const sel = parseSelection({ spectype: 'ANY', keepZwarn: true });
  assert.equal(sel.spectypes, 'any');
  assert.equal(selectionText(sel), 'all rows');
  assert.deepEqual(selectionColumns(sel), ['TARGETID']);
});

test('nonsense selections are usage errors', () => {
  assert.throws(() => parseSelection({ spectype: ' , ' }), /names no class/);
  assert.throws(() => parseSelection({ spectype: "QSO'; drop" }), /not a SPECTYPE value/);
  assert.throws(() => parseSelection({ minDeltachi2: Number.NaN }), /finite/);
});
