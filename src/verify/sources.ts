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
import type { ObjectRef, TileRef } from '../desi/tile.js';
import type { TileRecord } from '../storage/journal-store.js';
import type { SourceLookup } from './source-lookup.js';
import { finding, type Finding } from './findings.js';
import { tileOfKey } from './checks.js';

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
  const unreadable: string[] = [];
  const found = await store.lookup(
    done.map((r) => r.tile),
    unreadable,
  );
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
    // The afterburners the record was made from: its footer lists them; else those its selection and --with
    // read; else unknown, and any subset of the ones found now may be the one (fingerprints()).
    const read = readAfterburners(infos.get(rec.tile)) ?? (afterburners.length > 0 ? afterburners : undefined);
    const gone = [
      !now?.coadd ? 'coadd' : undefined,
      !now?.redrock ? 'redrock' : undefined,
      ...(read ?? []).filter((k) => !now?.afterburners?.[k]).map((k) => `${k} (${abName(k, rec.tile)}, which the selection reads)`),
    ].filter((x) => x !== undefined);
    if (gone.length > 0) {
      result.findings.push(finding('source-missing', `its ${gone.join(' and ')} ${gone.length > 1 ? 'are' : 'is'} no longer under ${store.root}`, where));
      continue;
    }
    const fp = sourceFingerprint(withAfterburners(now!, read ?? []));
    if (read ? fp === rec.sources : fingerprints(now!).includes(rec.sources)) continue;
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

/** The afterburners a footer's `sources` lists (undefined without a footer or its sources). */
function readAfterburners(info: Partial<FooterInfo> | undefined): AfterburnerKind[] | undefined {
  return info?.sources?.map((x) => x.role).filter((r): r is AfterburnerKind => (AFTERBURNER_KINDS as readonly string[]).includes(r));
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

/**
 * The fingerprints the tile's files now give, one per subset of the afterburners found beside them: a record's
 * fingerprint covers the afterburners its selection read (none for redrock-qso), and the lookup does not know
 * which those were. A record matches one of these only if every file it was made from is unchanged (the subset
 * that left out a file it read, or kept one it did not, gives another text).
 */
function fingerprints(tile: TileRef): string[] {
  const kinds = Object.keys(tile.afterburners ?? {}) as AfterburnerKind[];
  const out: string[] = [];
  for (let mask = 0; mask < 1 << kinds.length; mask++)
    out.push(
      sourceFingerprint(
        withAfterburners(
          tile,
          kinds.filter((_, k) => (mask >> k) & 1),
        ),
      ),
    );
  return out;
}
