import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesTileSpec, parseTileSpec, parseTileSpecs, type TileSpec } from '../../src/desi/tile.js';

test('parseTileSpec: a healpix number, or survey/program/healpix', () => {
  assert.deepEqual(parseTileSpec('23040'), { healpix: 23040 });
  assert.deepEqual(parseTileSpec('0'), { healpix: 0 });
  assert.deepEqual(parseTileSpec('49151'), { healpix: 49151 });
  assert.deepEqual(parseTileSpec(' 23040 '), { healpix: 23040 }, 'blanks around a value are ignored');
  assert.deepEqual(parseTileSpec('main/dark/23040'), { survey: 'main', program: 'dark', healpix: 23040 });
  assert.deepEqual(parseTileSpec('sv3/bright/9500'), { survey: 'sv3', program: 'bright', healpix: 9500 });
  assert.deepEqual(parseTileSpec('special_2/other-x/1'), { survey: 'special_2', program: 'other-x', healpix: 1 }, 'any name --survey/--program accept');
});

test('parseTileSpec: what is not a tile', () => {
  for (const bad of [
    '',
    ' ',
    '49152',
    '99999',
    '-1',
    '1.5',
    '23040.0',
    '1e3',
    '0x10',
    '+5',
    '023040',
    'Infinity',
    'NaN',
    'abc',
    '23 040',
    'dark/23040',
    'main/dark/',
    'main//23040',
    '/dark/23040',
    'main/dark/23040/',
    'a/main/dark/23040',
    'Main/dark/23040',
    'main/dark/49152',
    '../x/1',
  ]) {
    assert.equal(parseTileSpec(bad), undefined, JSON.stringify(bad));
  }
});

test('parseTileSpecs: every value parsed, or an Error naming the bad one', () => {
  assert.deepEqual(parseTileSpecs([]), []);
  assert.deepEqual(parseTileSpecs(['23040', 'main/dark/27248']), [{ healpix: 23040 }, { survey: 'main', program: 'dark', healpix: 27248 }]);
  assert.throws(() => parseTileSpecs(['23040', '99999']), { message: '--tiles: "99999" is not a healpix number (0–49151) or survey/program/healpix' });
  assert.throws(() => parseTileSpecs(['main/dark']), { message: '--tiles: "main/dark" is not a healpix number (0–49151) or survey/program/healpix' });
  assert.throws(() => parseTileSpecs(['x', 'y']), /"x"/, 'the first bad value is named');
});

test('parseTileSpecs: a spec given twice is kept once, at its first place', () => {
  assert.deepEqual(parseTileSpecs(['23040', '23040']), [{ healpix: 23040 }]);
  assert.deepEqual(parseTileSpecs(['27248', ' 23040', 'main/dark/23040', '23040 ', 'main/dark/23040', '27248']), [
    { healpix: 27248 },
    { healpix: 23040 },
    { survey: 'main', program: 'dark', healpix: 23040 },
  ]);
  assert.deepEqual(
    parseTileSpecs(['main/dark/23040', 'sv3/dark/23040']),
    [
      { survey: 'main', program: 'dark', healpix: 23040 },
      { survey: 'sv3', program: 'dark', healpix: 23040 },
    ],
    'the same number in two surveys is two specs',
  );
  assert.throws(() => parseTileSpecs(['23040', '23040', '023040']), /"023040"/, 'folding does not hide a bad value');
});

test('matchesTileSpec: a bare number matches every survey and program, a full spec one tile', () => {
  const tile = { survey: 'main', program: 'dark', healpix: 23040 };
  const yes: TileSpec[] = [{ healpix: 23040 }, { survey: 'main', program: 'dark', healpix: 23040 }];
  const no: TileSpec[] = [{ healpix: 23041 }, { survey: 'sv3', program: 'dark', healpix: 23040 }, { survey: 'main', program: 'bright', healpix: 23040 }];
  for (const s of yes) assert.ok(matchesTileSpec(tile, s), JSON.stringify(s));
  for (const s of no) assert.ok(!matchesTileSpec(tile, s), JSON.stringify(s));
  assert.ok(matchesTileSpec({ survey: 'sv3', program: 'bright', healpix: 23040 }, { healpix: 23040 }));
});

test('a parsed spec matches exactly the tiles whose key or number is the text given', () => {
  // What the runner's filter did with the raw text (its number as String(healpix), or tileKey), for every
  // value that parses: validation must not change which tiles an accepted --tiles value selects.
  const tiles = [
    { survey: 'main', program: 'dark', healpix: 23040 },
    { survey: 'main', program: 'bright', healpix: 23040 },
    { survey: 'sv3', program: 'dark', healpix: 0 },
    { survey: 'main', program: 'dark', healpix: 49151 },
  ];
  for (const text of ['23040', 'main/dark/23040', 'main/bright/23040', '0', 'sv3/dark/0', '49151', 'sv3/dark/23040', '7']) {
    const spec = parseTileSpec(text)!;
    assert.ok(spec, text);
    const byText = tiles.filter((t) => String(t.healpix) === text || `${t.survey}/${t.program}/${t.healpix}` === text);
    assert.deepEqual(
      tiles.filter((t) => matchesTileSpec(t, spec)),
      byText,
      text,
    );
  }
});
