import { open, readFile, writeFile } from 'node:fs/promises';
import { LocalFileSource } from '../../src/storage/local.js';
import { findHdu, scanHdus, tableInfo, findColumn, type Hdu } from '../../src/fits/index.js';

/** Ways to break a FITS file on disk, for the bad-input tests. Each names what it broke. */

/** The named HDU of a file on disk (headers read up to it). */
async function locate(path: string, extname: string): Promise<Hdu> {
  const src = await LocalFileSource.open(path);
  try {
    return findHdu(path, await scanHdus(src, { until: [extname] }), extname);
  } finally {
    await src.close();
  }
}

/** Cuts the file inside the data of the named HDU. */
export async function truncateInside(path: string, extname: string): Promise<void> {
  const h = await locate(path, extname);
  const fh = await open(path, 'r+');
  await fh.truncate(h.dataStart + Math.floor(h.dataLength / 2));
  await fh.close();
}

/** Rewrites one header card of the named HDU (key = value), keeping the 80-column layout. */
export async function setCard(path: string, extname: string, key: string, value: string): Promise<void> {
  const h = await locate(path, extname);
  const buf = await readFile(path);
  for (let p = h.headerStart; p < h.dataStart; p += 80) {
    if (buf.toString('latin1', p, p + 8).trimEnd() === key) {
      buf.write(`${key.padEnd(8)}= ${value.padStart(20)}`.padEnd(80), p, 'latin1');
      await writeFile(path, buf);
      return;
    }
  }
  throw new Error(`${path}: no card ${key} in ${extname}`);
}

/** Blanks the END card of the named HDU, so its header runs on into the data. */
export async function removeEnd(path: string, extname: string): Promise<void> {
  const h = await locate(path, extname);
  const buf = await readFile(path);
  for (let p = h.headerStart; p < h.dataStart; p += 80) {
    if (buf.toString('latin1', p, p + 80).trimEnd() === 'END') {
      buf.fill(0x20, p, p + 80);
      await writeFile(path, buf);
      return;
    }
  }
  throw new Error(`${path}: no END card in ${extname}`);
}

/** Changes every TARGETID of a table (so the other file of the tile no longer matches it). */
export async function scrambleTargetIds(path: string, extname: string): Promise<void> {
  const h = await locate(path, extname);
  const info = tableInfo(path, h);
  const col = findColumn(info, 'TARGETID')!;
  const buf = await readFile(path);
  for (let r = 0; r < info.rows; r++) {
    const at = h.dataStart + r * info.rowBytes + col.offset;
    buf.writeBigInt64BE(buf.readBigInt64BE(at) ^ 0x5a5a5a5an, at);
  }
  await writeFile(path, buf);
}
