/**
 * A tile's source fingerprint: what its coadd and redrock files were when discovery saw them. The journal
 * stores it with each tile record (TileRecord.sources), so a later run can tell that a tile's files were
 * rewritten since it was converted and redo it.
 */
import { createHash } from 'node:crypto';
import type { ObjectRef, TileRef } from './tile.js';

/**
 * 16 hex characters of sha256 over the identity of the tile's coadd and redrock: size and ETag for an S3
 * object, size and mtimeMs for a local file (the ETag wins when both are known, since an S3 LastModified
 * says when, not what), `-` for an absent file. The path is left out on purpose: the same files read from a
 * moved or re-mounted tree are the same sources. Same files → same fingerprint; a rewritten file (new
 * size, mtime or ETag) → a different one.
 */
export function sourceFingerprint(tile: TileRef): string {
  // A tile-layout unit also names its LASTNIGHT: a later night is new sources even if sizes and times matched.
  const night = tile.cumulative ? `lastnight=${tile.cumulative.lastnight}\n` : '';
  let text = `coadd=${identity(tile.coadd)}\nredrock=${identity(tile.redrock)}\n${night}`;
  // The afterburners a selection reads (run.ts keeps only those on the tile): absent for redrock-qso, so the
  // fingerprints of datasets made before afterburners existed do not change.
  for (const [kind, ref] of Object.entries(tile.afterburners ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) text += `${kind}=${identity(ref)}\n`;
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** One file's identity as discovery saw it; `-` when the file is absent. */
function identity(ref: ObjectRef | undefined): string {
  if (!ref) return '-';
  if (ref.etag !== undefined && ref.etag !== '') return `${ref.size} etag:${ref.etag}`;
  return `${ref.size} mtime:${ref.mtimeMs ?? '-'}`;
}
