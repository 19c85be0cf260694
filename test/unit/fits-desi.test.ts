/**
 * Real DESI files (the shared samples beside the repository, or DESI_QAD_SAMPLES): every HDU's offsets,
 * header cards and data must equal what astropy reads, computed live with Debian's /usr/bin/python3
 * through scripts/make-golden-fits.py --dump. Skips when the samples are absent; skips when Python with
 * astropy is missing unless DESI_QAD_REQUIRE_ORACLES=1, which makes it fail instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemorySource } from '../../src/storage/source.js';
import { findColumn, findHdu, readColumn, readHduData, scanHdus, tableInfo } from '../../src/fits/index.js';
import { checkAgainstDump, type Dump } from '../golden/fits/compare.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');
const samples = process.env.DESI_QAD_SAMPLES ?? path.resolve(repo, '..', 'shared', 'desi-samples');
const script = path.join(repo, 'scripts', 'make-golden-fits.py');
const python = '/usr/bin/python3';
const requireOracles = process.env.DESI_QAD_REQUIRE_ORACLES === '1';

function oracleMissing(): string | undefined {
  if (!existsSync(python)) return `${python} is missing`;
  try {
    execFileSync(python, ['-c', 'import astropy.io.fits, numpy'], { stdio: 'ignore' });
  } catch {
    return `${python} has no astropy`;
  }
  return undefined;
}
const missing = oracleMissing();
if (missing && requireOracles) throw new Error(`DESI_QAD_REQUIRE_ORACLES=1 but ${missing}`);

const files = ['coadd-special-dark-27247.fits', 'redrock-special-dark-27247.fits', 'redrock-test.fits'];

for (const name of files) {
  const file = path.join(samples, name);
  const skip = !existsSync(file) ? `sample ${file} is absent` : missing ? `astropy oracle unavailable: ${missing}` : false;
  test(`DESI sample ${name}: every HDU as astropy reads it`, { skip }, async () => {
    const dump = JSON.parse(execFileSync(python, [script, '--dump', file, '--hash-over', '4096'], { maxBuffer: 64 << 20, encoding: 'utf8' })) as Dump;
    assert.ok(dump.hdus.length >= 2);
    await checkAgainstDump(new MemorySource(name, new Uint8Array(readFileSync(file))), dump);
  });
}

const redrock = path.join(samples, 'redrock-special-dark-27247.fits');
test(
  'DESI redrock: REDSHIFTS values against astropy, reading only up to that HDU',
  {
    skip: !existsSync(redrock) ? `sample ${redrock} is absent` : missing ? `astropy oracle unavailable: ${missing}` : false,
  },
  async () => {
    const src = new MemorySource('redrock.fits', new Uint8Array(readFileSync(redrock)));
    const hdus = await scanHdus(src, { until: ['REDSHIFTS'] });
    assert.equal(hdus[hdus.length - 1].name, 'REDSHIFTS');
    const hdu = findHdu(src.name, hdus, 'REDSHIFTS');
    const info = tableInfo(src.name, hdu);
    const data = await readHduData(src, hdu);
    const get = (col: string) => readColumn(src.name, hdu, info, findColumn(info, col)!, data);
    const expected = JSON.parse(
      execFileSync(
        python,
        [
          '-c',
          `
import json, struct, sys
from astropy.io import fits
d = fits.open(sys.argv[1])['REDSHIFTS'].data
print(json.dumps({"TARGETID": [str(int(x)) for x in d["TARGETID"]], "Z": [struct.pack("<d", float(x)).hex() for x in d["Z"]],
                  "ZWARN": [str(int(x)) for x in d["ZWARN"]], "SPECTYPE": [str(x) for x in d["SPECTYPE"]]}))
`,
          redrock,
        ],
        { encoding: 'utf8' },
      ),
    ) as { TARGETID: string[]; Z: string[]; ZWARN: string[]; SPECTYPE: string[] };
    const targetid = get('TARGETID');
    assert.equal(targetid.type, 'int64');
    assert.deepEqual([...(targetid.values as BigInt64Array)].map(String), expected.TARGETID);
    const z = get('z');
    assert.equal(z.type, 'float64');
    assert.deepEqual([...(z.values as Float64Array)].map(hexFloat), expected.Z);
    assert.deepEqual([...(get('ZWARN').values as BigInt64Array)].map(String), expected.ZWARN);
    assert.deepEqual(get('SPECTYPE').values, expected.SPECTYPE);
  },
);

/** The hex of a double's little-endian bytes, as the Python side writes it with struct. */
function hexFloat(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex');
}
