"""One spectrum on its wavelengths with pandas (pyarrow), plotted with matplotlib.

Usage: python3 docs/recipes/spectrum.py OUT TARGETID [spectrum.png]   (--json instead of a PNG: the pixels as JSON)
"""
import json
import sys

import pandas as pd
import pyarrow.dataset as ds


def spectrum(out, targetid):
    """A DataFrame of ARM, WAVELENGTH (Å, vacuum), FLUX, a row per pixel, and FLUX's unit."""
    spectra = ds.dataset(out, format="parquet")  # skips _wavelength/ and _desi-qad/: names starting with _
    row = spectra.to_table(columns=["B_FLUX", "R_FLUX", "Z_FLUX"], filter=ds.field("TARGETID") == targetid).to_pylist()[0]
    waves = pd.read_parquet(f"{out}/_wavelength/wavelength.parquet")  # ARM, WAVELENGTH (an array per arm), VACUUM
    unit = spectra.schema.field("B_FLUX").metadata[b"unit"].decode()  # the coadd's BUNIT
    frame = pd.concat(pd.DataFrame({"ARM": arm, "WAVELENGTH": w, "FLUX": row[f"{arm}_FLUX"]}) for arm, w in zip(waves.ARM, waves.WAVELENGTH))
    return frame, unit


def main(argv):
    frame, unit = spectrum(argv[1], int(argv[2]))
    if len(argv) > 3 and argv[3] == "--json":
        print(json.dumps({"unit": unit, "rows": frame[["ARM", "WAVELENGTH", "FLUX"]].values.tolist()}))
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for arm, pixels in frame.groupby("ARM"):
        plt.plot(pixels.WAVELENGTH, pixels.FLUX, lw=0.5, label=arm)
    plt.xlabel("wavelength [Å, vacuum]")
    plt.ylabel(f"flux [{unit}]")
    plt.legend()
    plt.savefig(argv[3] if len(argv) > 3 else "spectrum.png", dpi=150)


if __name__ == "__main__":
    main(sys.argv)
