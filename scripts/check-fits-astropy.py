#!/usr/bin/python3
"""Open FITS files with astropy, check that every HDU's header and data read, print a JSON summary.

Usage: /usr/bin/python3 scripts/check-fits-astropy.py [--values] [--row-digests] FILE...

For each file: fits.open(...).verify('exception'), then every HDU's .data is read in full; any astropy
warning (e.g. "File may have been truncated") is an error, and the HDUs must end exactly at the end of the
file. The summary
(stdout, one JSON object keyed by path) gives each HDU's EXTNAME, kind, BITPIX, shape (numpy order,
slowest axis first), BZERO and numpy dtype for images, and columns (name, TFORM, TDIM, TZERO, numpy dtype)
and row count for tables. For a REDSHIFTS table it also counts rows with SPECTYPE.strip() == 'QSO' and
ZWARN == 0 ("good_qso"). Exits 1 if any file fails (the error is in the summary and on stderr).

With --values, every one-value-per-row column of the REDSHIFTS, FIBERMAP, TSNR2 and SCORES tables, and every
column of the afterburner tables (QN_RR, MGII, EMLINEFIT), also has "values", what astropy reads: integers
(and unsigned ones, TZERO applied) and logicals (1/0) as decimal strings, floats as the hex of their
little-endian bytes in astropy's dtype (NaN payloads kept), strings as astropy's str (trailing blanks
stripped); a vector column's row is its values' hex, concatenated.

With --row-digests, every image HDU of two or more axes (FLUX, IVAR, MASK, RESOLUTION ...) also has
"row_sha256": for each row i along the slowest axis, the SHA-256 of the little-endian bytes of
`hdu.data[i].ravel()` in astropy's dtype (a byte swap of what astropy reads: every bit kept, NaN payloads too).
A (nspec, 11, nwave) RESOLUTION image thus gives one digest per spectrum, over its 11 x nwave values.

With --values, every two-dimensional image HDU (a coadd's *_FLUX, *_IVAR, *_MASK) has the same
"row_sha256" (BZERO applied, so an unsigned mask hashes as uint32).
"""
import hashlib
import json
import os
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning


def card_value(header, key):
    value = header.get(key)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


VALUE_TABLES = ("REDSHIFTS", "FIBERMAP", "TSNR2", "SCORES")
# The afterburners' tables (qso_qn, qso_mgii, emline): also their vector columns (COEFFS), a row per value.
AFTERBURNER_TABLES = ("QN_RR", "QN+RR", "MGII", "EMLINEFIT")
WITH_VALUES = False
WITH_ROW_DIGESTS = False


def row_digests(data):
    """SHA-256 (hex) of each row's little-endian bytes, row i being data[i].ravel() in astropy's dtype."""
    little = data.astype(data.dtype.newbyteorder("<"), copy=True)  # a byte swap: every bit kept
    return [hashlib.sha256(np.ascontiguousarray(little[i]).tobytes()).hexdigest() for i in range(little.shape[0])]


def column_values(values):
    """A column's values as JSON: decimal strings, little-endian float hex, or str."""
    kind = values.dtype.kind
    if kind in "iub":
        return [str(int(v)) for v in values]
    if kind == "f":
        little = values.astype(values.dtype.newbyteorder("<"), copy=True)  # a byte swap: every bit kept
        width = little.dtype.itemsize
        raw = little.tobytes()
        return [raw[i * width:(i + 1) * width].hex() for i in range(len(little))]
    if kind in "SU":
        return [v.decode("ascii") if isinstance(v, bytes) else str(v) for v in values]
    raise ValueError("no value dump for dtype %s" % values.dtype)


def summarize_hdu(index, hdu):
    header = hdu.header
    out = {
        "index": index,
        "name": hdu.name,
        "kind": type(hdu).__name__,
        "bitpix": header.get("BITPIX"),
        "naxis": [header.get("NAXIS%d" % (i + 1)) for i in range(header.get("NAXIS", 0))],
    }
    data = hdu.data  # reads (and for images scales) the whole data unit
    if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
        out["rows"] = 0 if data is None else len(data)
        out["row_bytes"] = header.get("NAXIS1")
        columns = []
        for c in hdu.columns:
            col = {"name": c.name, "format": str(c.format)}
            if c.dim is not None:
                col["tdim"] = str(c.dim)
            if c.bzero not in (None, ""):
                col["tzero"] = int(c.bzero) if float(c.bzero).is_integer() else float(c.bzero)
            if data is not None:
                values = data[c.name]
                col["dtype"] = values.dtype.name if values.dtype.kind not in "SU" else "str"
                if WITH_VALUES and hdu.name in VALUE_TABLES + AFTERBURNER_TABLES and values.ndim == 1:
                    col["values"] = column_values(values)
                elif WITH_VALUES and hdu.name in AFTERBURNER_TABLES and values.ndim == 2:
                    col["values"] = ["".join(column_values(row)) for row in values]
            columns.append(col)
        out["columns"] = columns
        if data is not None and hdu.name == "REDSHIFTS":
            names = [c.name for c in hdu.columns]
            if "SPECTYPE" in names and "ZWARN" in names:
                spectype = np.char.strip(np.asarray(data["SPECTYPE"]).astype(str))
                good = (spectype == "QSO") & (np.asarray(data["ZWARN"]) == 0)
                out["good_qso"] = int(good.sum())
                out["qso_any_zwarn"] = int((spectype == "QSO").sum())
            out["targetid_unique"] = bool(len(np.unique(data["TARGETID"])) == len(data))
    else:
        out["shape"] = [] if data is None else list(data.shape)
        out["dtype"] = None if data is None else data.dtype.name
        if data is not None and ((WITH_ROW_DIGESTS and data.ndim >= 2) or (WITH_VALUES and data.ndim == 2)):
            out["row_sha256"] = row_digests(data)
        if "BZERO" in header:
            out["bzero"] = card_value(header, "BZERO")
    return out


def summarize_file(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyWarning)  # astropy's tolerance of damaged files is a failure here
        with fits.open(path, memmap=False) as hdul:
            hdul.verify("exception")
            hdus = [summarize_hdu(i, hdu) for i, hdu in enumerate(hdul)]
            last = hdul.fileinfo(len(hdul) - 1)
            end = last["datLoc"] + last["datSpan"]
            size = os.path.getsize(path)
            if end != size:
                raise ValueError("HDUs end at byte %d but the file has %d bytes" % (end, size))
            primary = hdul[0].header
            keys = {k: card_value(primary, k) for k in ("SPGRP", "SPGRPVAL", "TILEID", "PETAL", "HPXPIXEL", "HPXNSIDE", "HPXNEST", "SURVEY", "PROGRAM", "SPECPROD", "RRVER", "LONGSTRN") if k in primary}
    return {"ok": True, "primary": keys, "hdus": hdus}


def main(paths):
    global WITH_VALUES, WITH_ROW_DIGESTS
    while paths and paths[0] in ("--values", "--row-digests"):
        if paths[0] == "--values":
            WITH_VALUES = True
        else:
            WITH_ROW_DIGESTS = True
        paths = paths[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    summary = {}
    failed = False
    for path in paths:
        try:
            summary[path] = summarize_file(path)
        except Exception as exc:  # report every file, then fail
            failed = True
            summary[path] = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
            print("%s: %s: %s" % (path, type(exc).__name__, exc), file=sys.stderr)
    json.dump(summary, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
