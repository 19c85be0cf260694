#!/usr/bin/env python3
"""An independent implementation of DESI's quasar catalog rules (desihub/LSS py/LSS/qso_cat_utils.py,
qso_catalog_maker), with numpy and astropy only, to check desi-qad's --select desi-qso-dr1 / desi-qso.

Usage: qso-catalog-oracle.py RULES TILE_DIR SURVEY PROGRAM HEALPIX ROWS_JSON
  RULES      desi-qso-dr1 or desi-qso
  TILE_DIR   the tile's folder (coadd-, redrock-, qso_qn-, qso_mgii-S-P-N.fits)
  ROWS_JSON  the tool's rows of that tile: a JSON list of {"TARGETID": "decimal", "QSO_MASKBITS": int,
             "Z": float|"NaN", "ZERR": float|"NaN"}

It reads the FITS with astropy, joins everything by TARGETID (as LSS's pandas merge does), computes
QSO_MASKBITS, Z and ZERR for every row, keeps QSO_MASKBITS > 0, and compares with the tool's rows: the same
TARGETIDs, and for each the same QSO_MASKBITS and bit-identical Z and ZERR (NaN equals NaN). Prints a JSON
summary; exit 0 when they agree, 1 when they differ, 2 on bad usage.
"""
import json
import struct
import sys

import numpy as np
from astropy.io import fits

RULES = {
    # threshold, fibre statuses kept, OBJTYPE == 'TGT' required, z-bump veto
    "desi-qso-dr1": (0.95, (0, 2**23, 2**24), False, True),
    "desi-qso": (0.99, (0, 2**3), True, False),
}
LINES = ["C_LYA", "C_CIV", "C_CIII", "C_MgII", "C_Hbeta", "C_Halpha"]


def target_column(survey):
    return {"main": "DESI_TARGET", "sv1": "SV1_DESI_TARGET", "sv2": "SV2_DESI_TARGET", "sv3": "SV3_DESI_TARGET", "cmx": "CMX_TARGET"}.get(survey)


def masks(survey):
    """(QSO, ELG, BGS) masks of the survey's target column, from desitarget's yaml files as LSS uses them."""
    if survey == "cmx":
        return (1 << 12) | (1 << 55), (1 << 11) | (1 << 54), (1 << 8) | (1 << 56)
    return 1 << 2, 1 << 1, 1 << 60


def wise_var(survey):
    return {"main": "SCND_TARGET", "sv1": "SV1_SCND_TARGET", "sv3": "SV3_SCND_TARGET"}.get(survey), 1 << 35


class Rows:
    """A table's columns as astropy converts them (logical columns as bool), indexable by a row array."""

    def __init__(self, cols):
        self.cols = cols
        self.dtype = type("D", (), {"names": tuple(cols)})

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.cols[key]
        return Rows({k: v[key] for k, v in self.cols.items()})


def table(path, names):
    with fits.open(path, memmap=False) as hdul:
        for name in names:
            if name in hdul:
                data = hdul[name].data
                # data[col], not np.array(data): the FITS_rec field converts L to bool ('T'/'F' bytes otherwise)
                return Rows({col: np.array(data[col]) for col in data.columns.names})
    raise SystemExit(f"{path}: none of the HDUs {names}")


def by_targetid(ids, rows_ids, what):
    index = {int(t): i for i, t in enumerate(rows_ids)}
    if len(index) != len(rows_ids) or set(index) != set(int(t) for t in ids):
        raise SystemExit(f"{what}: TARGETIDs differ from REDSHIFTS")
    return np.array([index[int(t)] for t in ids])


