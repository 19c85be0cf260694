/**
 * `s3://bucket/prefix` URLs and object keys: parsing and joining. What a key of DESI's healpix tree means
 * (`{prefix}/{survey}/{program}/{pixgroup}/{pixnum}/{file}`) is desi/layout.ts's `parseTileObjectKey`.
 */

/** A bucket and a key prefix without leading or trailing slash ('' for the whole bucket). */
export interface S3Url {
  bucket: string;
  prefix: string;
}

/** Thrown for a string that is not a usable s3:// URL or key; the message names the string and the rule. */
export class S3UrlError extends Error {
  override name = 'S3UrlError';
}

const SCHEME = 's3://';

/** Whether the string is written as an s3:// URL (the CLI's test for --source and --out). */
export function isS3Url(s: string): boolean {
  return s.slice(0, SCHEME.length).toLowerCase() === SCHEME;
}

/**
 * Why `name` is not a valid S3 bucket name (AWS's general-purpose bucket rules), or undefined when it is.
 * Checked before any request so that a typo gives a message, not an HTTP error.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may hold only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or a digit';
  if (name.includes('..')) return 'must not hold two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not be formatted as an IP address';
  if (name.startsWith('xn--') || name.startsWith('sthree-')) return 'must not start with "xn--" or "sthree-"';
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3')) return 'must not end with "-s3alias" or "--ol-s3"';
  return undefined;
}

/**
 * Parses `s3://bucket[/prefix[/]]` into a bucket and a normalised prefix (no leading or trailing slash).
 * Empty segments inside the prefix ('a//b'), '.' and '..' segments and NUL characters are refused: they
 * name keys that no DESI tree has, and a prefix is the boundary that output keys must never leave.
 */
export function parseS3Url(url: string): S3Url {
  if (!isS3Url(url)) throw new S3UrlError(`${JSON.stringify(url)} is not an s3:// URL (expected s3://bucket/prefix)`);
  const rest = url.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const problem = bucketNameProblem(bucket);
  if (problem) throw new S3UrlError(`${JSON.stringify(url)}: bucket name ${JSON.stringify(bucket)} ${problem}`);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (prefix !== '') checkSegments(url, prefix.split('/'));
  return { bucket, prefix };
}

/** A URL as given to a store's constructor: parsed when it is text, as is when already parsed. */
export function toS3Url(url: string | S3Url): S3Url {
  return typeof url === 'string' ? parseS3Url(url) : url;
}

/** `s3://bucket/key` (or `s3://bucket/` for an empty key): how objects and prefixes are named in messages. */
export function formatS3Url(bucket: string, key = ''): string {
  return `${SCHEME}${bucket}/${key}`;
}

/** The URL of a parsed S3Url, written back the way parseS3Url reads it (without a trailing slash). */
export function s3UrlText(u: S3Url): string {
  return u.prefix ? `${SCHEME}${u.bucket}/${u.prefix}` : `${SCHEME}${u.bucket}`;
}

/** Joins key parts with '/', skipping empty parts and trimming slashes at the joins: joinKey('', 'a/', 'b'). */
export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
}

/** The listing prefix of a folder: '' for the bucket's root, else the key followed by '/'. */
export function folderPrefix(key: string): string {
  return key === '' ? '' : `${key.replace(/\/+$/, '')}/`;
}

/**
 * Checks a relative path meant to land under a prefix (an output file, a journal record) and returns its
 * segments. Absolute paths, empty segments, '.', '..' and NULs are refused, so a key can never leave the
 * prefix it is joined to.
 */
export function relativeKeySegments(relPath: string): string[] {
  if (relPath === '' || relPath.startsWith('/')) throw new S3UrlError(`output path ${JSON.stringify(relPath)} is not a relative path`);
  const segs = relPath.split('/');
  checkSegments(relPath, segs);
  return segs;
}

function checkSegments(what: string, segs: string[]): void {
  for (const s of segs) {
    if (s === '') throw new S3UrlError(`${JSON.stringify(what)}: empty path segment ('//' or a leading or trailing '/')`);
    if (s === '.' || s === '..') throw new S3UrlError(`${JSON.stringify(what)}: '${s}' segments are not allowed`);
    if (s.includes('\0')) throw new S3UrlError(`${JSON.stringify(what)}: NUL characters are not allowed`);
  }
}
