/**
 * Check 6 of `desi-qad verify --source SRC`: the coadd and redrock each done tile was converted from (and
 * the qso_qn/qso_mgii files, when the dataset's selection reads them) are still there and unchanged. A fresh look at the tiles' files (what discovery sees: size and mtime
 * locally, size and ETag on S3; source-lookup.ts) gives each tile's fingerprint now, which is compared with
 * the one its journal record kept (desi/fingerprint.ts). A tile whose file is gone is `source-missing`;
 * one whose fingerprint differs is `source-changed`, said in the footer's words (which file, what size and
 * mtime or ETag it had) when the footer was read.
 */
import { basename } from 'node:path';
import { AFTERBURNER_KINDS, afterburnerFileName, withAfterburners } from '../desi/afterburners.js';
import { sourceFingerprint } from '../desi/fingerprint.js';
import type { AfterburnerKind } from '../desi/selection.js';
import type { FooterInfo } from '../desi/schema.js';
import type { ObjectRef, TileId, TileRef } from '../desi/tile.js';
import type { TileRecord } from '../storage/journal-store.js';
import { tileOfKey } from './checks.js';
import type { SourceLookup } from './source-lookup.js';
import { finding, type Finding } from './findings.js';

export interface SourceCheck {
  findings: Finding[];
  /** Tiles compared. */
  compared: number;
  /** Done tiles whose record has no fingerprint (older versions). */
  unknown: number;
  /** The done tiles' files as found now, by key (what --deep converts again, without a discovery). */
  found: ReadonlyMap<string, TileRef>;
}

/**
 * Compares the done (ok and empty) tiles of `latest` with what `store` holds now. `infos` holds the footers
 * read (by tile key), for the detail of a change. Throws when the source cannot be read (fatal).
 */
export async function checkSources(
  store: SourceLookup,
  latest: ReadonlyMap<string, TileRecord>,
  infos: ReadonlyMap<string, Partial<FooterInfo>>,
  afterburners: readonly AfterburnerKind[] = [],
): Promise<SourceCheck> {
  const done = [...latest.values()].filter((r) => r.status === 'ok' || r.status === 'empty');
  if (done.length === 0) return { findings: [], compared: 0, unknown: 0, found: new Map() };
  const ids = done.map((r) => tileOfKey(r.tile)).filter((t): t is TileId => t !== undefined);
  const unreadable: string[] = [];
  // Only the afterburners the dataset's selection reads: they are in its fingerprints, the others are not.
  const found = new Map([...(await store.lookup(ids, unreadable))].map(([k, t]) => [k, withAfterburners(t, afterburners)]));
  const result: SourceCheck = { findings: [], compared: 0, unknown: 0, found };
  for (const u of unreadable) result.findings.push(finding('source-unreadable', u));
  for (const rec of done.sort((a, b) => (a.tile < b.tile ? -1 : 1))) {
    if (rec.sources === undefined) {
      result.unknown += 1;
      continue;
    }
    result.compared += 1;
    const where = { tile: rec.tile };
    const now = found.get(rec.tile);
    const gone = [
      !now?.coadd ? 'coadd' : undefined,
      !now?.redrock ? 'redrock' : undefined,
      ...afterburners.filter((k) => !now?.afterburners?.[k]).map((k) => `${k} (${abName(k, rec.tile)}, which the selection reads)`),
    ].filter((x) => x !== undefined);
    if (gone.length > 0) {
      result.findings.push(finding('source-missing', `its ${gone.join(' and ')} ${gone.length > 1 ? 'are' : 'is'} no longer under ${store.root}`, where));
      continue;
    }
    const fp = sourceFingerprint(now!);
    if (fp === rec.sources) continue;
    const info = infos.get(rec.tile);
    const changes = info?.sources ? describeChanges(info.sources, now!) : [];
    result.findings.push(
      finding(
        'source-changed',
        changes.length > 0
          ? `changed since it was converted: ${changes.join('; ')}`
          : `its ${['coadd', 'redrock', ...afterburners].join(' or ')} changed since it was converted (fingerprint ${rec.sources} in the journal, ${fp} now)`,
        where,
      ),
    );
  }
  return result;
}

/** The afterburner's file name of the tile with key `key` (healpix layout), for messages. */
function abName(kind: AfterburnerKind, key: string): string {
  const t = tileOfKey(key);
  return t ? afterburnerFileName(kind, t) : kind;
}

/** What differs between the footer's record of the sources and what discovery sees now. */
function describeChanges(then: NonNullable<FooterInfo['sources']>, now: TileRef): string[] {
  const out: string[] = [];
  for (const role of ['coadd', 'redrock', ...AFTERBURNER_KINDS] as const) {
    const was = then.find((s) => s.role === role);
    const is: ObjectRef | undefined = role === 'coadd' || role === 'redrock' ? now[role] : now.afterburners?.[role];
    if (!was || !is) continue;
    const parts: string[] = [];
    if (was.size !== is.size) parts.push(`size ${was.size} → ${is.size}`);
    const etag = is.etag;
    if (etag !== undefined && was.etag !== undefined && etag !== was.etag) parts.push(`ETag ${was.etag} → ${etag}`);
    else if (etag === undefined && is.mtimeMs !== undefined) {
      const mtime = new Date(is.mtimeMs).toISOString();
      if (was.mtime !== undefined && was.mtime !== mtime) parts.push(`mtime ${was.mtime} → ${mtime}`);
    }
    if (parts.length > 0) out.push(`${role === 'coadd' || role === 'redrock' ? role : `${role} ${basename(was.name)}`} ${parts.join(', ')}`);
  }
  return out;
}
