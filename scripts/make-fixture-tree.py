#!/usr/bin/python3
"""Write the astropy-made DESI-shaped fixture tree and the converter's expected outputs.

Usage: /usr/bin/python3 scripts/make-fixture-tree.py

Writes test/fixtures/tree/{survey}/{program}/{pixgroup}/{pixnum}/coadd-*.fits and redrock-*.fits (short
wavelength grids of 40/30/35 pixels, RESOLUTION present) with astropy, runs fitsverify on every file
(fails on any error), then reads the files back with astropy (fits.open, never the arrays written) and
writes test/fixtures/expected/<survey>-<program>-<healpix>.json: what the converter must output for the
default selection (SPECTYPE.strip() == 'QSO' and ZWARN == 0), one row per selected REDSHIFTS row, rows
in coadd FIBERMAP order. Deterministic: same script, same bytes.
"""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "test" / "fixtures" / "tree"
EXPECTED = ROOT / "test" / "fixtures" / "expected"
FITSVERIFY = "/usr/bin/fitsverify"

GRIDS = [("B", 3600.0, 40), ("R", 5760.0, 30), ("Z", 7520.0, 35)]
NDIAG = 11

# DR1 main coadd FIBERMAP (desi-format.md), in file order.
FIBERMAP_LAYOUT = """
TARGETID:K COADD_FIBERSTATUS:J TARGET_RA:D TARGET_DEC:D PMRA:E PMDEC:E REF_EPOCH:E FA_TARGET:K FA_TYPE:B
OBJTYPE:3A SUBPRIORITY:D OBSCONDITIONS:J RELEASE:I BRICKNAME:8A BRICKID:J BRICK_OBJID:J MORPHTYPE:4A EBV:E
FLUX_G:E FLUX_R:E FLUX_Z:E FLUX_W1:E FLUX_W2:E FLUX_IVAR_G:E FLUX_IVAR_R:E FLUX_IVAR_Z:E FLUX_IVAR_W1:E
FLUX_IVAR_W2:E FIBERFLUX_G:E FIBERFLUX_R:E FIBERFLUX_Z:E FIBERTOTFLUX_G:E FIBERTOTFLUX_R:E FIBERTOTFLUX_Z:E
MASKBITS:I SERSIC:E SHAPE_R:E SHAPE_E1:E SHAPE_E2:E REF_ID:K REF_CAT:2A GAIA_PHOT_G_MEAN_MAG:E
GAIA_PHOT_BP_MEAN_MAG:E GAIA_PHOT_RP_MEAN_MAG:E PARALLAX:E PHOTSYS:1A PRIORITY_INIT:K NUMOBS_INIT:K
DESI_TARGET:K BGS_TARGET:K MWS_TARGET:K SCND_TARGET:K PLATE_RA:D PLATE_DEC:D COADD_NUMEXP:I
COADD_EXPTIME:E COADD_NUMNIGHT:I COADD_NUMTILE:I MEAN_DELTA_X:E RMS_DELTA_X:E MEAN_DELTA_Y:E RMS_DELTA_Y:E
MEAN_FIBER_RA:D STD_FIBER_RA:E MEAN_FIBER_DEC:D STD_FIBER_DEC:E MEAN_PSF_TO_FIBER_SPECFLUX:E
"""
EXP_FIBERMAP_LAYOUT = """
TARGETID:K PRIORITY:J SUBPRIORITY:D NIGHT:J EXPID:J MJD:D TILEID:J EXPTIME:D PETAL_LOC:I DEVICE_LOC:J
LOCATION:K FIBER:J FIBERSTATUS:J FIBERASSIGN_X:E FIBERASSIGN_Y:E LAMBDA_REF:E PLATE_RA:D PLATE_DEC:D
NUM_ITER:K FIBER_X:D FIBER_Y:D DELTA_X:D DELTA_Y:D FIBER_RA:D FIBER_DEC:D PSF_TO_FIBER_SPECFLUX:D
"""
REDSHIFTS_DR1 = "TARGETID:K Z:D ZERR:D ZWARN:K CHI2:D COEFF:10D NPIXELS:K SPECTYPE:6A SUBTYPE:20A NCOEFF:K DELTACHI2:D"
REDSHIFTS_LATER = "TARGETID:K Z:D ZERR:D ZWARN:J CHI2:D COEFF:10D FITMETHOD:4A NPIXELS:J SPECTYPE:6A SUBTYPE:20A NCOEFF:J DELTACHI2:D"
TSNR2_CLASSES = ["BGS", "ELG", "GPBBACKUP", "GPBBRIGHT", "GPBDARK", "LRG", "LYA", "QSO"]
TSNR2_NAMES = ["TSNR2_%s_%s" % (c, a) for a in "BRZ" for c in TSNR2_CLASSES] + ["TSNR2_%s" % c for c in TSNR2_CLASSES]
SCORES_NAMES = ["%s_%s" % (k, a) for a in "BRZ" for k in ("INTEG_COADD_FLUX", "MEDIAN_COADD_FLUX", "MEDIAN_COADD_SNR")] + TSNR2_NAMES

