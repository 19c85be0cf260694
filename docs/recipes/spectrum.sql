-- One spectrum on its wavelengths, a row per pixel: SURVEY, PROGRAM, ARM, WAVELENGTH (Å, vacuum), FLUX.
-- Set two variables first:  SET VARIABLE out = 'OUT';  SET VARIABLE targetid = 39633278705075952;
-- (A target observed in several surveys or programs has a spectrum in each: SURVEY and PROGRAM tell them apart.)
SELECT s.SURVEY, s.PROGRAM, w.ARM,
       unnest(w.WAVELENGTH) AS WAVELENGTH,
       unnest(CASE w.ARM WHEN 'B' THEN s.B_FLUX WHEN 'R' THEN s.R_FLUX WHEN 'Z' THEN s.Z_FLUX END) AS FLUX
FROM read_parquet(getvariable('out') || '/*/*/*/*.parquet') AS s,
     read_parquet(getvariable('out') || '/_wavelength/wavelength.parquet') AS w
WHERE s.TARGETID = getvariable('targetid')
ORDER BY s.SURVEY, s.PROGRAM, w.ARM, WAVELENGTH;
