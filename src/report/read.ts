import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm';
import type { ByteSource } from '../fits/source.js';
import { FOOTER_KEY, type FooterInfo } from '../desi/schema.js';
import { outputPath } from '../desi/layout.js';
import type { TileRecord } from '../storage/journal-store.js';
import { mapLimit } from '../util/concurrency.js';
import { redactSecrets } from '../util/secrets.js';
import type { ParquetFacts, RunLogInfo } from './data.js';

/**
 * What the report reads besides the journal: the Z column and the footer of each Parquet file the journal
 * lists, and the first lines of the runs' logs (command line, settings, batch size).
 *
 * A Parquet file is read through parquet-wasm's ParquetFile over a Blob-like view of a ByteSource (`size`,
 * `slice(a, b).arrayBuffer()`: all parquet-wasm calls), so only the footer and the Z column chunk are read
 * (a few KB of a file whose spectra are MBs), from a local file or by ranged GETs on S3 alike.
 */

/** Opens a dataset file (a path relative to --out, of the size the journal recorded) for ranged reads. */
export type ParquetOpener = (relPath: string, size: number) => Promise<ByteSource & { close?(): Promise<void> }>;

/** Files read at once. */
export const PARQUET_READS = 8;

/** Footer provenance keys that name the tile rather than the production; left out when grouping footers. */
const PER_TILE_KEYS = new Set(['HPXPIXEL', 'SPGRPVAL', 'SURVEY', 'PROGRAM']);

/** The parquet-wasm view of a ByteSource: the Blob members it calls. */
export function blobOf(src: ByteSource): Blob {
  const view = {
    size: src.byteLength,
    slice: (start: number, end: number) => ({
      arrayBuffer: async () => {
        const bytes = await src.slice(start, Math.min(end, src.byteLength));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      },
    }),
  };
  return view as unknown as Blob;
}