NUMPY_OF = {"K": np.int64, "J": np.int32, "I": np.int16, "B": np.uint8, "E": np.float32, "D": np.float64}

# Columns the expected output covers.
REDSHIFTS_OUT = ["TARGETID", "Z", "ZERR", "ZWARN", "CHI2", "COEFF", "NPIXELS", "SPECTYPE", "SUBTYPE", "NCOEFF", "DELTACHI2"]
FIBERMAP_OUT = ["TARGET_RA", "TARGET_DEC", "DESI_TARGET", "BGS_TARGET", "MWS_TARGET", "SCND_TARGET", "COADD_FIBERSTATUS",
                "COADD_NUMEXP", "COADD_EXPTIME", "EBV", "FLUX_G", "FLUX_R", "FLUX_Z", "FLUX_W1", "FLUX_W2"]
SPECTRA_OUT = ["%s_%s" % (a, k) for a in "BRZ" for k in ("FLUX", "IVAR", "MASK")]


def parse_layout(text):
    out = []
    for item in text.split():
        name, tform = item.split(":")
        out.append((name, tform))
    return out


def f32_bits(u):
    """A float32 with the given bit pattern (NaN payloads survive: no arithmetic on it)."""
    return np.array([u], dtype=np.uint32).view(np.float32)[0]


# ------------------------------------------------------------------------------------------------
# Tiles. Each target: spectype, zwarn, subtype, deltachi2 (None = drawn), special spectra values.

def T(spectype, zwarn=0, subtype="", deltachi2=None, special=None, small_id=False):
    return {"spectype": spectype, "zwarn": zwarn, "subtype": subtype, "deltachi2": deltachi2, "special": special, "small_id": small_id}


