// One spectrum on its wavelengths with Polars (nodejs-polars): node docs/recipes/spectrum-polars.mjs OUT TARGETID
import pl from 'nodejs-polars';

/** A DataFrame of ARM, WAVELENGTH (Å, vacuum), FLUX, a row per pixel, for the first spectrum of `targetid`. */
export function spectrum(out, targetid) {
  const waves = pl.readParquet(`${out}/_wavelength/wavelength.parquet`); // ARM, WAVELENGTH (a list per arm), VACUUM
  const row = pl
    .scanParquet(`${out}/*/*/*/*.parquet`)
    .filter(pl.col('TARGETID').eq(pl.lit(BigInt(targetid))))
    .select('TARGETID', 'B_FLUX', 'R_FLUX', 'Z_FLUX')
    .head(1)
    .collectSync();
  return row
    .unpivot('TARGETID', ['B_FLUX', 'R_FLUX', 'Z_FLUX']) // a row per arm: variable = 'B_FLUX', value = the list
    .withColumns(pl.col('variable').str.slice(0, 1).alias('ARM'))
    .join(waves, { on: 'ARM' })
    .sort('ARM')
    .select('ARM', 'WAVELENGTH', pl.col('value').alias('FLUX'))
    .explode(['WAVELENGTH', 'FLUX']); // the two lists side by side, a row per pixel
}

if (process.argv[1] === new URL(import.meta.url).pathname) console.log(spectrum(process.argv[2], process.argv[3]).toString());
