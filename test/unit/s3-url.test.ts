import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTileObjectKey } from '../../src/desi/layout.js';
import {
  bucketNameProblem,
  folderPrefix,
  formatS3Url,
  isS3Url,
  joinKey,
  parseS3Url,
  relativeKeySegments,
  s3UrlText,
  S3UrlError,
} from '../../src/storage/s3-url.js';

test('parseS3Url: bucket and a prefix without leading or trailing slash', () => {
  assert.deepEqual(parseS3Url('s3://desiproject/dr1/spectro/redux/iron/healpix/'), { bucket: 'desiproject', prefix: 'dr1/spectro/redux/iron/healpix' });
  assert.deepEqual(parseS3Url('s3://desiproject/dr1/spectro'), { bucket: 'desiproject', prefix: 'dr1/spectro' });
  assert.deepEqual(parseS3Url('s3://my.bucket-1'), { bucket: 'my.bucket-1', prefix: '' });
  assert.deepEqual(parseS3Url('s3://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseS3Url('S3://my-bucket/a///'), { bucket: 'my-bucket', prefix: 'a' });
  assert.equal(s3UrlText(parseS3Url('s3://b12/x/y/')), 's3://b12/x/y');
  assert.equal(s3UrlText(parseS3Url('s3://b12/')), 's3://b12');
});

test('parseS3Url: refuses what is not an s3:// URL or a valid bucket or prefix', () => {
  for (const bad of [
    '/local/path',
    'http://bucket/x',
    's3://',
    's3://ab',
    's3://Upper/x',
    's3://under_score',
    's3://-start',
    's3://end-',
    's3://a..b',
    's3://192.168.1.1',
    's3://xn--abc',
    's3://b12/a//b',
    's3://b12/a/../b',
    's3://b12/./a',
    's3://b12//a',
    `s3://b12/a\0b`,
  ]) {
    assert.throws(() => parseS3Url(bad), S3UrlError, bad);
  }
  assert.match(String(bucketNameProblem('Upper')), /lowercase/);
  assert.equal(bucketNameProblem('desiproject'), undefined);
  assert.equal(bucketNameProblem('a'.repeat(64)) !== undefined, true);
});

test('isS3Url, formatS3Url, joinKey, folderPrefix', () => {
  assert.equal(isS3Url('s3://b/x'), true);
  assert.equal(isS3Url('./s3://b'), false);
  assert.equal(formatS3Url('b12', 'a/b.fits'), 's3://b12/a/b.fits');
  assert.equal(formatS3Url('b12'), 's3://b12/');
  assert.equal(joinKey('', 'main', 'dark/', '/230'), 'main/dark/230');
  assert.equal(joinKey('pre/fix', 'a'), 'pre/fix/a');
  assert.equal(folderPrefix(''), '');
  assert.equal(folderPrefix('a/b'), 'a/b/');
  assert.equal(folderPrefix('a/b/'), 'a/b/');
});

test('relativeKeySegments: refuses keys that could leave the prefix', () => {
  assert.deepEqual(relativeKeySegments('main/dark/230/main-dark-23040.parquet'), ['main', 'dark', '230', 'main-dark-23040.parquet']);
  for (const bad of ['', '/abs/x', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', 'a/b\0c', '..']) {
    assert.throws(() => relativeKeySegments(bad), S3UrlError, JSON.stringify(bad));
  }
});

test('parseTileObjectKey: coadd, redrock, other files, problems', () => {
  assert.deepEqual(parseTileObjectKey('main', 'dark', 230, '23040/coadd-main-dark-23040.fits'), {
    kind: 'coadd',
    healpix: 23040,
    file: 'coadd-main-dark-23040.fits',
  });
  assert.deepEqual(parseTileObjectKey('main', 'dark', 230, '23040/redrock-main-dark-23040.fits'), {
    kind: 'redrock',
    healpix: 23040,
    file: 'redrock-main-dark-23040.fits',
  });
  assert.equal(parseTileObjectKey('main', 'dark', 230, '23040/emline-main-dark-23040.fits').kind, 'other');
  assert.equal(parseTileObjectKey('main', 'dark', 230, '23040/qso_mgii-main-dark-23040.fits').kind, 'other');
  assert.equal(parseTileObjectKey('main', 'dark', 230, '23040/logs/coadd-main-dark-23040.log').kind, 'other');
  assert.equal(parseTileObjectKey('main', 'dark', 230, 'README').kind, 'problem');
  assert.equal(parseTileObjectKey('main', 'dark', 230, 'abc/coadd-main-dark-23040.fits').kind, 'problem');
  assert.equal(parseTileObjectKey('main', 'dark', 230, '23140/coadd-main-dark-23140.fits').kind, 'problem');
  assert.equal(parseTileObjectKey('main', 'dark', 491, '49152/coadd-main-dark-49152.fits').kind, 'problem');
  const misnamed = parseTileObjectKey('main', 'dark', 230, '23040/coadd-main-dark-23041.fits');
  assert.equal(misnamed.kind, 'problem');
  assert.match((misnamed as { problem: string }).problem, /not named for tile main\/dark\/23040/);
});