/** One file's Z values and its footer's provenance (flat: the tool version, then coadd and redrock keys). */
export async function readZAndProvenance(src: ByteSource): Promise<{ z: Float64Array; provenance?: Record<string, string> }> {
  const file = await ParquetFile.fromFile(blobOf(src));
  try {
    const wasmTable = await file.read({ columns: ['Z'] });
    const table = tableFromIPC(wasmTable.intoIPCStream());
    const col = table.getChild('Z');
    const z = new Float64Array(table.numRows);
    if (col) for (let i = 0; i < table.numRows; i++) z[i] = Number(col.get(i) ?? NaN);
    const meta = file.metadata();
    const fileMeta = meta.fileMetadata();
    const kv = fileMeta.keyValueMetadata() as Map<string, string | null | undefined>;
    fileMeta.free();
    meta.free();
    const doc = kv.get(FOOTER_KEY);
    let provenance: Record<string, string> | undefined;
    if (typeof doc === 'string') {
      // A footer is data: whatever its values are, they become text.
      const info = JSON.parse(doc) as Partial<Omit<FooterInfo, 'provenance'>> & { provenance?: Record<string, Record<string, unknown> | undefined> };
      provenance = {};
      if (typeof info.version === 'string') provenance['desi-qad'] = info.version;
      for (const role of ['coadd', 'redrock'] as const)
        for (const [k, v] of Object.entries(info.provenance?.[role] ?? {}))
          if (!PER_TILE_KEYS.has(k)) provenance[`${role} ${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return provenance ? { z, provenance } : { z };
  } finally {
    file.free();
  }
}

/**
 * The Z values and footers of the ok tiles' files (the latest record of each tile), PARQUET_READS at a time;
 * of at most `limit` files (an even sample) when there are more.
 * A file that cannot be read is listed with why, never fatal: the report still shows the rest.
 */
export async function readParquetFacts(records: readonly TileRecord[], openFile: ParquetOpener, limit = Infinity): Promise<ParquetFacts> {
  const latest = new Map<string, TileRecord>();
  for (const r of records) latest.set(r.tile, r);
  const all = [...latest.values()].filter((r) => r.status === 'ok' && pathOf(r) !== undefined && (r.rows ?? 0) > 0);
  all.sort((a, b) => (a.tile < b.tile ? -1 : a.tile > b.tile ? 1 : 0));
  // Past the limit, an even sample across the tiles (every k-th by key): the same files on every report.
  const files = all.length > limit ? Array.from({ length: limit }, (_, i) => all[Math.floor((i * all.length) / limit)]) : all;
  const unreadable: ParquetFacts['unreadable'] = [];
  const groups = new Map<string, { values: Record<string, string>; files: number; example: string }>();
  const parts = await mapLimit(files, PARQUET_READS, async (r) => {
    const path = pathOf(r)!;
    let src: (ByteSource & { close?(): Promise<void> }) | undefined;
    try {
      src = await openFile(path, r.parquetBytes ?? 0);
      const got = await readZAndProvenance(src);
      if (got.provenance) {
        const key = JSON.stringify(Object.entries(got.provenance).sort());
        const g = groups.get(key);
        if (g) g.files += 1;
        else groups.set(key, { values: got.provenance, files: 1, example: path });
      }
      return got.z;
    } catch (err) {
      unreadable.push({ path, message: redactSecrets(err instanceof Error ? err.message : String(err)) });
      return new Float64Array(0);
    } finally {
      await src?.close?.();
    }
  });
  const total = parts.reduce((s, p) => s + p.length, 0);
  const z = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    z.set(p, at);
    at += p.length;
  }
  return {
    z,
    filesRead: files.length - unreadable.length,
    filesTotal: all.length,
    unreadable: unreadable.sort((a, b) => (a.path < b.path ? -1 : 1)),
    provenance: [...groups.values()].sort((a, b) => b.files - a.files),
  };
}

/**
 * The tile's file relative to --out: the record's path, or (records rebuilt from S3 object names carry
 * sizes and counts, not the path) the layout's path of its key.
 */
function pathOf(r: TileRecord): string | undefined {
  if (r.path !== undefined) return r.path;
  const [survey, program, hp, ...rest] = r.tile.split('/');
  const healpix = Number(hp);
  return rest.length === 0 && survey && program && Number.isInteger(healpix) && healpix >= 0 ? outputPath({ survey, program, healpix }) : undefined;
}

/** How much of a log's start is read for its first lines. */
const LOG_HEAD_BYTES = 16 * 1024;

/** What a log's first lines say (run_….log as run.ts writes them); undefined when it names no run. */
export function parseLogHead(file: string, text: string): { run: string; info: RunLogInfo } | undefined {
  const info: RunLogInfo = { file };
  let run: string | undefined;
  for (const raw of text.split('\n').slice(0, 40)) {
    const line = raw.replace(/^\[[^\]]*\] \[[A-Z]+\] - /, '');
    const head = /: run (\S+) on (\S+) \(pid (\d+)\), Node (\S+)/.exec(line);
    if (head && run === undefined) {
      run = head[1];
      info.host = head[2];
      info.pid = Number(head[3]);
      info.node = head[4];
    } else if (line.startsWith('Command: ')) info.command = line.slice('Command: '.length);
    else if (line.startsWith('Settings: ')) {
      info.settings = line.slice('Settings: '.length);
      const b = /--batch-size (\d+)/.exec(info.settings);
      if (b) info.batchSize = Number(b[1]);
    } else if (line.startsWith('Shard ')) info.shardLine = line;
  }
  return run === undefined ? undefined : { run, info };
}

/**
 * The first lines of every run log in `dir` (run_*.log, not plans' logs), by run id; an empty map when the
 * folder does not exist. Later files win for the same run (there is one log per run).
 */
export async function readRunLogs(dir: string, only?: string): Promise<Map<string, RunLogInfo>> {
  const out = new Map<string, RunLogInfo>();
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => /^run_.*\.log$/.test(f) && !f.endsWith('_plan.log')).sort();
  } catch {
    return out;
  }
  if (only !== undefined) names = names.filter((f) => f === only);
  for (const f of names) {
    let text: string;
    try {
      const fh = await open(join(dir, f), 'r');
      try {
        const buf = Buffer.alloc(LOG_HEAD_BYTES);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch {
      continue;
    }
    const got = parseLogHead(f, text);
    if (got) out.set(got.run, got.info);
  }
  return out;
}
