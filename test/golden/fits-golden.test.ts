/**
 * Golden files: every test/golden/fits/<case>.fits is read with the FITS reader and compared with
 * <case>.json, what astropy read from it (scripts/make-golden-fits.py). A new case is a new file pair.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { MemorySource } from '../../src/storage/source.js';
import { checkAgainstDump, type Dump } from './fits/compare.js';

// Compiled to dist/test/golden/, the fixtures stay in the source tree at test/golden/fits/.
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(here, '..', '..', '..', 'test', 'golden', 'fits');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();

test('golden FITS cases are present', () => {
  assert.ok(cases.length >= 10, `expected the golden cases in ${dir}, found ${cases.length}`);
});

for (const name of cases) {
  test(`golden FITS: ${name}`, async () => {
    const expected = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as Dump;
    const bytes = new Uint8Array(readFileSync(path.join(dir, `${name}.fits`)));
    await checkAgainstDump(new MemorySource(`${name}.fits`, bytes), expected);
  });
}
