/**
 * Profiling aid (issue 13): the tile tables of the bench dataset, encoded with several parquet-wasm writer
 * settings, timed one thread, sizes compared. Usage: node dist/bench/encode-variants.js [variant,...] [--rounds 3]
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType, tableToIPC, type Table } from 'apache-arrow';
import { Compression, EnabledStatistics, Encoding, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm';
import { findHdu, scanHdus, readHduData } from '../src/fits/index.js';
import { parseSelection } from '../src/desi/selection.js';
import { fillPlan, planSpectraReads } from '../src/desi/read-plan.js';
import { MemorySource } from '../src/storage/source.js';
import { toEncodeTask, toTableInput, toWire } from '../src/pipeline/tasks.js';
import { buildTileTable, footerMetadata } from '../src/desi/tile-table.js';
import { decodeGrids } from '../src/desi/wavelength.js';
import { encodeParquetStream, planEncodings, tableByteLength } from '../src/parquet/index.js';
import * as worker from '../workers/tile-worker.js';
import type { SynthReport } from '../src/synth/index.js';

const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 1;
const dump = args.includes('--dump') ? args[args.indexOf('--dump') + 1] : undefined;
const wanted = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));

async function tables(report: SynthReport): Promise<{ table: Table; meta: Record<string, string> }[]> {
  const selection = parseSelection({ spectype: 'any', keepZwarn: true });
  const out: { table: Table; meta: Record<string, string> }[] = [];
  for (const t of report.tiles) {
    const rr = new MemorySource(t.redrockPath, new Uint8Array(await readFile(t.redrockPath)));
    const co = new MemorySource(t.coaddPath, new Uint8Array(await readFile(t.coaddPath)));
    const rs = findHdu(rr.name, await scanHdus(rr), 'REDSHIFTS');
    const sel = await worker.select({ file: rr.name, hdu: toWire(rs), data: await readHduData(rr, rs), selection });
    if (sel.targetids.length === 0) continue;
    const hdus = await scanHdus(co);
    const fm = findHdu(co.name, hdus, 'FIBERMAP');
    const match = await worker.match({ file: co.name, hdu: toWire(fm), data: await readHduData(co, fm), targetids: sel.targetids });
    const plan = planSpectraReads(co.name, hdus, match.nspec, match.coaddRows, 0);
    const { spectra, wavelengths } = fillPlan(plan, await Promise.all(plan.reads.map((g) => co.slice(g.start, g.end))));
    const task = toEncodeTask({
      coaddFile: co.name,
      tile: { survey: t.survey, program: t.program, healpix: t.healpix },
      redshifts: sel.redshifts,
      match: { coaddRows: match.coaddRows, order: match.order, fibermap: match.fibermap },
      spectra,
      wavelengths,
      metadata: { version: 'bench', selection: 'bench', tile: 'bench', sources: [], provenance: { coadd: {}, redrock: {} } },
    });
    const input = toTableInput(task);
    const { table } = buildTileTable(input);
    out.push({ table, meta: footerMetadata(input, decodeGrids(input.coaddFile, input.wavelengths)) });
  }
  return out;
}

interface Opts {
  leafStats?: EnabledStatistics;
  dict: 'today' | 'off' | 'on';
  enc?: Encoding;
  stats?: EnabledStatistics;
  codec?: Compression;
  page?: number;
  v2?: boolean;
  batch?: number;
}

function props(table: Table, meta: Record<string, string>, o: Opts) {
  const plan = planEncodings(table);
  let b = new WriterPropertiesBuilder()
    .setCompression(o.codec ?? Compression.ZSTD)
    .setStatisticsEnabled(o.leafStats ?? o.stats ?? EnabledStatistics.Page)
    .setMaxRowGroupSize(16384);
  if (o.v2) b = b.setWriterVersion(WriterVersion.V2);
  if (o.page !== undefined) b = b.setDataPageSizeLimit(o.page);
  if (o.batch !== undefined) b = b.setWriteBatchSize(o.batch);
  if (o.enc !== undefined) b = b.setEncoding(o.enc);
  else if (o.dict === 'today') b = b.setEncoding(Encoding[plan.defaultEncoding]);
  if (o.dict === 'today') b = b.setDictionaryEnabled(true).setDictionaryPageSizeLimit(plan.dictionaryPageSizeLimit ?? 1 << 20);
  else b = b.setDictionaryEnabled(o.dict === 'on');
  for (const [name, enc] of Object.entries(plan.columns)) {
    b = b.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, Encoding[enc]);
    if (o.leafStats !== undefined) b = b.setColumnStatisticsEnabled(name, o.stats ?? EnabledStatistics.Page);
  }
  b = b.setKeyValueMetadata(new Map(Object.entries(meta)));
  return b.build();
}

// OLD_ENCODE=path/to/another/checkout/dist/src/parquet/encode.js adds variant 'old': that checkout's encodeParquetStream.
const old = process.env.OLD_ENCODE ? ((await import(process.env.OLD_ENCODE)) as { encodeParquetStream: typeof encodeParquetStream }) : undefined;

const VARIANTS: Record<string, Opts | 'encodeParquetStream' | 'own' | 'wasm' | 'old' | 'ipc-only'> = {
  today: 'encodeParquetStream', // the default writer (DESI_QAD_PARQUET_WRITER as set, else the own writer)
  own: 'own', // encodeParquetStream with DESI_QAD_PARQUET_WRITER=own (src/parquet/writer)
  wasm: 'wasm', // encodeParquetStream with DESI_QAD_PARQUET_WRITER=wasm (parquet-wasm)
  old: 'old',
  'today-direct': { dict: 'today' },
  'ipc-only': 'ipc-only',
  'plain-nodict': { dict: 'off', enc: Encoding.PLAIN },
  'plain-nodict-v2': { dict: 'off', v2: true }, // floats PLAIN, ints DELTA_BINARY_PACKED (arrow-rs V2 fallback)
  'today-chunkstats': { dict: 'today', stats: EnabledStatistics.Chunk },
  'today-nostats': { dict: 'today', stats: EnabledStatistics.None },
  'today-page8m': { dict: 'today', page: 8 << 20 },
  'today-v2': { dict: 'today', v2: true },
  'today-snappy': { dict: 'today', codec: Compression.SNAPPY },
  'today-lz4raw': { dict: 'today', codec: Compression.LZ4_RAW },
  'today-none': { dict: 'today', codec: Compression.UNCOMPRESSED },
  'today-leafnostats': { dict: 'today', leafStats: EnabledStatistics.None },
  'today-leafchunkstats': { dict: 'today', leafStats: EnabledStatistics.Chunk },
  'split-nodict': { dict: 'off', enc: Encoding.BYTE_STREAM_SPLIT }, // float leaves only (DuckDB refuses it on ints)
  'split-nodict-none': { dict: 'off', enc: Encoding.BYTE_STREAM_SPLIT, codec: Compression.UNCOMPRESSED },
  'plain-nodict-none': { dict: 'off', enc: Encoding.PLAIN, codec: Compression.UNCOMPRESSED },
  'today-batch8k': { dict: 'today', batch: 8192 },
};

function pick(table: Table, cols: string): Table {
  if (cols === 'all') return table;
  const names = table.schema.fields
    .filter((f) => {
      const list = DataType.isList(f.type);
      const leaf: DataType | undefined = list ? ((f.type as DataType).children[0].type as DataType) : undefined;
      if (cols === 'cat') return !list;
      if (cols === 'float') return list && DataType.isFloat(leaf);
      if (cols === 'int') return list && DataType.isInt(leaf);
      return cols.split(',').includes(f.name);
    })
    .map((f) => f.name);
  return table.select(names);
}

async function main(): Promise<void> {
  const report = JSON.parse(await readFile(join('bench', '.cache', 'seed-dry-run-scale-0.2', 'synth-report.json'), 'utf8')) as SynthReport;
  const cols = args.includes('--cols') ? args[args.indexOf('--cols') + 1] : 'all';
  const ts = (await tables(report)).map(({ table, meta }) => ({ table: pick(table, cols), meta }));
  const raw = ts.reduce((s, t) => s + tableByteLength(t.table), 0);
  process.stdout.write(`${ts.length} tables, ${(raw / 1e6).toFixed(1)} MB raw (Arrow buffers)\n`);
  const names = wanted.length > 0 ? wanted : Object.keys(VARIANTS);
  for (const { table, meta } of ts.slice(0, 8)) writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props(table, meta, { dict: 'today' })); // warm-up (tier-up)
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const v = VARIANTS[name];
      if (v === undefined) throw new Error(`unknown variant ${name}`);
      let bytes = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      let i = 0;
      for (const { table, meta } of ts) {
        let out: Uint8Array;
        if (v === 'encodeParquetStream') out = await encodeParquetStream(table, meta);
        else if (v === 'own' || v === 'wasm') {
          process.env.DESI_QAD_PARQUET_WRITER = v;
          out = await encodeParquetStream(table, meta);
          delete process.env.DESI_QAD_PARQUET_WRITER;
        } else if (v === 'old') {
          if (old === undefined) throw new Error('variant old needs OLD_ENCODE');
          out = await old.encodeParquetStream(table, meta);
        } else if (v === 'ipc-only') {
          WasmTable.fromIPCStream(tableToIPC(table, 'stream')).free();
          out = new Uint8Array(0);
        } else out = writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props(table, meta, v));
        bytes += out.byteLength;
        if (dump !== undefined && r === 0) {
          await mkdir(join(dump, name), { recursive: true });
          await writeFile(join(dump, name, `${i}.parquet`), out);
        }
        i++;
      }
      const sec = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(cpu0);
      const cpu = (c.user + c.system) / 1e6;
      process.stdout.write(
        `${new Date().toISOString().slice(11, 19)} round ${r} ${name.padEnd(18)} wall ${(raw / 1e6 / sec).toFixed(1).padStart(7)} MB/s  cpu ${(raw / 1e6 / cpu).toFixed(1).padStart(7)} MB/s  ${(bytes / 1e6).toFixed(2).padStart(8)} MB\n`,
      );
    }
  }
}

await main();