TILES = [
    {
        "survey": "main", "program": "dark", "healpix": 23040, "center": (45.0, 41.8),
        "targets": [
            T("GALAXY"),
            T("QSO", special="basic"),                     # good; NaN, -0.0, denormal, +-inf
            T("STAR", subtype="K"),
            T("QSO", zwarn=4, deltachi2=3.1),               # SMALL_DELTA_CHI2
            T("QSO", deltachi2=14.2, special="negzero"),    # good, but DELTACHI2 < 25
            T("GALAXY", zwarn=4, deltachi2=6.5),
            T("QSO", special="payload"),                    # good; NaN payloads, denormal ivar, +inf
            T("QSO", zwarn=512),                            # NODATA
            T("STAR", subtype="WD"),
            T("QSO", small_id=True),                        # good, TARGETID below 2^53
            T("GALAXY"),
            T("GALAXY", subtype=""),
        ],
        "redshifts_order": [7, 2, 11, 4, 0, 9, 5, 1, 10, 3, 8, 6],
        "catalog_specials": True,
    },
    {
        "survey": "main", "program": "dark", "healpix": 23041, "center": (45.9, 42.3),
        "targets": [T("GALAXY"), T("STAR", subtype="G"), T("QSO", zwarn=4, deltachi2=2.0), T("GALAXY"),
                    T("QSO", zwarn=1024), T("STAR", subtype="M")],
        "redshifts_order": [3, 0, 5, 1, 4, 2],
    },
    {
        "survey": "main", "program": "dark", "healpix": 10304, "center": (150.2, 2.1),
        "targets": [T("GALAXY"), T("QSO", special="basic"), T("QSO", zwarn=4, deltachi2=1.5)],
        "redshifts_order": [2, 1, 0],
        "mask": "uint32", "redshifts": "later",
    },
    {
        "survey": "main", "program": "dark", "healpix": 27247, "center": (218.6, 33.9),
        "targets": [T("QSO"), T("GALAXY"), T("QSO", special="basic"), T("STAR", subtype="F")],
        "redshifts_order": [3, 2, 1, 0],
        "drop_fibermap": ["SCND_TARGET", "FLUX_W2"], "shuffle_hdus": True,
    },
    {
        "survey": "main", "program": "dark", "healpix": 27248, "center": (219.1, 34.4),
        "targets": [T("QSO"), T("GALAXY")],
        "redshifts_order": [1, 0],
        "no_redrock": True,
    },
    {
        "survey": "main", "program": "bright", "healpix": 10000, "center": (181.4, 28.2),
        "targets": [T("GALAXY"), T("QSO"), T("STAR", subtype="G")],
        "redshifts_order": [1, 2, 0],
    },
    {
        "survey": "sv3", "program": "dark", "healpix": 9500, "center": (160.3, 0.9),
        "targets": [T("QSO"), T("QSO", zwarn=4, deltachi2=4.0), T("GALAXY")],
        "redshifts_order": [2, 0, 1],
        "sv3": True,
    },
]


