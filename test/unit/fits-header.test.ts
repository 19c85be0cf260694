/** Header cards: value grammar, commentary cards, CONTINUE long strings, HIERARCH and the typed getters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FitsError, Header, parseCard, parseCards } from '../../src/fits/index.js';

const pad = (s: string) => s.padEnd(80);
const one = (s: string) => parseCard(pad(s));

test('string values: quotes, doubled quotes, trailing and leading spaces, empty', () => {
  assert.deepEqual(one("STR     = 'abc     '           / comment here"), {
    key: 'STR',
    value: 'abc',
    kind: 'string',
    comment: 'comment here',
  });
  assert.equal(one("Q       = 'it''s'").value, "it's");
  assert.equal(one("L       = '   lead'").value, '   lead');
  assert.equal(one("E       = ''").value, '');
  assert.equal(one("B       = '        '").value, '');
  assert.equal(one("S       = 'a/b' / c/d").value, 'a/b');
  assert.equal(one("S       = 'a/b' / c/d").comment, 'c/d');
  assert.equal(one("S       = 'x'/tight").comment, 'tight');
});

test('logical, integer, bigint, float with E and D exponents, complex, undefined', () => {
  assert.equal(one('T       =                    T').value, true);
  assert.equal(one('F       =                    F / no').value, false);
  assert.deepEqual(one('I       =                  -42'), { key: 'I', value: -42, kind: 'integer', comment: undefined });
  assert.equal(one('P       =                 +007').value, 7);
  assert.equal(one('M       =     9007199254740991').value, Number.MAX_SAFE_INTEGER);
  assert.equal(one('BIG     =     9007199254740993').value, 9007199254740993n);
  assert.equal(one('NEG     = -1180591620717411303424').value, -1180591620717411303424n);
  const d = one('D       =              1.5D+03');
  assert.equal(d.value, 1500);
  assert.equal(d.kind, 'float');
  assert.equal(one('D2      =             -2.5d-3').value, -0.0025);
  assert.equal(one('E       =               .5E-3').value, 0.0005);
  assert.equal(one('DOT     =                   1.').value, 1);
  assert.equal(one('DOT     =                   1.').kind, 'float');
  assert.ok(Object.is(one('Z       =                 -0.0').value, -0));
  assert.equal(one('INF     =              1.0E999').value, Infinity);
  assert.deepEqual(one('C       = (1.5, -2.25)').value, { re: 1.5, im: -2.25 });
  assert.deepEqual(one('CI      =              (3, -4)').value, { re: 3, im: -4 });
  const u = one('U       =                      / nothing');
  assert.equal(u.value, null);
  assert.equal(u.kind, 'undefined');
  assert.equal(u.comment, 'nothing');
  assert.equal(one('U2      =').value, null);
});

test('commentary cards keep their text; a card without "= " is commentary too', () => {
  assert.deepEqual(one('COMMENT   hello   '), { key: 'COMMENT', value: '  hello', kind: 'text' });
  assert.deepEqual(one('HISTORY step 1 = done'), { key: 'HISTORY', value: 'step 1 = done', kind: 'text' });
  assert.deepEqual(one(''), { key: '', value: '', kind: 'text' });
  assert.deepEqual(one('        blank keyword'), { key: '', value: 'blank keyword', kind: 'text' });
  assert.deepEqual(one('NOEQ      some text'), { key: 'NOEQ', value: '  some text', kind: 'text' });
  assert.deepEqual(one("COMMENT = 'not a value'"), { key: 'COMMENT', value: "= 'not a value'", kind: 'text' });
});

test('HIERARCH cards take the long keyword', () => {
  const c = one('HIERARCH ESO DET CHIP NAME = 3 / chip');
  assert.equal(c.key, 'ESO DET CHIP NAME');
  assert.equal(c.value, 3);
  assert.equal(c.comment, 'chip');
  assert.equal(one("HIERARCH A B='x'").value, 'x');
});

test('a value that does not parse is kept as invalid and reported when read', () => {
  const c = one('BAD     = 1.0 2.0 / two numbers');
  assert.equal(c.kind, 'invalid');
  const h = new Header([c], 'f.fits', 'EXT');
  assert.throws(
    () => h.get('BAD'),
    (e: unknown) => e instanceof FitsError && e.code === 'BAD_HEADER' && e.key === 'BAD' && e.message.includes('f.fits: HDU EXT: BAD'),
  );
  assert.equal(one("UNT     = 'no end").kind, 'invalid');
  assert.equal(one('LOW     = t').kind, 'invalid');
});

test('CONTINUE long strings are merged; comments joined', () => {
  const cards = parseCards([
    pad("LONG    = 'first part &'       / c1"),
    pad("CONTINUE  'second part&'       / c2"),
    pad("CONTINUE  ''                   / c3"),
    pad('NEXT    =                    1'),
  ]);
  assert.equal(cards.length, 2);
  assert.deepEqual(cards[0], { key: 'LONG', value: 'first part second part', kind: 'string', comment: 'c1 c2 c3' });
  assert.equal(cards[1].key, 'NEXT');
});

test('CONTINUE pieces end at the first undoubled quote (astropy 5.2 would drop " too.")', () => {
  const cards = parseCards([pad("LONG    = 'start &'"), pad("CONTINUE  'it''s got ''quotes'' too.&'"), pad("CONTINUE  'end'")]);
  assert.equal(cards.length, 1);
  assert.equal(cards[0].value, "start it's got 'quotes' too.end");
});

test("a CONTINUE card after a string not ending in '&' stays a card of its own", () => {
  const cards = parseCards([pad("A       = 'plain'"), pad("CONTINUE  'more'"), pad("B       = 'x&'")]);
  assert.deepEqual(
    cards.map((c) => c.key),
    ['A', 'CONTINUE', 'B'],
  );
  assert.equal(cards[0].value, 'plain');
  assert.equal(cards[2].value, 'x&'); // no CONTINUE follows: the '&' is part of the value
});

test('Header getters: types checked, errors name file, HDU and key', () => {
  const h = new Header(
    parseCards([
      pad('NAXIS   =                    2'),
      pad('FLT     =                 10.0'),
      pad('BIG     =  9223372036854775808'),
      pad("NAME    = 'FLUX'"),
      pad('FLAG    =                    T'),
      pad('naxis   =                    9'),
      pad('COMMENT   text'),
    ]),
    'coadd.fits',
    'B_FLUX',
  );
  assert.equal(h.has('naxis'), true);
  assert.equal(h.int('NAXIS'), 2); // the first card with the key wins
  assert.equal(h.requireInt('naxis'), 2);
  assert.equal(h.number('FLT'), 10);
  assert.equal(h.number('BIG'), 2 ** 63);
  assert.equal(h.get('BIG'), 9223372036854775808n);
  assert.equal(h.string('NAME'), 'FLUX');
  assert.equal(h.bool('FLAG'), true);
  assert.equal(h.int('MISSING'), undefined);
  assert.equal(h.string('MISSING'), undefined);
  const bad = (fn: () => unknown, key: string) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof FitsError);
      assert.equal(e.code, 'BAD_HEADER');
      assert.equal(e.key, key);
      assert.match(e.message, /^coadd\.fits: HDU B_FLUX: /);
      return true;
    });
  bad(() => h.int('FLT'), 'FLT');
  bad(() => h.int('BIG'), 'BIG');
  bad(() => h.int('NAME'), 'NAME');
  bad(() => h.string('NAXIS'), 'NAXIS');
  bad(() => h.string('COMMENT'), 'COMMENT');
  bad(() => h.bool('NAXIS'), 'NAXIS');
  bad(() => h.number('NAME'), 'NAME');
  bad(() => h.requireInt('NAXIS3'), 'NAXIS3');
  bad(() => h.requireString('EXTNAME'), 'EXTNAME');
});
