#!/usr/bin/python3
"""Write the hostile-FITS corpus: one broken (coadd, redrock) tile per case, and the index of what to expect.

Usage: /usr/bin/python3 scripts/make-hostile-fits.py

Reads the astropy-written fixture tile test/fixtures/tree/main/dark/272/27247 and writes, under test/hostile/:
- base/coadd-main-dark-base.fits.gz, base/redrock-main-dark-base.fits.gz: a slim, valid tile pair made from
  the fixture (FIBERMAP cut to the columns the converter reads, no RESOLUTION/EXP_FIBERMAP/SCORES, no
  HPXPIXEL so the same coadd can partner every tile); checked with fitsverify and astropy;
- tree/main/dark/{pixgroup}/{pixnum}/{coadd|redrock}-main-dark-{pixnum}.fits.gz: the one broken file of
  each case's tile (the other file of the tile is the base partner; test/hostile/corpus.ts writes the
  runnable tree);
- index.json: one entry per case (tile, which file is broken, what was done, the outcomes that are right,
  and what the error message must name).
Files are gzip-compressed (mtime 0) because ~160 tiles as raw FITS take ~13 MB: FITS headers are mostly
spaces. fitsverify and astropy read .fits.gz as they are. Deterministic: same fixture, same bytes.

The byte-level work (splitting HDUs, editing cards, cutting) is plain Python here, independent of the
TypeScript reader under test; astropy only writes the tables the cases need (a slim FIBERMAP, a REDSHIFTS
with a variable-length COEFF column, a zero-row REDSHIFTS).
"""
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "test" / "fixtures" / "tree" / "main" / "dark" / "272" / "27247"
OUT = ROOT / "test" / "hostile"
FITSVERIFY = "/usr/bin/fitsverify"
BLOCK = 2880
CARD = 80
SURVEY, PROGRAM = "main", "dark"
FIRST_PIXEL = 1000

FIBERMAP_KEEP = ["TARGETID", "COADD_FIBERSTATUS", "TARGET_RA", "TARGET_DEC", "EBV", "FLUX_G", "FLUX_R", "FLUX_Z",
                 "FLUX_W1", "FLUX_W2", "DESI_TARGET", "BGS_TARGET", "MWS_TARGET", "SCND_TARGET", "COADD_NUMEXP",
                 "COADD_EXPTIME"]
ARMS = ["B", "R", "Z"]
KINDS = ["WAVELENGTH", "FLUX", "IVAR", "MASK"]
COADD_NEEDED = ["FIBERMAP"] + ["%s_%s" % (a, k) for a in ARMS for k in KINDS]


# ------------------------------------------------------------------------------------------------
# A FITS file as a list of HDUs: header cards (80-character strings, END excluded) and data bytes.

class Hdu:
    def __init__(self, cards, data):
        self.cards = list(cards)
        self.data = bytes(data)

    def copy(self):
        return Hdu(self.cards, self.data)

    @property
    def name(self):
        for c in self.cards:
            if c.startswith("EXTNAME ="):
                return c[10:].split("/")[0].strip().strip("'").strip()
        return ""

    def index_of(self, key):
        for i, c in enumerate(self.cards):
            if c[:8].rstrip() == key and c[8:10] == "= ":
                return i
        raise KeyError(key)

    def value(self, key):
        return self.cards[self.index_of(key)][10:].split("/")[0].strip()

    def int(self, key):
        return int(self.value(key))

    def set(self, key, text):
        """Replaces the value field of `key` with `text` (as written; right-justified like a number)."""
        self.cards[self.index_of(key)] = card(key, text)

    def insert_before_end(self, image):
        self.cards.append(image.ljust(CARD)[:CARD])

    def header_bytes(self):
        raw = "".join(self.cards) + "END".ljust(CARD)
        raw += " " * ((-len(raw)) % BLOCK)
        return raw.encode("latin-1")

    def data_bytes(self):
        return self.data + b"\0" * ((-len(self.data)) % BLOCK)


def card(key, text):
    return ("%-8s= %20s" % (key, text)).ljust(CARD)[:CARD]


def data_length(cards, index):
    """|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1*...*NAXISn), as the FITS standard says."""
    h = Hdu(cards, b"")
    naxis = h.int("NAXIS")
    if naxis == 0:
        return 0
    n = 1
    for i in range(1, naxis + 1):
        n *= h.int("NAXIS%d" % i)
    pcount = h.int("PCOUNT") if index > 0 else 0
    gcount = h.int("GCOUNT") if index > 0 else 1
    return abs(h.int("BITPIX")) // 8 * gcount * (pcount + n)


def split(buf):
    """The HDUs of a well-formed file (data unpadded)."""
    hdus = []
    pos = 0
    while pos < len(buf):
        cards = []
        while True:
            image = buf[pos:pos + CARD].decode("latin-1")
            pos += CARD
            if image.rstrip() == "END":
                break
            cards.append(image)
        pos = (pos + BLOCK - 1) // BLOCK * BLOCK
        n = data_length(cards, len(hdus))
        hdus.append(Hdu(cards, buf[pos:pos + n]))
        pos += (n + BLOCK - 1) // BLOCK * BLOCK
    return hdus


def assemble(hdus):
    return b"".join(h.header_bytes() + h.data_bytes() for h in hdus)


def layout(hdus):
    """(name, headerStart, dataStart, dataLength, end, extnameEnd) per HDU of assemble(hdus)."""
    out = []
    pos = 0
    for i, h in enumerate(hdus):
        hb = h.header_bytes()
        ext_end = None
        for k, c in enumerate(h.cards):
            if c.startswith("EXTNAME ="):
                ext_end = pos + (k + 1) * CARD
        data_start = pos + len(hb)
        end = data_start + len(h.data_bytes())
        out.append({"index": i, "name": h.name or ("PRIMARY" if i == 0 else ""), "headerStart": pos,
                    "dataStart": data_start, "dataLength": len(h.data), "end": end, "extnameEnd": ext_end})
        pos = end
    return out