def tile_dir(tile):
    return TREE / tile["survey"] / tile["program"] / str(tile["healpix"] // 100) / str(tile["healpix"])


def stem(tile):
    return "%s-%s-%d" % (tile["survey"], tile["program"], tile["healpix"])


# ------------------------------------------------------------------------------------------------
# Catalog content

def make_targetids(rng, tile):
    ids = []
    brick = int(rng.integers(300000, 600000))
    objid = int(rng.integers(100, 5000))
    for t in tile["targets"]:
        objid += int(rng.integers(1, 300))
        if t["small_id"]:
            ids.append((brick << 22) | objid)
        else:
            release = 9010 if rng.random() < 0.6 else 9011
            ids.append((release << 42) | (brick << 22) | objid)
    return np.array(ids, dtype=np.int64)


def fibermap_columns(rng, tile, targetids, nexp):
    n = len(targetids)
    layout = parse_layout(FIBERMAP_LAYOUT)
    if tile.get("sv3"):
        i = [name for name, _ in layout].index("DESI_TARGET")
        layout[i:i] = [("SV3_DESI_TARGET", "K"), ("SV3_BGS_TARGET", "K"), ("SV3_MWS_TARGET", "K"), ("SV3_SCND_TARGET", "K")]
    ra0, dec0 = tile["center"]
    kinds = [t["spectype"] for t in tile["targets"]]
    values = {}
    for name, tform in layout:
        code = tform[-1]
        if code == "A":
            width = int(tform[:-1])
            values[name] = np.array(["X" * min(width, 1)] * n)
        elif code in ("E", "D"):
            values[name] = rng.normal(1.0, 0.5, n).astype(NUMPY_OF[code])
        else:
            values[name] = rng.integers(0, 100, n).astype(NUMPY_OF[code])
    values["TARGETID"] = targetids
    values["TARGET_RA"] = ra0 + rng.uniform(-0.4, 0.4, n)
    values["TARGET_DEC"] = dec0 + rng.uniform(-0.4, 0.4, n)
    values["PLATE_RA"] = values["TARGET_RA"] + rng.normal(0, 1e-6, n)
    values["PLATE_DEC"] = values["TARGET_DEC"] + rng.normal(0, 1e-6, n)
    values["MEAN_FIBER_RA"] = values["TARGET_RA"] + rng.normal(0, 2e-5, n)
    values["MEAN_FIBER_DEC"] = values["TARGET_DEC"] + rng.normal(0, 2e-5, n)
    values["OBJTYPE"] = np.array(["TGT"] * n)
    values["BRICKNAME"] = np.array(["%04dp%03d" % (int(ra0 * 10), int(abs(dec0) * 10))] * n)
    values["MORPHTYPE"] = np.array(["PSF" if k != "GALAXY" else "REX" for k in kinds])
    values["REF_CAT"] = np.array(["G2" if k == "STAR" else "" for k in kinds])
    values["PHOTSYS"] = np.array(["S" if i % 3 else "N" for i in range(n)])
    values["RELEASE"] = np.array([0 if t["small_id"] else 9010 for t in tile["targets"]], dtype=np.int16)
    values["REF_ID"] = np.array([(1 << 60) + 12345 * i + 7 if k == "STAR" else -1 for i, k in enumerate(kinds)], dtype=np.int64)
    desi = []
    for k in kinds:
        if k == "QSO":
            desi.append(4)
        elif k == "STAR":
            desi.append(1 << 61)
        else:
            desi.append((1 << 60) if tile["program"] == "bright" else 1 | (1 << 62))
    values["DESI_TARGET"] = np.array(desi, dtype=np.int64)
    values["FA_TARGET"] = values["DESI_TARGET"].copy()
    values["BGS_TARGET"] = np.array([2 if (k == "GALAXY" and tile["program"] == "bright") else 0 for k in kinds], dtype=np.int64)
    values["MWS_TARGET"] = np.array([(1 << 33) | 1 if k == "STAR" else 0 for k in kinds], dtype=np.int64)
    values["SCND_TARGET"] = np.array([(1 << 40) if (k == "GALAXY" and tile["program"] != "bright") else 0 for k in kinds], dtype=np.int64)
    if tile.get("sv3"):
        values["SV3_DESI_TARGET"] = values["DESI_TARGET"].copy()
    values["COADD_FIBERSTATUS"] = np.array([0, 1 << 23, 0, 4, 0, 1 << 24, 0, 0, 0, 0, 0, 0][:n] + [0] * max(0, n - 12), dtype=np.int32)
    values["COADD_NUMEXP"] = nexp.astype(np.int16)
    values["COADD_EXPTIME"] = (nexp * rng.uniform(800, 1100, n)).astype(np.float32)
    values["EBV"] = rng.uniform(0.005, 0.12, n).astype(np.float32)
    for k, band in enumerate(["G", "R", "Z", "W1", "W2"]):
        values["FLUX_" + band] = rng.uniform(0.5, 40, n).astype(np.float32) * (1 + 0.2 * k)
    if tile.get("catalog_specials"):
        values["FLUX_G"][1] = np.float32(-0.0)
        values["FLUX_W1"][6] = np.float32(np.nan)
        values["EBV"][9] = np.float32(1e-42)  # a float32 denormal
    for name in tile.get("drop_fibermap", []):
        layout = [(nm, tf) for nm, tf in layout if nm != name]
    return fits.ColDefs([fits.Column(name=nm, format=tf, array=values[nm]) for nm, tf in layout])


def exp_fibermap_columns(rng, targetids, nexp):
    rows = []
    for e in range(int(nexp.max())):
        rows.extend((i, e) for i in range(len(targetids)) if nexp[i] > e)
    idx = np.array([r[0] for r in rows])
    ex = np.array([r[1] for r in rows])
    n = len(rows)
    cols = []
    for name, tform in parse_layout(EXP_FIBERMAP_LAYOUT):
        code = tform[-1]
        if name == "TARGETID":
            arr = targetids[idx]
        elif name == "NIGHT":
            arr = (20210514 + ex).astype(np.int32)
        elif name == "EXPID":
            arr = (90000 + 7 * ex).astype(np.int32)
        elif name == "MJD":
            arr = 59348.1 + 1.05 * ex
        elif code in ("E", "D"):
            arr = rng.normal(0, 1, n).astype(NUMPY_OF[code])
        else:
            arr = rng.integers(0, 5000, n).astype(NUMPY_OF[code])
        cols.append(fits.Column(name=name, format=tform, array=arr))
    return fits.ColDefs(cols)


def redshifts_columns(rng, tile, targetids, later):
    order = tile["redshifts_order"]
    n = len(order)
    assert sorted(order) == list(range(n)) and order != list(range(n))
    z, zerr, zwarn, chi2, coeff, npix, spectype, subtype, ncoeff, dchi2 = [], [], [], [], [], [], [], [], [], []
    for i in order:
        t = tile["targets"][i]
        kind = t["spectype"]
        z.append(rng.uniform(0.5, 4.0) if kind == "QSO" else rng.uniform(0.02, 1.5) if kind == "GALAXY" else rng.normal(0, 3e-4))
        zerr.append(rng.uniform(1e-5, 1e-3))
        zwarn.append(t["zwarn"])
        chi2.append(rng.uniform(90, 130))
        nc = 10 if kind == "GALAXY" else 5 if kind == "STAR" else 4
        c = np.zeros(10)
        c[:nc] = rng.normal(0, 100, nc)
        coeff.append(c)
        npix.append(105 - int(rng.integers(0, 4)))
        spectype.append(kind)
        subtype.append(t["subtype"])
        ncoeff.append(nc)
        dchi2.append(t["deltachi2"] if t["deltachi2"] is not None else float(np.exp(rng.uniform(3.5, 8))))
    ints = np.int32 if later else np.int64
    cols = [
        fits.Column(name="TARGETID", format="K", array=targetids[order]),
        fits.Column(name="Z", format="D", array=np.array(z)),
        fits.Column(name="ZERR", format="D", array=np.array(zerr)),
        fits.Column(name="ZWARN", format="J" if later else "K", array=np.array(zwarn, dtype=ints)),
        fits.Column(name="CHI2", format="D", array=np.array(chi2)),
        fits.Column(name="COEFF", format="10D", dim="(10)", array=np.array(coeff)),
    ]
    if later:
        cols.append(fits.Column(name="FITMETHOD", format="4A", array=np.array(["PCA"] * n)))
    cols += [
        fits.Column(name="NPIXELS", format="J" if later else "K", array=np.array(npix, dtype=ints)),
        fits.Column(name="SPECTYPE", format="6A", array=np.array(spectype)),
        fits.Column(name="SUBTYPE", format="20A", array=np.array(subtype)),
        fits.Column(name="NCOEFF", format="J" if later else "K", array=np.array(ncoeff, dtype=ints)),
        fits.Column(name="DELTACHI2", format="D", array=np.array(dchi2)),
    ]
    return fits.ColDefs(cols)


def float_columns(rng, targetids, names):
    cols = [fits.Column(name="TARGETID", format="K", array=targetids)]
    cols += [fits.Column(name=nm, format="E", array=np.exp(rng.uniform(-2, 6, len(targetids))).astype(np.float32)) for nm in names]
    return fits.ColDefs(cols)


# ------------------------------------------------------------------------------------------------
# Spectra

def spectra_arrays(rng, tile, arm, nwave):
    n = len(tile["targets"])
    flux = rng.normal(1.0, 0.3, (n, nwave)).astype(np.float32)
    ivar = rng.uniform(5, 50, (n, nwave)).astype(np.float32)
    mask = np.zeros((n, nwave), dtype=np.uint32)
    bad = rng.random((n, nwave)) < 0.05
    bad[:, :2] = True
    bits = np.array([1, 2, 4, 16, 1 << 10, 1 << 16, 1 << 22, 0x80000000, 0x80000001, 0xFFFFFFFF], dtype=np.uint32)
    mask[bad] = bits[rng.integers(0, len(bits), int(bad.sum()))]
    ivar[bad] = 0
    for i, t in enumerate(tile["targets"]):
        s = t["special"]
        if s == "basic":
            flux[i, 3] = np.nan
            flux[i, 4] = -0.0
            flux[i, 5] = 1e-40
            flux[i, 6] = np.inf
            flux[i, 7] = -np.inf
            ivar[i, 8] = -0.0
            ivar[i, 9] = np.nan
            mask[i, 10] = 0x80000000
        elif s == "negzero":
            flux[i, 5] = -0.0
            ivar[i, 6] = 0.0
        elif s == "payload":
            flux[i, 3] = f32_bits(0x7FC12345)  # quiet NaN with a payload
            flux[i, 4] = f32_bits(0xFFC00000)  # negative NaN
            flux[i, 5] = f32_bits(0x00000001)  # smallest denormal
            ivar[i, 6] = f32_bits(0x80000001)  # negative denormal
            ivar[i, 7] = np.inf
            mask[i, 8] = 0xFFFFFFFF
    return flux, ivar, mask


def resolution(nwave, n):
    d = np.arange(NDIAG) - NDIAG // 2
    width = 1.0 + 0.5 * np.arange(nwave) / nwave
    r = np.exp(-0.5 * (d[:, None] / width[None, :]) ** 2)
    r /= r.sum(axis=0)
    return np.broadcast_to(r.astype(np.float32), (n, NDIAG, nwave)).copy()


# ------------------------------------------------------------------------------------------------
# Files

def primary_hdu(tile, redrock):
    h = fits.Header()
    h["LONGSTRN"] = "OGIP 1.0"
    if redrock:
        h["RRVER"] = ("0.17.6", "Redrock version")
        h["TEMNAM00"] = "GALAXY"
        h["TEMVER00"] = "2.6"
        h["TEMNAM01"] = "QSO"
        h["TEMVER01"] = "1.0"
    for key, value in [("SPGRP", "healpix"), ("SPGRPVAL", tile["healpix"]), ("HPXPIXEL", tile["healpix"]),
                       ("HPXNSIDE", 64), ("HPXNEST", True), ("SURVEY", tile["survey"]), ("PROGRAM", tile["program"]),
                       ("SPECPROD", "fuji" if tile.get("mask") == "uint32" else "iron")]:
        h[key] = value
    deps = [("python", "3.10.8"), ("numpy", "1.22.4"), ("astropy", "5.0"), ("desispec", "0.59.2"),
            ("DESIMODEL", "/global/common/software/desi/perlmutter/desiconda/20220119-2.0.1/code/desimodel/0.17.0")]
    if redrock:
        deps.insert(4, ("redrock", "0.17.6"))
    for i, (name, ver) in enumerate(deps):
        h["DEPNAM%02d" % i] = name
        h["DEPVER%02d" % i] = ver
    return fits.PrimaryHDU(header=h)


def image_hdu(name, data, bunit=None):
    hdu = fits.ImageHDU(data=data, name=name)
    if bunit:
        hdu.header["BUNIT"] = bunit
    return hdu


def write_tile(tile):
    seed = tile["healpix"] * 7919 + len(tile["survey"]) * 31 + len(tile["program"])
    rng = np.random.default_rng(seed)
    n = len(tile["targets"])
    targetids = make_targetids(rng, tile)
    assert len(set(targetids.tolist())) == n
    nexp = rng.integers(1, 4, n)
    fibermap = fibermap_columns(rng, tile, targetids, nexp)
    exp_fibermap = exp_fibermap_columns(rng, targetids, nexp)

    coadd = [("FIBERMAP", fits.BinTableHDU.from_columns(fibermap, name="FIBERMAP")),
             ("EXP_FIBERMAP", fits.BinTableHDU.from_columns(exp_fibermap, name="EXP_FIBERMAP"))]
    for arm, start, nwave in GRIDS:
        wave = start + 0.8 * np.arange(nwave)
        flux, ivar, mask = spectra_arrays(rng, tile, arm, nwave)
        mask_data = mask if tile.get("mask") == "uint32" else mask.view(np.int32)
        coadd += [
            (arm + "_WAVELENGTH", image_hdu(arm + "_WAVELENGTH", wave, "Angstrom")),
            (arm + "_FLUX", image_hdu(arm + "_FLUX", flux, "10**-17 erg/(s cm2 Angstrom)")),
            (arm + "_IVAR", image_hdu(arm + "_IVAR", ivar, "10**+34 (s2 cm4 Angstrom2) / erg2")),
            (arm + "_MASK", image_hdu(arm + "_MASK", mask_data)),
            (arm + "_RESOLUTION", image_hdu(arm + "_RESOLUTION", resolution(nwave, n))),
        ]
    coadd.append(("SCORES", fits.BinTableHDU.from_columns(float_columns(rng, targetids, SCORES_NAMES), name="SCORES")))
    if tile.get("shuffle_hdus"):
        extra_table = fits.BinTableHDU.from_columns(
            [fits.Column(name="TARGETID", format="K", array=np.array([1, 2, 3], dtype=np.int64)),
             fits.Column(name="NOTE", format="8A", array=np.array(["extra", "hdu", "ignore"]))], name="EXTRA_NOTES")
        coadd += [("EXTRA_NOTES", extra_table), ("B_SKY", image_hdu("B_SKY", np.ones((n, GRIDS[0][2]), dtype=np.float32)))]
        order = ["SCORES", "B_SKY", "Z_MASK", "Z_FLUX", "R_RESOLUTION", "B_WAVELENGTH", "EXTRA_NOTES", "R_IVAR",
                 "B_FLUX", "FIBERMAP", "Z_WAVELENGTH", "B_MASK", "R_FLUX", "Z_RESOLUTION", "B_IVAR", "EXP_FIBERMAP",
                 "R_WAVELENGTH", "Z_IVAR", "R_MASK", "B_RESOLUTION"]
        by_name = dict(coadd)
        assert sorted(order) == sorted(by_name)
        coadd = [(name, by_name[name]) for name in order]

    d = tile_dir(tile)
    d.mkdir(parents=True, exist_ok=True)
    files = []
    path = d / ("coadd-%s.fits" % stem(tile))
    fits.HDUList([primary_hdu(tile, False)] + [h for _, h in coadd]).writeto(path)
    files.append(path)

    if not tile.get("no_redrock"):
        redrock = [
            ("REDSHIFTS", fits.BinTableHDU.from_columns(redshifts_columns(rng, tile, targetids, tile.get("redshifts") == "later"), name="REDSHIFTS")),
            ("FIBERMAP", fits.BinTableHDU.from_columns(fibermap, name="FIBERMAP")),
            ("EXP_FIBERMAP", fits.BinTableHDU.from_columns(exp_fibermap, name="EXP_FIBERMAP")),
            ("TSNR2", fits.BinTableHDU.from_columns(float_columns(rng, targetids, TSNR2_NAMES), name="TSNR2")),
        ]
        if tile.get("shuffle_hdus"):
            by_name = dict(redrock)
            redrock = [(name, by_name[name]) for name in ["TSNR2", "FIBERMAP", "REDSHIFTS", "EXP_FIBERMAP"]]
        path = d / ("redrock-%s.fits" % stem(tile))
        fits.HDUList([primary_hdu(tile, True)] + [h for _, h in redrock]).writeto(path)
        files.append(path)
    return files


def fitsverify(path):
    proc = subprocess.run([FITSVERIFY, "-q", str(path)], capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "verification OK" not in text:
        raise SystemExit("fitsverify failed on %s:\n%s" % (path, text))
    return text


# ------------------------------------------------------------------------------------------------
# Expected output, read back with astropy

def le_bytes(a):
    """The little-endian bytes of a numpy array or scalar, by byte swapping only (NaN payloads kept)."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a.tobytes()


def dtype_name(a):
    return "str" if a.dtype.kind in "SU" else a.dtype.newbyteorder("=").name


def column_json(values):
    """JSON for a column of selected rows: decimal strings, float hex, stripped strings, or per-row sha256."""
    values = np.asarray(values)
    name = dtype_name(values)
    if name == "str":
        return {"dtype": "str", "values": [str(v) for v in values]}
    if values.ndim > 1:
        return {"dtype": name, "sha256": [hashlib.sha256(le_bytes(row)).hexdigest() for row in values]}
    if values.dtype.kind in "iu":
        return {"dtype": name, "values": [str(int(v)) for v in values]}
    if values.dtype.kind == "f":
        return {"dtype": name, "hex": [le_bytes(v).hex() for v in values]}
    raise SystemExit("unexpected dtype %s" % values.dtype)


def find_hdu(hdul, name):
    matches = [h for h in hdul if h.name == name]
    if len(matches) != 1:
        raise SystemExit("%s: %d HDUs named %s" % (hdul.filename(), len(matches), name))
    return matches[0]


def expected_for(tile):
    d = tile_dir(tile)
    coadd_path = d / ("coadd-%s.fits" % stem(tile))
    redrock_path = d / ("redrock-%s.fits" % stem(tile))
    out = {"survey": tile["survey"], "program": tile["program"], "healpix": tile["healpix"]}
    if not redrock_path.exists():
        out.update({"status": "missing-source", "missing": [redrock_path.name], "rows": 0, "columns": None, "wavelength": None})
        return out
    with fits.open(coadd_path) as coadd, fits.open(redrock_path) as redrock:
        zcat = find_hdu(redrock, "REDSHIFTS").data
        fibermap = find_hdu(coadd, "FIBERMAP").data
        spectype = np.char.strip(np.asarray(zcat["SPECTYPE"]).astype(str))
        selected = np.nonzero((spectype == "QSO") & (np.asarray(zcat["ZWARN"]) == 0))[0]
        row_of = {int(t): i for i, t in enumerate(fibermap["TARGETID"])}
        fm_rows = np.array([row_of[int(zcat["TARGETID"][r])] for r in selected], dtype=int)
        order = np.argsort(fm_rows, kind="stable")
        selected, fm_rows = selected[order], fm_rows[order]
        columns = {}
        zcols = set(zcat.columns.names)
        for name in REDSHIFTS_OUT:
            columns[name] = column_json(zcat[name][selected]) if name in zcols else None
        fcols = set(fibermap.columns.names)
        for name in FIBERMAP_OUT:
            columns[name] = column_json(fibermap[name][fm_rows]) if name in fcols else None
        for name in SPECTRA_OUT:
            columns[name] = column_json(find_hdu(coadd, name).data[fm_rows])
        wavelength = {}
        for arm, _, _ in GRIDS:
            w = find_hdu(coadd, arm + "_WAVELENGTH").data
            wavelength[arm] = {"dtype": dtype_name(w), "length": int(len(w)), "sha256": hashlib.sha256(le_bytes(w)).hexdigest()}
    out.update({"status": "ok" if len(selected) else "empty", "rows": int(len(selected)), "columns": columns, "wavelength": wavelength})
    return out


README = """# Expected converter outputs for test/fixtures/tree (default selection: SPECTYPE.strip() == 'QSO' and ZWARN == 0)
Generated, with the tree, by `/usr/bin/python3 scripts/make-fixture-tree.py` (astropy + numpy, seeded, fitsverify-checked); do not edit by hand.
Values are what astropy's fits.open reads back: ints as decimal strings, float scalars as little-endian hex, arrays as per-row sha256 of little-endian bytes.
Rows follow the coadd FIBERMAP order; a column absent from the file is null; status is ok, empty or missing-source.
23040's spectra hold NaN (one with a payload, one negative), -0.0, denormals and +-inf; 10304's MASK is uint32 via BZERO (EDR style).
"""


def main():
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for old in EXPECTED.glob("*.json"):
        old.unlink()
    written = []
    for tile in TILES:
        written += write_tile(tile)
    for path in written:
        fitsverify(path)
    for tile in TILES:
        exp = expected_for(tile)
        (EXPECTED / ("%s.json" % stem(tile))).write_text(json.dumps(exp, indent=1) + "\n")
    (EXPECTED / "README.md").write_text(README)
    total = sum(p.stat().st_size for p in written)
    print("wrote %d FITS files (%d bytes) under %s and %d expected outputs" % (len(written), total, TREE.relative_to(ROOT), len(TILES)))
    if total >= 3 * 1024 * 1024:
        raise SystemExit("fixture tree is %d bytes, over the 3 MB budget" % total)


if __name__ == "__main__":
    main()
