#!/usr/bin/env python3
"""An independent check of desi-qad's primary-spectra table (OUT/catalog/zcatalog.parquet).

Reads the healpix tree's redrock FITS files with astropy (REDSHIFTS: TARGETID, ZWARN; TSNR2: TSNR2_LRG) and
the table as CSV (pyarrow is not needed: the caller exports it, e.g. with DuckDB's COPY), recomputes DR1's
flags in the way of desispec's zcatalog.find_primary_spectra, and compares them row for row:

  per TARGETID, ZWARN == 0 first, then the largest TSNR2_LRG (missing or NaN last); ties by SURVEY, PROGRAM,
  HEALPIX, ROW ascending; the first row is primary; NSPEC counts the rows. ZCAT_ over every row, MAIN_ over
  survey main, SV_ over sv1/sv2/sv3; outside a flavour NSPEC is 0 and PRIMARY false.

Also checked: every row's ZWARN (and TSNR2_LRG, unless --no-tsnr2) is the FITS value, bit for bit; with
--all-rows, the table has exactly one row per REDSHIFTS row of every tile of --source.

  check-primary-astropy.py --source TREE --catalog zcatalog.csv [--all-rows] [--no-tsnr2]

Prints one JSON line (rows, targets, multi, mismatches, first mismatches) and exits 0 when all agree, 1
otherwise, 2 for bad input.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
from astropy.io import fits

FLAVOURS = {
    'ZCAT': lambda s: True,
    'MAIN': lambda s: s == 'main',
    'SV': lambda s: s in ('sv1', 'sv2', 'sv3'),
}


def redrock_path(root, survey, program, healpix):
    return os.path.join(root, survey, program, str(healpix // 100), str(healpix),
                        f'redrock-{survey}-{program}-{healpix}.fits')


def read_tile(path):
    """TARGETID -> (ZWARN, TSNR2_LRG as float32 or None) from one redrock file."""
    with fits.open(path, memmap=False) as hdul:
        z = hdul['REDSHIFTS'].data
        out = {int(t): [int(w), None] for t, w in zip(z['TARGETID'], z['ZWARN'])}
        names = [h.name for h in hdul]
        if 'TSNR2' in names:
            t = hdul['TSNR2'].data
            for tid, v in zip(t['TARGETID'], t['TSNR2_LRG']):
                if int(tid) in out:
                    out[int(tid)][1] = np.float32(v)
    return out


def all_tiles(root):
    """(survey, program, healpix) of every redrock file under root."""
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if f.startswith('redrock-') and f.endswith('.fits'):
                survey, program, hp = f[len('redrock-'):-len('.fits')].split('-')
                found.append((survey, program, int(hp)))
    return sorted(found)


def rank(rows, include):
    """(nspec, primary) arrays over the rows where include is true, DR1's way plus the tie-break."""
    n = len(rows)
    nspec = np.zeros(n, dtype=np.int16)
    primary = np.zeros(n, dtype=bool)
    idx = np.nonzero(include)[0]
    if len(idx) == 0:
        return nspec, primary
    tid = np.array([rows[i]['tid'] for i in idx], dtype=np.int64)
    zwarn_not_zero = np.array([0 if rows[i]['zwarn'] == 0 else 1 for i in idx], dtype=np.int64)
    ts = np.array([np.nan if rows[i]['tsnr2'] is None else float(rows[i]['tsnr2']) for i in idx], dtype=np.float64)
    ts_missing = np.isnan(ts).astype(np.int64)
    neg_ts = np.where(np.isnan(ts), 0.0, -ts)
    survey = np.array([rows[i]['survey'] for i in idx])
    program = np.array([rows[i]['program'] for i in idx])
    healpix = np.array([rows[i]['healpix'] for i in idx], dtype=np.int64)
    row = np.array([rows[i]['row'] for i in idx], dtype=np.int64)
    # np.lexsort: the last key is the first sort key.
    order = np.lexsort((row, healpix, program, survey, neg_ts, ts_missing, zwarn_not_zero, tid))
    sorted_tid = tid[order]
    _u, first, inverse, counts = np.unique(sorted_tid, return_index=True, return_inverse=True, return_counts=True)
    prim_sorted = np.zeros(len(idx), dtype=bool)
    prim_sorted[first] = True
    nspec_sorted = counts[inverse]
    nspec[idx[order]] = nspec_sorted
    primary[idx[order]] = prim_sorted
    return nspec, primary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source', required=True)
    ap.add_argument('--catalog', required=True)
    ap.add_argument('--all-rows', action='store_true')
    ap.add_argument('--no-tsnr2', action='store_true', help='the tool ranked without TSNR2_LRG (its files lack it)')
    a = ap.parse_args()

    with open(a.catalog, newline='') as fh:
        table = list(csv.DictReader(fh))
    tiles = {}
    rows = []
    problems = []
    for k, r in enumerate(table):
        survey, program, healpix = r['SURVEY'], r['PROGRAM'], int(r['HEALPIX'])
        key = (survey, program, healpix)
        if key not in tiles:
            path = redrock_path(a.source, *key)
            if not os.path.exists(path):
                print(json.dumps({'error': f'row {k}: no redrock file {path}'}))
                return 2
            tiles[key] = read_tile(path)
        tid = int(r['TARGETID'])
        fits_row = tiles[key].get(tid)
        if fits_row is None:
            problems.append(f'row {k}: TARGETID {tid} is not in the REDSHIFTS of {key}')
            continue
        zwarn, ts = fits_row
        if r['ZWARN'] == '' or int(r['ZWARN']) != zwarn:
            problems.append(f'row {k}: ZWARN {r["ZWARN"]!r}, the FITS says {zwarn}')
        if a.no_tsnr2:
            if r['TSNR2_LRG'] != '':
                problems.append(f'row {k}: TSNR2_LRG {r["TSNR2_LRG"]!r} although --no-tsnr2')
            ts = None
        else:
            got = None if r['TSNR2_LRG'] == '' else np.float32(float(r['TSNR2_LRG']))
            same = (got is None and ts is None) or (
                got is not None and ts is not None and got.tobytes() == ts.tobytes()) or (
                got is not None and ts is not None and np.isnan(got) and np.isnan(ts))
            if not same:
                problems.append(f'row {k}: TSNR2_LRG {r["TSNR2_LRG"]!r}, the FITS says {ts!r}')
        rows.append({'tid': tid, 'zwarn': zwarn, 'tsnr2': ts, 'survey': survey, 'program': program,
                     'healpix': healpix, 'row': int(r['ROW']), 'k': k})

    if a.all_rows:
        want = set()
        for key in all_tiles(a.source):
            for tid in read_tile(redrock_path(a.source, *key)):
                want.add((key, tid))
        have = {((t['survey'], t['program'], t['healpix']), t['tid']) for t in rows}
        if want != have or len(have) != len(table):
            problems.append(f'rows: the table has {len(table)} rows ({len(have)} distinct), the FITS {len(want)}; '
                            f'{len(want - have)} missing, {len(have - want)} extra')

    surveys = [t['survey'] for t in rows]
    mismatches = 0
    for prefix, includes in FLAVOURS.items():
        nspec, primary = rank(rows, np.array([includes(s) for s in surveys], dtype=bool))
        for i, t in enumerate(rows):
            r = table[t['k']]
            got_n = int(r[f'{prefix}_NSPEC'])
            got_p = r[f'{prefix}_PRIMARY'].strip().lower() == 'true'
            if got_n != int(nspec[i]) or got_p != bool(primary[i]):
                mismatches += 1
                problems.append(f'row {t["k"]} TARGETID {t["tid"]} {prefix}: table NSPEC {got_n} PRIMARY {got_p}, '
                                f'oracle {int(nspec[i])} {bool(primary[i])}')
    tids, counts = np.unique(np.array([t['tid'] for t in rows], dtype=np.int64), return_counts=True)
    print(json.dumps({'rows': len(table), 'targets': int(len(tids)), 'multi': int((counts > 1).sum()),
                      'mismatches': mismatches, 'problems': len(problems), 'first': problems[:10]}))
    return 0 if not problems else 1


if __name__ == '__main__':
    sys.exit(main())