def catalog(rules, tile_dir, survey, program, healpix):
    T, fiber_ok, need_tgt, veto = RULES[rules]
    stem = f"{survey}-{program}-{healpix}.fits"
    rr = table(f"{tile_dir}/redrock-{stem}", ["REDSHIFTS"])
    fm = table(f"{tile_dir}/coadd-{stem}", ["FIBERMAP"])
    qn = table(f"{tile_dir}/qso_qn-{stem}", ["QN_RR", "QN+RR"])
    mg = table(f"{tile_dir}/qso_mgii-{stem}", ["MGII"])
    ids = rr["TARGETID"]
    f = fm[by_targetid(ids, fm["TARGETID"], "FIBERMAP")]
    q = qn[by_targetid(ids, qn["TARGETID"], "QN_RR")]
    m = mg[by_targetid(ids, mg["TARGETID"], "MGII")]
    n = len(ids)
    col = target_column(survey)
    tgt = f[col].astype(np.int64) if col and col in f.dtype.names else np.zeros(n, np.int64)
    qso_m, elg_m, bgs_m = masks(survey)
    is_qso = (tgt & np.int64(qso_m)) != 0
    is_elg = (tgt & np.int64(elg_m)) != 0
    is_bgs = (tgt & np.int64(bgs_m)) != 0
    wcol, wmask = wise_var(survey)
    is_wise = (f[wcol].astype(np.int64) & np.int64(wmask)) != 0 if wcol and wcol in f.dtype.names else np.zeros(n, bool)
    spectype = np.char.strip(rr["SPECTYPE"].astype(str)) == "QSO"
    # float32 confidences compared with float32 thresholds, as numpy does with a Python float
    c = np.array([q[name].astype(np.float32) for name in LINES])
    maxc = np.max(c, axis=0)
    qn06 = maxc > np.float32(0.6)
    qnT = maxc > np.float32(T)
    mgii = m["IS_QSO_MGII"].astype(bool)
    new_rr = q["IS_QSO_QN_NEW_RR"].astype(bool)
    z = rr["Z"].astype(np.float64).copy()
    zerr = rr["ZERR"].astype(np.float64).copy()
    z_new = q["Z_NEW"].astype(np.float64)
    zerr_new = q["ZERR_NEW"].astype(np.float64)
    bits = np.zeros(n, np.int32)

    def replace(sel):
        z[sel] = z_new[sel]
        zerr[sel] = zerr_new[sel]

    s5 = is_bgs & ~is_elg & ~is_qso & spectype & (qn06 | mgii)
    bits[s5] += 2**5
    replace(s5 & new_rr)
    s6 = is_elg & ~is_qso & spectype & qn06
    bits[s6] += 2**6
    replace(s6 & new_rr)
    new_rr = new_rr & qnT
    bits[is_qso & spectype] += 2**1
    bits[is_qso & mgii] += 2**2
    bits[is_qso & qnT] += 2**3
    bits[is_qso & new_rr] += 2**4
    replace(is_qso & new_rr)
    s7 = is_wise & (spectype | mgii | qnT)
    bits[s7] += 2**7
    replace(s7 & new_rr)
    status = f["COADD_FIBERSTATUS"].astype(np.int64)
    bad = ~np.isin(status, fiber_ok)
    if need_tgt:
        bad |= np.char.strip(f["OBJTYPE"].astype(str)) != "TGT"
    bits[bad] = 0
    if veto:
        bump = ((z > 3.65) & (z < 3.9)) | ((z > 5.15) & (z < 5.35))
        weak = (c[0] < np.float32(0.95)) | (c[1] < np.float32(0.95))
        bits[bump & weak] = 0
    keep = bits > 0
    return {int(t): (int(b), float(zz), float(ze)) for t, b, zz, ze in zip(ids[keep], bits[keep], z[keep], zerr[keep])}


def same(a, b):
    if np.isnan(a) and np.isnan(b):
        return True
    return struct.pack("<d", a) == struct.pack("<d", b)


def main(argv):
    if len(argv) != 7 or argv[1] not in RULES:
        print(__doc__, file=sys.stderr)
        return 2
    rules, tile_dir, survey, program, healpix, rows_json = argv[1:]
    want = catalog(rules, tile_dir, survey, program, healpix)
    with open(rows_json) as fh:
        got_rows = json.load(fh)
    got = {int(r["TARGETID"]): (int(r["QSO_MASKBITS"]), float(r["Z"]), float(r["ZERR"])) for r in got_rows}
    problems = []
    for t in sorted(set(want) - set(got)):
        problems.append(f"TARGETID {t}: in the catalog (QSO_MASKBITS {want[t][0]}) but not in the tool's rows")
    for t in sorted(set(got) - set(want)):
        problems.append(f"TARGETID {t}: in the tool's rows (QSO_MASKBITS {got[t][0]}) but not in the catalog")
    for t in sorted(set(want) & set(got)):
        (wb, wz, we), (gb, gz, ge) = want[t], got[t]
        if wb != gb or not same(wz, gz) or not same(we, ge):
            problems.append(f"TARGETID {t}: oracle QSO_MASKBITS {wb} Z {wz!r} ZERR {we!r}, tool {gb} {gz!r} {ge!r}")
    bits = {}
    for b, _, _ in want.values():
        for k in range(1, 8):
            if b & (1 << k):
                bits[k] = bits.get(k, 0) + 1
    print(json.dumps({"rows": len(want), "bits": bits, "problems": problems[:20]}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
