// One spectrum on its wavelengths with DuckDB from Node: node docs/recipes/spectrum-duckdb.mjs OUT TARGETID > spectrum.csv
import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of { SURVEY, PROGRAM, ARM, WAVELENGTH, FLUX }, one per pixel (spectrum.sql). */
export async function spectrum(out, targetid) {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`SET VARIABLE out = '${out.replaceAll("'", "''")}'`);
  await con.run(`SET VARIABLE targetid = ${BigInt(targetid)}`);
  const reader = await con.runAndReadAll(await readFile(new URL('spectrum.sql', import.meta.url), 'utf8'));
  return reader.getRowObjects();
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const rows = await spectrum(process.argv[2], process.argv[3]);
  console.log('SURVEY,PROGRAM,ARM,WAVELENGTH,FLUX');
  for (const r of rows) console.log(`${r.SURVEY},${r.PROGRAM},${r.ARM},${r.WAVELENGTH},${r.FLUX}`);
}