def find(hdus, name):
    return next(i for i, h in enumerate(hdus) if h.name == name)


def astropy_hdu(hdu):
    """The Hdu of an astropy HDU object as astropy writes it."""
    b = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(b)
    return split(b.getvalue())[1]


def tform_offsets(h):
    """Byte offset of each column in a row, from TFORMn (for the formats of these tables)."""
    width = {"L": 1, "X": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16, "P": 8, "Q": 16}
    offsets = {}
    pos = 0
    for n in range(1, h.int("TFIELDS") + 1):
        tform = h.value("TFORM%d" % n).strip("'").strip()
        i = 0
        while i < len(tform) and tform[i].isdigit():
            i += 1
        repeat = int(tform[:i]) if i else 1
        code = tform[i]
        name = h.value("TTYPE%d" % n).strip("'").strip()
        offsets[name] = pos
        pos += (repeat + 7) // 8 if code == "X" else repeat * width[code]
    return offsets


# ------------------------------------------------------------------------------------------------
# The base tile.

def base_tile():
    with open(FIXTURE / "coadd-main-dark-27247.fits", "rb") as f:
        coadd_src = split(f.read())
    with open(FIXTURE / "redrock-main-dark-27247.fits", "rb") as f:
        rr_src = split(f.read())
    with fits.open(FIXTURE / "coadd-main-dark-27247.fits") as hl:
        fm = hl["FIBERMAP"]
        slim = fits.BinTableHDU.from_columns([c for c in fm.columns if c.name in FIBERMAP_KEEP], name="FIBERMAP")
        slim_fm = astropy_hdu(slim)
    primary = coadd_src[0].copy()
    primary.cards = [c for c in primary.cards if c[:8].rstrip() not in ("HPXPIXEL", "SPGRPVAL")]
    coadd = [primary, slim_fm] + [coadd_src[find(coadd_src, "%s_%s" % (a, k))].copy() for a in ARMS for k in KINDS]
    rr_primary = rr_src[0].copy()
    rr_primary.cards = [c for c in rr_primary.cards if c[:8].rstrip() not in ("HPXPIXEL", "SPGRPVAL")]
    redrock = [rr_primary, rr_src[find(rr_src, "REDSHIFTS")].copy(), slim_fm.copy()]
    return coadd, redrock


def selected_targetids(redrock):
    rs = redrock[find(redrock, "REDSHIFTS")]
    with fits.open(io.BytesIO(assemble([redrock[0], rs]))) as hl:
        d = hl["REDSHIFTS"].data
        keep = (np.char.strip(d["SPECTYPE"]) == "QSO") & (d["ZWARN"] == 0)
        return [int(t) for t in d["TARGETID"][keep]]


# ------------------------------------------------------------------------------------------------
# Cases.

