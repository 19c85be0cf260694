/**
 * The one rule both local and S3 discovery of the tile layout apply to what they listed under one TILEID
 * folder: the latest LASTNIGHT folder wins (a cumulative coadd through night N holds every exposure up to
 * N), and each petal with a coadd or redrock there is a unit, with the afterburners found beside them. Older LASTNIGHT folders are superseded and
 * not read; a petal found only in an older folder is reported, since the latest folder lacks it.
 */
import { isNightText, parseCumulativeFile, PETALS } from '../desi/cumulative.js';
import { AFTERBURNER_KINDS, cumulativeAfterburnerFileName } from '../desi/afterburners.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';

/** One file found under `{tileid}/`: its LASTNIGHT folder name, its name in that folder, and its ref. */
export interface CumulativeEntry {
  night: string;
  file: string;
  ref: ObjectRef;
}

/**
 * The units of one TILEID folder, by petal. `where(night, file)` names a place for a problem; `problem`
 * receives `place: why`.
 */
export function unitsOfTile(
  tileid: number,
  entries: readonly CumulativeEntry[],
  where: (night: string, file?: string) => string,
  problem: (text: string) => void,
): TileRef[] {
  const nights = new Map<number, CumulativeEntry[]>();
  const badNights = new Set<string>();
  for (const e of entries) {
    if (!isNightText(e.night)) {
      if (!badNights.has(e.night)) problem(`${where(e.night)}: not a LASTNIGHT folder (YYYYMMDD), skipped`);
      badNights.add(e.night);
      continue;
    }
    const n = Number(e.night);
    let list = nights.get(n);
    if (!list) nights.set(n, (list = []));
    list.push(e);
  }
  if (nights.size === 0) return [];
  const sorted = [...nights.keys()].sort((a, b) => b - a);
  const lastnight = sorted[0];
  const units = new Map<number, TileRef>();
  const others: CumulativeEntry[] = [];
  for (const e of nights.get(lastnight)!) {
    const parsed = parseCumulativeFile(tileid, lastnight, e.file);
    if (parsed.kind === 'problem') {
      problem(`${where(e.night, e.file)}: ${parsed.problem}, skipped`);
      continue;
    }
    if (parsed.kind === 'other') {
      others.push(e);
      continue;
    }
    let unit = units.get(parsed.petal);
    if (!unit) units.set(parsed.petal, (unit = { survey: '', program: '', healpix: -1, cumulative: { tileid, petal: parsed.petal, lastnight } }));
    unit[parsed.kind] = e.ref;
  }
  // The afterburners beside a petal's coadd and redrock ({kind}-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits); one of a
  // petal that has neither is not a unit of its own.
  for (const e of others) {
    const petal = /^[a-z_]+-(\d+)-/.exec(e.file)?.[1];
    const unit = petal === undefined ? undefined : units.get(Number(petal));
    if (!unit) continue;
    const kind = AFTERBURNER_KINDS.find((k) => e.file === cumulativeAfterburnerFileName(k, unit.cumulative!));
    if (kind !== undefined) (unit.afterburners ??= {})[kind] = e.ref;
  }
  // A petal that an older night has and the latest lacks: worth saying, never silently taken from the old night.
  const older = new Set<number>();
  for (const n of sorted.slice(1))
    for (const e of nights.get(n)!) {
      const parsed = parseCumulativeFile(tileid, n, e.file);
      if ((parsed.kind === 'coadd' || parsed.kind === 'redrock') && !units.has(parsed.petal) && !older.has(parsed.petal)) {
        older.add(parsed.petal);
        problem(
          `${where(String(n), e.file)}: petal ${parsed.petal} is in LASTNIGHT ${n} but not in the latest, ${lastnight}: skipped (the latest night supersedes older ones)`,
        );
      }
    }
  return [...units.values()].sort((a, b) => a.cumulative!.petal - b.cumulative!.petal).filter((u) => u.cumulative!.petal < PETALS);
}