class Corpus:
    def __init__(self, coadd, redrock):
        self.coadd = coadd
        self.redrock = redrock
        self.entries = []
        self.files = {}

    def add(self, cid, role, case, expect, data, hdu=None, msg_file=None, note=None):
        """One tile whose `role` file is `data`; `expect` the right outcomes; `hdu` names the message must hold."""
        pixel = FIRST_PIXEL + len(self.entries)
        tile = "%s/%s/%d" % (SURVEY, PROGRAM, pixel)
        name = "%s-%s-%s-%d.fits" % (role, SURVEY, PROGRAM, pixel)
        rel = "tree/%s/%s/%d/%d/%s.gz" % (SURVEY, PROGRAM, pixel // 100, pixel, name)
        e = {"id": cid, "tile": tile, "file": role, "case": case, "expect": expect}
        if not (expect == ["ok"] or expect == ["empty"]):
            e["message"] = {"file": msg_file or role, "hdu": hdu}
        if note:
            e["note"] = note
        e["path"] = rel
        e["bytes"] = len(data)
        e["sha256"] = hashlib.sha256(data).hexdigest()
        self.entries.append(e)
        self.files[rel] = data

    def edited(self, role, fn):
        hdus = [h.copy() for h in (self.coadd if role == "coadd" else self.redrock)]
        fn(hdus)
        return assemble(hdus)


def truncation_cases(corpus, role, hdus):
    """Cuts at and between every HDU boundary: header start, mid-header, data start, mid-data, end - 1."""
    buf = assemble(hdus)
    lay = layout(hdus)
    names = [l["name"] for l in lay]
    rs_index = names.index("REDSHIFTS") if role == "redrock" else None
    seen = set()
    for l in lay:
        k = l["index"]
        hs, ds, dl, end = l["headerStart"], l["dataStart"], l["dataLength"], l["end"]
        mid_header = (hs + ds) // 2
        if mid_header % CARD == 0:
            mid_header += CARD // 2
        points = [("header-start", hs), ("mid-header", mid_header)]
        if dl > 0:
            points += [("data-start", ds), ("mid-data", ds + dl // 2)]
        points.append(("end-1", end - 1))
        for where, cut in points:
            if cut in seen:
                continue
            seen.add(cut)
            label = l["name"] if k > 0 else "PRIMARY"
            cid = "%s:truncate:%s:%s" % (role, label, where)
            desc = "%s cut at byte %d of %d (%s of HDU #%d %s)" % (role, cut, len(buf), where, k, l["name"])
            expect, hdu, note = truncation_expect(role, lay, k, cut, rs_index)
            corpus.add(cid, role, desc, expect, buf[:cut], hdu=hdu, note=note)


def hdu_label(l):
    """How the reader names an HDU in messages: EXTNAME, or 'HDU #n' for the primary or one without EXTNAME."""
    return l["name"] if l["index"] > 0 and l["name"] else "HDU #%d" % l["index"]


def truncation_expect(role, lay, k, cut, rs_index):
    l = lay[k]
    if cut == 0:
        return ["NOT_FITS"], ["HDU #0"], "an empty file"
    # Every header of the redrock is read (a second REDSHIFTS must be seen), so a redrock cut inside a later HDU
    # is as broken as one cut inside REDSHIFTS.
    if cut == l["headerStart"]:
        kept = [x["name"] for x in lay[:k]]
    elif cut < l["dataStart"]:
        named = l["extnameEnd"] is not None and l["extnameEnd"] <= cut
        return ["TRUNCATED"], [l["name"] if named else "HDU #%d" % k], None
    elif cut < l["dataStart"] + l["dataLength"]:
        return ["TRUNCATED"], [hdu_label(l)], None
    else:
        kept = [x["name"] for x in lay[:k + 1]]
        if k == len(lay) - 1:
            return ["ok"], None, "only the last block's padding is short: every header and data byte is there"
    if role == "redrock":
        if "REDSHIFTS" in kept:
            return ["ok"], None, "the file ends cleanly at an HDU boundary after REDSHIFTS, the only HDU the conversion needs"
        return ["MISSING_HDU"], ["REDSHIFTS"], "the file ends cleanly at an HDU boundary before REDSHIFTS"
    missing = [n for n in COADD_NEEDED if n not in kept]
    if not missing:
        return ["ok"], None, "every HDU the conversion needs is there"
    return ["MISSING_HDU"], missing, "the file ends cleanly at an HDU boundary; DESI coadds have B, R and Z"


def colnum(hdu, name):
    """n of the column TTYPEn = name."""
    for n in range(1, hdu.int("TFIELDS") + 1):
        if hdu.value("TTYPE%d" % n).strip("'").strip() == name:
            return n
    raise KeyError(name)


def set_card(role_hdus, name, key, text):
    role_hdus[find(role_hdus, name)].set(key, text)


def structural_cases(c, selected):
    coadd, redrock = "coadd", "redrock"
    CI = lambda name: find(c.coadd, name)
    RI = lambda name: find(c.redrock, name)
    rs0 = c.redrock[RI("REDSHIFTS")]
    ZWARN, COEFF, SPECTYPE, SUBTYPE, TARGETID, Z = (colnum(rs0, n) for n in ("ZWARN", "COEFF", "SPECTYPE", "SUBTYPE", "TARGETID", "Z"))

    def edit(role, name, key, text):
        return c.edited(role, lambda h: set_card(h, name, key, text))

    # --- the first card
    c.add("coadd:first-card:simple-false", coadd, "primary SIMPLE = F", ["NOT_FITS"],
          c.edited(coadd, lambda h: h[0].set("SIMPLE", "F")), hdu=["HDU #0"])
    c.add("redrock:first-card:garbage", redrock, "the first card overwritten with text ('THIS IS NOT FITS')", ["NOT_FITS"],
          c.edited(redrock, lambda h: h[0].cards.__setitem__(0, "THIS IS NOT FITS".ljust(CARD))), hdu=["HDU #0"])
    c.add("redrock:first-card:xtension", redrock, "the file starts with an XTENSION card instead of SIMPLE", ["NOT_FITS"],
          c.edited(redrock, lambda h: h[0].cards.__setitem__(0, card("XTENSION", "'BINTABLE'"))), hdu=["HDU #0"])

    # --- no END
    def drop_end_then(hdus, k):
        """Assembles with HDU k's END card blanked (its header runs on into what follows)."""
        out = b""
        for i, h in enumerate(hdus):
            hb = h.header_bytes()
            if i == k:
                at = len(h.cards) * CARD
                hb = hb[:at] + b" " * CARD + hb[at + CARD:]
            out += hb + h.data_bytes()
        return out
    c.add("coadd:no-end:FIBERMAP", coadd, "FIBERMAP's END card blanked: the header runs into the binary table data",
          ["NO_END", "BAD_HEADER"], drop_end_then(c.coadd, CI("FIBERMAP")), hdu=["FIBERMAP"])
    c.add("coadd:no-end:Z_MASK", coadd, "the last HDU's (Z_MASK) END card blanked", ["NO_END", "BAD_HEADER", "TRUNCATED"],
          drop_end_then(c.coadd, CI("Z_MASK")), hdu=["Z_MASK"])
    c.add("redrock:no-end:PRIMARY", redrock, "the primary header's END card blanked: it runs on into the REDSHIFTS header",
          ["NO_END", "BAD_HEADER"], drop_end_then(c.redrock, 0), hdu=["HDU #0", "PRIMARY", "REDSHIFTS"],
          note="the REDSHIFTS cards then belong to the primary header; reading them as a table must fail, not guess")
    rr = assemble(c.redrock)
    lay = layout(c.redrock)[RI("REDSHIFTS")]
    at = lay["headerStart"] + len(c.redrock[RI("REDSHIFTS")].cards) * CARD
    c.add("redrock:no-end:blank-to-eof", redrock, "REDSHIFTS has no END and blank cards run to the end of the file",
          ["TRUNCATED", "NO_END"], rr[:at] + b" " * (len(rr) - at), hdu=["REDSHIFTS"])

    # --- non-ASCII and control bytes in headers
    def patch_card_byte(role, name, key, offset, byte):
        def fn(h):
            hdu = h[find(h, name)]
            i = hdu.index_of(key)
            img = hdu.cards[i].encode("latin-1")
            img = img[:offset] + bytes([byte]) + img[offset + 1:]
            hdu.cards[i] = img.decode("latin-1")
        return c.edited(role, fn)
    c.add("redrock:non-ascii:REDSHIFTS:TTYPE", redrock, "byte 0xE9 inside the TTYPE%d (Z) value of REDSHIFTS (before EXTNAME)" % Z,
          ["BAD_HEADER"], patch_card_byte(redrock, "REDSHIFTS", "TTYPE%d" % Z, 12, 0xE9), hdu=["HDU #1", "REDSHIFTS"])
    c.add("coadd:non-ascii:B_FLUX:comment", coadd, "a COMMENT card with UTF-8 bytes after EXTNAME in B_FLUX",
          ["BAD_HEADER"], c.edited(coadd, lambda h: h[CI("B_FLUX")].insert_before_end("COMMENT   fl\u00c3\u00bcx")), hdu=["B_FLUX"])
    c.add("coadd:non-ascii:FIBERMAP:nul", coadd, "a NUL byte in the FIBERMAP TFORM1 card",
          ["BAD_HEADER"], patch_card_byte(coadd, "FIBERMAP", "TFORM1", 70, 0x00), hdu=["HDU #1", "FIBERMAP"])

    # --- sizes claiming terabytes
    c.add("redrock:size:REDSHIFTS:NAXIS2-huge", redrock, "REDSHIFTS NAXIS2 = 900000000000 (1.5e14 bytes of rows)",
          ["SIZE_LIMIT", "TRUNCATED"], edit(redrock, "REDSHIFTS", "NAXIS2", "900000000000"), hdu=["REDSHIFTS"])
    c.add("coadd:size:B_FLUX:NAXIS1-huge", coadd, "B_FLUX NAXIS1 = 1000000000000", ["SIZE_LIMIT", "TRUNCATED"],
          edit(coadd, "B_FLUX", "NAXIS1", "1000000000000"), hdu=["B_FLUX"])
    c.add("coadd:size:FIBERMAP:PCOUNT-huge", coadd, "FIBERMAP PCOUNT = 5000000000000 (a 5 TB heap)", ["SIZE_LIMIT", "TRUNCATED"],
          edit(coadd, "FIBERMAP", "PCOUNT", "5000000000000"), hdu=["FIBERMAP"])
    c.add("coadd:size:Z_IVAR:overflow", coadd, "Z_IVAR NAXIS1 = 99999999999999 and NAXIS2 = 99999999 (product beyond 2^53)",
          ["SIZE_LIMIT", "BAD_HEADER"],
          c.edited(coadd, lambda h: (h[CI("Z_IVAR")].set("NAXIS1", "99999999999999"), h[CI("Z_IVAR")].set("NAXIS2", "99999999"))),
          hdu=["Z_IVAR"])
    c.add("redrock:size:REDSHIFTS:NAXIS1-2^63", redrock, "REDSHIFTS NAXIS1 = 9223372036854775807 (beyond 2^53)",
          ["SIZE_LIMIT", "BAD_HEADER"], edit(redrock, "REDSHIFTS", "NAXIS1", "9223372036854775807"), hdu=["REDSHIFTS"])
    c.add("coadd:size:B_MASK:GCOUNT-huge", coadd, "B_MASK GCOUNT = 4000000000", ["SIZE_LIMIT", "BAD_HEADER"],
          edit(coadd, "B_MASK", "GCOUNT", "4000000000"), hdu=["B_MASK"])

    # --- NAXISn negative or not an integer
    c.add("coadd:naxis:B_FLUX:NAXIS2-negative", coadd, "B_FLUX NAXIS2 = -12", ["BAD_HEADER"],
          edit(coadd, "B_FLUX", "NAXIS2", "-12"), hdu=["B_FLUX"])
    c.add("coadd:naxis:R_IVAR:NAXIS1-float", coadd, "R_IVAR NAXIS1 = 30.5", ["BAD_HEADER"],
          edit(coadd, "R_IVAR", "NAXIS1", "30.5"), hdu=["R_IVAR"])
    c.add("redrock:naxis:REDSHIFTS:NAXIS2-string", redrock, "REDSHIFTS NAXIS2 = 'twelve'", ["BAD_HEADER"],
          edit(redrock, "REDSHIFTS", "NAXIS2", "'twelve'"), hdu=["REDSHIFTS"])
    c.add("coadd:naxis:FIBERMAP:NAXIS1-empty", coadd, "FIBERMAP NAXIS1 with no value", ["BAD_HEADER"],
          c.edited(coadd, lambda h: h[CI("FIBERMAP")].cards.__setitem__(h[CI("FIBERMAP")].index_of("NAXIS1"), "NAXIS1  = ".ljust(CARD))),
          hdu=["FIBERMAP"])
    c.add("coadd:naxis:B_FLUX:NAXIS-1000", coadd, "B_FLUX NAXIS = 1000", ["BAD_HEADER"],
          edit(coadd, "B_FLUX", "NAXIS", "1000"), hdu=["B_FLUX"])
    c.add("coadd:naxis:B_FLUX:NAXIS-3-no-NAXIS3", coadd, "B_FLUX NAXIS = 3 without a NAXIS3 card", ["BAD_HEADER"],
          edit(coadd, "B_FLUX", "NAXIS", "3"), hdu=["B_FLUX"])
    c.add("coadd:naxis:B_FLUX:NAXIS-1", coadd, "B_FLUX NAXIS = 1 (a 1-D image of 40 values)", ["SHAPE_MISMATCH"],
          edit(coadd, "B_FLUX", "NAXIS", "1"), hdu=["B_FLUX"])
    c.add("coadd:naxis:Z_MASK:GCOUNT-0", coadd, "Z_MASK GCOUNT = 0 (no data by the size formula) and the file ends where its data would start",
          ["TRUNCATED", "BAD_HEADER", "SIZE_LIMIT", "SHAPE_MISMATCH"],
          (lambda b: b[:layout(c.coadd)[CI("Z_MASK")]["dataStart"]])(edit(coadd, "Z_MASK", "GCOUNT", "0")), hdu=["Z_MASK"],
          note="the header's data size is 0 but NAXIS1 x NAXIS2 says there are rows of 35 values: they are not in the file")

    def b_arm_claims_terabytes(h):
        for k in KINDS:
            x = h[CI("B_" + k)]
            x.set("GCOUNT", "0")
            x.set("NAXIS1", "1000000000000")
            x.data = b""
    c.add("coadd:size:B-arm:GCOUNT-0-NAXIS1-huge", coadd,
          "B_WAVELENGTH/FLUX/IVAR/MASK: GCOUNT = 0 (so no data by the size formula, and none in the file), NAXIS1 = 1000000000000",
          ["BAD_HEADER", "SIZE_LIMIT", "TRUNCATED"], c.edited(coadd, b_arm_claims_terabytes),
          hdu=["B_WAVELENGTH", "B_FLUX", "B_IVAR", "B_MASK"],
          note="the image's NAXISn claim terabytes that the header's own data size (0) does not hold: nothing may be read or reserved from them")

    # --- TFORM / TDIM
    c.add("redrock:tform:REDSHIFTS:unknown-code", redrock, "REDSHIFTS TFORM%d (ZWARN) = '1W'" % ZWARN, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % ZWARN, "'1W'"), hdu=["REDSHIFTS"])
    c.add("coadd:tform:FIBERMAP:unknown-code", coadd, "FIBERMAP TFORM2 = 'Y'", ["BAD_TFORM"],
          edit(coadd, "FIBERMAP", "TFORM2", "'Y'"), hdu=["FIBERMAP"])
    c.add("redrock:tform:REDSHIFTS:repeat-huge", redrock, "REDSHIFTS TFORM%d (COEFF) = '99999999999999999999D'" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % COEFF, "'99999999999999999999D'"), hdu=["REDSHIFTS"])
    c.add("redrock:tform:REDSHIFTS:wider-than-row", redrock, "REDSHIFTS TFORM%d (COEFF) = '1000D', wider than NAXIS1" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % COEFF, "'1000D'"), hdu=["REDSHIFTS"])
    c.add("redrock:tform:REDSHIFTS:bad-P", redrock, "REDSHIFTS TFORM%d (COEFF) = '1PZ(10)'" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % COEFF, "'1PZ(10)'"), hdu=["REDSHIFTS"])
    c.add("redrock:tform:REDSHIFTS:TFIELDS-999", redrock, "REDSHIFTS TFIELDS = 999 (no TTYPEn/TFORMn past the real columns)", ["BAD_HEADER"],
          edit(redrock, "REDSHIFTS", "TFIELDS", "999"), hdu=["REDSHIFTS"])
    c.add("redrock:tform:REDSHIFTS:TFIELDS-huge", redrock, "REDSHIFTS TFIELDS = 1000000", ["BAD_HEADER"],
          edit(redrock, "REDSHIFTS", "TFIELDS", "1000000"), hdu=["REDSHIFTS"])
    c.add("redrock:tdim:REDSHIFTS:product-huge", redrock, "REDSHIFTS TDIM%d (COEFF) = '(99999999999,99999999999)'" % COEFF, ["ok"],
          edit(redrock, "REDSHIFTS", "TDIM%d" % COEFF, "'(99999999999,99999999999)'"),
          note="a TDIM whose product exceeds the repeat count is ignored, as astropy does (with a warning)")
    c.add("redrock:tdim:REDSHIFTS:not-safe", redrock, "REDSHIFTS TDIM%d (COEFF) = '(99999999999999999999)'" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TDIM%d" % COEFF, "'(99999999999999999999)'"), hdu=["REDSHIFTS"])
    c.add("redrock:tdim:REDSHIFTS:malformed", redrock, "REDSHIFTS TDIM%d (COEFF) = '(10,'" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TDIM%d" % COEFF, "'(10,'"), hdu=["REDSHIFTS"])
    c.add("redrock:tdim:REDSHIFTS:negative", redrock, "REDSHIFTS TDIM%d (COEFF) = '(-10)'" % COEFF, ["BAD_TFORM"],
          edit(redrock, "REDSHIFTS", "TDIM%d" % COEFF, "'(-10)'"), hdu=["REDSHIFTS"])
    c.add("redrock:theap:REDSHIFTS:outside", redrock, "REDSHIFTS THEAP = 999999 (outside the data)", ["BAD_HEADER"],
          c.edited(redrock, lambda h: h[RI("REDSHIFTS")].insert_before_end(card("THEAP", "999999"))), hdu=["REDSHIFTS"])

    # --- heap descriptors (a P column: COEFF written by astropy as a variable-length array)
    rs = c.redrock[RI("REDSHIFTS")]
    with fits.open(io.BytesIO(assemble([c.redrock[0], rs]))) as hl:
        d = hl["REDSHIFTS"].data
        cols = []
        for col in hl["REDSHIFTS"].columns:
            if col.name == "COEFF":
                arr = np.empty(len(d), dtype=object)
                for r in range(len(d)):
                    arr[r] = np.array(d["COEFF"][r][:int(d["NCOEFF"][r])], dtype=np.float64)
                cols.append(fits.Column(name="COEFF", format="PD()", array=arr))
            else:
                cols.append(fits.Column(name=col.name, format=col.format, array=d[col.name]))
        var_rs = astropy_hdu(fits.BinTableHDU.from_columns(cols, name="REDSHIFTS"))
    off = tform_offsets(var_rs)["COEFF"]
    row_bytes = var_rs.int("NAXIS1")
    nrows = var_rs.int("NAXIS2")
    heap = var_rs.int("PCOUNT")

    def with_var(patch=None, cards=None):
        def fn(h):
            v = var_rs.copy()
            if patch:
                data = bytearray(v.data)
                for at, value in patch:
                    data[at:at + len(value)] = value
                v.data = bytes(data)
            if cards:
                for k, t in cards:
                    v.set(k, t)
            h[RI("REDSHIFTS")] = v
        return c.edited(redrock, fn)
    last = (nrows - 1) * row_bytes + off
    c.add("redrock:heap:REDSHIFTS:valid-P", redrock, "REDSHIFTS with COEFF as a valid variable-length column (1PD)", ["BAD_TYPE"],
          with_var(), hdu=["REDSHIFTS"], note="valid FITS, but COEFF must be fixed-length to fit the output's list<float64> schema")
    c.add("redrock:heap:REDSHIFTS:offset-outside", redrock, "last row's COEFF descriptor offset = heap size + 8", ["BAD_HEAP"],
          with_var(patch=[(last + 4, (heap + 8).to_bytes(4, "big"))]), hdu=["REDSHIFTS"])
    c.add("redrock:heap:REDSHIFTS:count-huge", redrock, "first row's COEFF descriptor count = 2^31 - 1", ["BAD_HEAP"],
          with_var(patch=[(off, (2**31 - 1).to_bytes(4, "big"))]), hdu=["REDSHIFTS"])
    c.add("redrock:heap:REDSHIFTS:count-negative", redrock, "first row's COEFF descriptor count = -1", ["BAD_HEAP"],
          with_var(patch=[(off, b"\xff\xff\xff\xff")]), hdu=["REDSHIFTS"])
    c.add("redrock:heap:REDSHIFTS:offset-negative", redrock, "second row's COEFF descriptor offset = -8", ["BAD_HEAP"],
          with_var(patch=[(row_bytes + off + 4, (2**32 - 8).to_bytes(4, "big"))]), hdu=["REDSHIFTS"])
    c.add("redrock:heap:REDSHIFTS:PCOUNT-huge", redrock, "REDSHIFTS with a heap, PCOUNT = 3000000000000", ["SIZE_LIMIT", "TRUNCATED"],
          with_var(cards=[("PCOUNT", "3000000000000")]), hdu=["REDSHIFTS"])
    c.add("redrock:heap:REDSHIFTS:PCOUNT-short", redrock, "REDSHIFTS with a heap, PCOUNT = 8 (descriptors point past it)", ["BAD_HEAP"],
          with_var(cards=[("PCOUNT", "8")]), hdu=["REDSHIFTS"])

    # --- duplicated EXTNAMEs
    c.add("redrock:duplicate:REDSHIFTS", redrock, "two REDSHIFTS HDUs (the second a copy of the first)", ["DUPLICATE_HDU"],
          c.edited(redrock, lambda h: h.insert(RI("REDSHIFTS") + 1, h[RI("REDSHIFTS")].copy())), hdu=["REDSHIFTS"],
          note="which table is meant is ambiguous; astropy's hdul['REDSHIFTS'] silently takes the first")
    c.add("coadd:duplicate:B_FLUX", coadd, "two B_FLUX HDUs", ["DUPLICATE_HDU"],
          c.edited(coadd, lambda h: h.insert(CI("B_FLUX") + 1, h[CI("B_FLUX")].copy())), hdu=["B_FLUX"])
    c.add("coadd:duplicate:FIBERMAP", coadd, "two FIBERMAP HDUs", ["DUPLICATE_HDU"],
          c.edited(coadd, lambda h: h.append(h[CI("FIBERMAP")].copy())), hdu=["FIBERMAP"])
    c.add("coadd:extname:FIBERMAP-integer", coadd, "FIBERMAP's EXTNAME = 42 (not a string)", ["MISSING_HDU", "BAD_HEADER"],
          edit(coadd, "FIBERMAP", "EXTNAME", "42"), hdu=["FIBERMAP"])

    # --- zero rows
    with fits.open(io.BytesIO(assemble([c.redrock[0], rs]))) as hl:
        zero = astropy_hdu(fits.BinTableHDU(data=hl["REDSHIFTS"].data[:0], name="REDSHIFTS"))
    if zero.int("NAXIS2") != 0:
        sys.exit("the zero-row REDSHIFTS has rows")
    c.add("redrock:zero-rows:REDSHIFTS", redrock, "REDSHIFTS with 0 rows (written by astropy)", ["empty"],
          c.edited(redrock, lambda h: h.__setitem__(RI("REDSHIFTS"), zero.copy())),
          note="decided: a redrock with no targets is an empty tile (journaled done, no file), not an error")
    c.add("coadd:zero-rows:FIBERMAP", coadd, "FIBERMAP NAXIS2 = 0 while the images keep their spectra",
          ["TARGET_MISMATCH", "SHAPE_MISMATCH"],
          c.edited(coadd, lambda h: (h[CI("FIBERMAP")].set("NAXIS2", "0"), setattr(h[CI("FIBERMAP")], "data", b""))),
          hdu=["FIBERMAP", "B_FLUX"])

    # --- wrong BITPIX
    c.add("coadd:bitpix:B_FLUX-16", coadd, "B_FLUX BITPIX = 16 (int16 values, same block count)", ["BAD_TYPE"],
          edit(coadd, "B_FLUX", "BITPIX", "16"), hdu=["B_FLUX"])
    c.add("coadd:bitpix:B_FLUX-64", coadd, "B_FLUX BITPIX = 64 (int64 values; the data still fit their block)", ["BAD_TYPE"],
          edit(coadd, "B_FLUX", "BITPIX", "64"), hdu=["B_FLUX"])
    c.add("coadd:bitpix:Z_MASK-64", coadd, "Z_MASK BITPIX = 64 (int64 mask values)", ["BAD_TYPE"],
          edit(coadd, "Z_MASK", "BITPIX", "64"), hdu=["Z_MASK"])
    c.add("coadd:size:Z_MASK:past-eof", coadd, "Z_MASK NAXIS1 = 200: its data would run past the end of the file",
          ["TRUNCATED", "SIZE_LIMIT"], edit(coadd, "Z_MASK", "NAXIS1", "200"), hdu=["Z_MASK"])
    c.add("coadd:size:B_FLUX:past-next-header", coadd,
          "B_FLUX NAXIS1 = 200: by its size the next header would start inside B_IVAR's data",
          ["MISSING_HDU", "SHAPE_MISMATCH", "BAD_HEADER"], edit(coadd, "B_FLUX", "NAXIS1", "200"), hdu=["B_FLUX", "B_IVAR"])
    c.add("coadd:bitpix:R_MASK--32", coadd, "R_MASK BITPIX = -32 (float mask)", ["BAD_TYPE"],
          edit(coadd, "R_MASK", "BITPIX", "-32"), hdu=["R_MASK"])
    c.add("coadd:bitpix:B_IVAR-7", coadd, "B_IVAR BITPIX = 7", ["BAD_HEADER"], edit(coadd, "B_IVAR", "BITPIX", "7"), hdu=["B_IVAR"])
    c.add("coadd:bscale:B_MASK-2", coadd, "B_MASK BSCALE = 2 (scaled to float64)", ["BAD_TYPE"],
          c.edited(coadd, lambda h: h[CI("B_MASK")].insert_before_end(card("BSCALE", "2"))), hdu=["B_MASK"])
    c.add("coadd:xtension:B_FLUX-unknown", coadd, "B_FLUX XTENSION = 'FOOBAR'", ["BAD_HEADER", "UNSUPPORTED"],
          edit(coadd, "B_FLUX", "XTENSION", "'FOOBAR  '"), hdu=["B_FLUX"])
    c.add("coadd:xtension:FIBERMAP-image", coadd, "FIBERMAP XTENSION = 'IMAGE' (a table read as an image)",
          ["BAD_HEADER", "UNSUPPORTED"], edit(coadd, "FIBERMAP", "XTENSION", "'IMAGE   '"), hdu=["FIBERMAP"])

    # --- DESI content that disagrees
    def scramble(h):
        v = h[RI("REDSHIFTS")]
        o = tform_offsets(v)["TARGETID"]
        rb = v.int("NAXIS1")
        data = bytearray(v.data)
        for r in range(v.int("NAXIS2")):
            at = r * rb + o
            t = int.from_bytes(data[at:at + 8], "big", signed=True) ^ 0x5A5A5A5A
            data[at:at + 8] = t.to_bytes(8, "big", signed=True)
        v.data = bytes(data)
    c.add("redrock:targets:absent-from-coadd", redrock, "every REDSHIFTS TARGETID xor 0x5A5A5A5A (none in the coadd FIBERMAP)",
          ["TARGET_MISMATCH"], c.edited(redrock, scramble), hdu=["FIBERMAP"], msg_file="coadd")
    c.add("redrock:targets:duplicate-selected", redrock, "REDSHIFTS row 1 duplicated over row 0 (a selected TARGETID twice)",
          ["TARGET_MISMATCH"],
          c.edited(redrock, lambda h: setattr(h[RI("REDSHIFTS")], "data", dup_selected_row(h[RI("REDSHIFTS")], selected))),
          hdu=["REDSHIFTS"])
    c.add("redrock:type:TARGETID-J", redrock, "REDSHIFTS TFORM%d (TARGETID) = 'J'" % TARGETID, ["BAD_TYPE"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % TARGETID, "'J'"), hdu=["REDSHIFTS"])
    c.add("redrock:column:SPECTYPE-missing", redrock, "REDSHIFTS TTYPE%d renamed from SPECTYPE to SPECTYPX" % SPECTYPE, ["MISSING_COLUMN"],
          edit(redrock, "REDSHIFTS", "TTYPE%d" % SPECTYPE, "'SPECTYPX'"), hdu=["REDSHIFTS"])
    c.add("redrock:column:TARGETID-TSCAL", redrock, "REDSHIFTS TSCAL%d = 2.0 on TARGETID" % TARGETID, ["BAD_TYPE"],
          c.edited(redrock, lambda h: h[RI("REDSHIFTS")].insert_before_end(card("TSCAL%d" % TARGETID, "2.0"))), hdu=["REDSHIFTS"])
    nspec = c.coadd[CI("FIBERMAP")].int("NAXIS2")
    c.add("redrock:strings:SPECTYPE-0A", redrock, "REDSHIFTS TFORM%d (SPECTYPE) = '0A' (no characters)" % SPECTYPE, ["BAD_TYPE"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % SPECTYPE, "'0A'"), hdu=["REDSHIFTS"],
          note="a column of zero-character strings has no SPECTYPE per row to select on")
    c.add("redrock:strings:SPECTYPE-TDIM-2", redrock, "REDSHIFTS TDIM%d = '(3,2)' on SPECTYPE 6A: two 3-character strings per row" % SPECTYPE,
          ["BAD_TYPE"], c.edited(redrock, lambda h: h[RI("REDSHIFTS")].cards.insert(
              h[RI("REDSHIFTS")].index_of("TFORM%d" % SPECTYPE) + 1, card("TDIM%d" % SPECTYPE, "'(3,2)'"))), hdu=["REDSHIFTS"],
          note="SPECTYPE must be one string per row; two per row must not be read as the strings of two rows")
    c.add("redrock:strings:SUBTYPE-TDIM-2", redrock, "REDSHIFTS TDIM%d = '(10,2)' on SUBTYPE 20A: two strings per row" % SUBTYPE,
          ["BAD_TYPE"], c.edited(redrock, lambda h: h[RI("REDSHIFTS")].cards.insert(
              h[RI("REDSHIFTS")].index_of("TFORM%d" % SUBTYPE) + 1, card("TDIM%d" % SUBTYPE, "'(10,2)'"))), hdu=["REDSHIFTS"],
          note="the output's SUBTYPE is one string per row")
    c.add("redrock:strings:SUBTYPE-0A", redrock, "REDSHIFTS TFORM%d (SUBTYPE) = '0A' (no characters)" % SUBTYPE, ["BAD_TYPE"],
          edit(redrock, "REDSHIFTS", "TFORM%d" % SUBTYPE, "'0A'"), hdu=["REDSHIFTS"])
    c.add("coadd:shape:FIBERMAP-one-row-short", coadd,
          "FIBERMAP NAXIS2 = %d (its last row, not selected, dropped) while the images have %d" % (nspec - 1, nspec),
          ["SHAPE_MISMATCH"], edit(coadd, "FIBERMAP", "NAXIS2", str(nspec - 1)), hdu=["B_FLUX", "FIBERMAP"])
    c.add("coadd:shape:R_IVAR-one-row-short", coadd, "R_IVAR NAXIS2 = %d (one spectrum short)" % (nspec - 1), ["SHAPE_MISMATCH"],
          edit(coadd, "R_IVAR", "NAXIS2", str(nspec - 1)), hdu=["R_IVAR"])
    c.add("coadd:shape:B_WAVELENGTH-39", coadd, "B_WAVELENGTH NAXIS1 = 39 while B_FLUX NAXIS1 = 40", ["SHAPE_MISMATCH"],
          edit(coadd, "B_WAVELENGTH", "NAXIS1", "39"), hdu=["B_FLUX", "B_WAVELENGTH"])
    c.add("coadd:shape:B_WAVELENGTH-2d", coadd, "B_WAVELENGTH NAXIS = 2 (NAXIS2 = 1 added)", ["SHAPE_MISMATCH"],
          c.edited(coadd, lambda h: (h[CI("B_WAVELENGTH")].set("NAXIS", "2"),
                                     h[CI("B_WAVELENGTH")].cards.insert(h[CI("B_WAVELENGTH")].index_of("NAXIS1") + 1, card("NAXIS2", "1")))),
          hdu=["B_WAVELENGTH"])
    c.add("coadd:pixel:HPXPIXEL-mismatch", coadd, "coadd HPXPIXEL = 4 (another pixel than its path)", ["TILE_MISMATCH"],
          c.edited(coadd, lambda h: h[0].insert_before_end(card("HPXPIXEL", "4"))), hdu=["PRIMARY", "HDU #0"])

    # --- things that must stay fine
    c.add("coadd:trailing-garbage", coadd, "2880 bytes of non-FITS text after the last HDU", ["ok"],
          assemble(c.coadd) + (b"garbage after the last HDU " * 107)[:BLOCK],
          note="bytes after the last HDU that do not start an XTENSION header are special records (FITS 4.0 3.5)")
    c.add("coadd:missing-arm-hdus:R", coadd, "the four R_* HDUs removed (B and Z arms only)", ["MISSING_HDU"],
          c.edited(coadd, lambda h: [h.pop(find(h, "R_" + k)) for k in KINDS]), hdu=["R_FLUX", "R_WAVELENGTH", "R_IVAR", "R_MASK"],
          note="every DESI coadd has B, R and Z; a tile written without one would give a Parquet file of another schema")
    c.add("coadd:missing-hdu:B_IVAR", coadd, "B_IVAR removed", ["MISSING_HDU"],
          c.edited(coadd, lambda h: h.pop(find(h, "B_IVAR"))), hdu=["B_IVAR"])


def dup_selected_row(hdu, selected):
    """REDSHIFTS data with the first selected row's bytes copied over another row, so one TARGETID is kept twice."""
    o = tform_offsets(hdu)["TARGETID"]
    rb = hdu.int("NAXIS1")
    data = bytearray(hdu.data)
    rows = [r for r in range(hdu.int("NAXIS2")) if int.from_bytes(data[r * rb + o:r * rb + o + 8], "big", signed=True) in selected]
    src = rows[0]
    dst = rows[1]
    data[dst * rb:(dst + 1) * rb] = data[src * rb:(src + 1) * rb]
    return bytes(data)


# ------------------------------------------------------------------------------------------------

def check_base(coadd_bytes, rr_bytes):
    tmp = Path(tempfile.mkdtemp(prefix="hostile-base-"))
    try:
        for name, b in (("coadd.fits", coadd_bytes), ("redrock.fits", rr_bytes)):
            p = tmp / name
            p.write_bytes(b)
            if Path(FITSVERIFY).exists():
                r = subprocess.run([FITSVERIFY, "-q", "-e", str(p)], capture_output=True, text=True)
                if r.returncode != 0 or "verification OK" not in r.stdout:
                    sys.exit("fitsverify rejects the base %s:\n%s%s" % (name, r.stdout, r.stderr))
            with fits.open(p) as hl:
                hl.verify("exception")
                for h in hl:
                    _ = h.data
    finally:
        shutil.rmtree(tmp)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def main():
    coadd, redrock = base_tile()
    base_c, base_r = assemble(coadd), assemble(redrock)
    check_base(base_c, base_r)
    selected = selected_targetids(redrock)
    if not selected or len(selected) < 2:
        sys.exit("the base tile must select at least two targets")
    fm = coadd[find(coadd, "FIBERMAP")]
    o = tform_offsets(fm)["TARGETID"]
    rb = fm.int("NAXIS1")
    last_tid = int.from_bytes(fm.data[(fm.int("NAXIS2") - 1) * rb + o:(fm.int("NAXIS2") - 1) * rb + o + 8], "big", signed=True)
    if last_tid in selected:
        sys.exit("the coadd:shape:FIBERMAP-one-row-short case needs the last FIBERMAP row unselected")

    corpus = Corpus(coadd, redrock)
    truncation_cases(corpus, "coadd", coadd)
    truncation_cases(corpus, "redrock", redrock)
    structural_cases(corpus, selected)
    ids = [e["id"] for e in corpus.entries]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit("duplicate case ids: %s" % sorted(dup))

    for sub in ("tree", "base"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
    (OUT / "base").mkdir(parents=True)
    (OUT / "base" / "coadd-main-dark-base.fits.gz").write_bytes(gz(base_c))
    (OUT / "base" / "redrock-main-dark-base.fits.gz").write_bytes(gz(base_r))
    for rel, data in corpus.files.items():
        p = OUT / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(gz(data))
    index = {
        "about": "Hostile-FITS corpus: one broken tile per case; see test/hostile/README.md. Made by scripts/make-hostile-fits.py; do not edit by hand.",
        "base": {
            "coadd": {"path": "base/coadd-main-dark-base.fits.gz", "bytes": len(base_c), "sha256": hashlib.sha256(base_c).hexdigest(),
                      "selected": len(selected)},
            "redrock": {"path": "base/redrock-main-dark-base.fits.gz", "bytes": len(base_r), "sha256": hashlib.sha256(base_r).hexdigest()},
        },
        "cases": corpus.entries,
    }
    lines = ",\n".join(json.dumps(e) for e in corpus.entries)
    text = json.dumps({k: v for k, v in index.items() if k != "cases"}, indent=1)[:-2] + ',\n "cases": [\n' + lines + "\n ]\n}\n"
    json.loads(text)
    (OUT / "index.json").write_text(text)
    total = sum((OUT / rel).stat().st_size for rel in corpus.files) + sum(p.stat().st_size for p in (OUT / "base").iterdir())
    print("%d cases, %d compressed bytes (%d raw)" % (len(corpus.entries), total, sum(len(d) for d in corpus.files.values())))


if __name__ == "__main__":
    main()
