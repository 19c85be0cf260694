/**
 * The checks of a dataset against its journal (1 to 5 of `desi-qad verify`): the latest record of each tile
 * decides what must be there; every file the journal names ok is there with its journaled size, its footer
 * parses and names the dataset's selection and its own tile, it has the dataset's schema and the journaled
 * row count; and nothing else lies in the dataset (temporaries of runs that are gone, .parquet files no
 * record names). Reads only: one listing and each named file's footer.
 */
import type { FooterInfo } from '../desi/schema.js';
import { isDatasetTablePath, parseOutputPath } from '../desi/output-path.js';
import { WAVELENGTH_REL } from '../desi/wavelength.js';
import { cumulativeOutputPath, parseCumulativeKey } from '../desi/cumulative.js';
import { outputPath, parseTileSpec, tileKey, type TileId } from '../desi/tile.js';
import type { JournalRecord, TileRecord } from '../storage/journal-store.js';
import { TEMP_MARK, temporaryOwner } from '../storage/output-local.js';
import { S3Error } from '../storage/s3-client.js';
import { mapLimit } from '../util/concurrency.js';
import type { DatasetFiles, ListedFile } from './dataset-files.js';
import { FooterProblem, readFileFooter } from './file-footer.js';
import { emptyChecked, finding, type Checked, type Finding } from './findings.js';
import { checkWavelengths } from './wavelength-check.js';
import { codeSchemaProblems, referenceSchemaProblems, schemaSignature, selectionExtraColumns, withColumns, type SchemaSignature } from './schema-check.js';
import { afterburnerKinds } from '../desi/selection.js';

/** Footers read at once. */
const FOOTER_READS = 16;

export interface DatasetCheckInputs {
  files: DatasetFiles;
  /** Every journal record, oldest first (JournalStore.load): the latest record of a tile wins. */
  records: readonly JournalRecord[];
  damaged: number;
  /** The dataset's selection (the manifest's, else the last run record's); undefined when neither says. */
  selection: string | undefined;
  /** Whether the run that owns a temporary is gone (RunRegistry.isGone): a live run's temporary is not stray. */
  isGone: (run: string) => Promise<boolean>;
}

/** A tile whose latest record says ok, with its file. */
export interface OkTile {
  rec: TileRecord;
  path: string;
  listed?: ListedFile;
  /** The footer's `desi_qad` document, when it was read. */
  info?: Partial<FooterInfo>;
  /** The footer's created_by (the Parquet writer), when it was read. */
  createdBy?: string;
}

export interface DatasetCheck {
  findings: Finding[];
  checked: Checked;
  /** The latest record of each tile. */
  latest: Map<string, TileRecord>;
  /** Tiles whose latest record says ok, by key. */
  okTiles: Map<string, OkTile>;
  /** Every file listed under --out but `_desi-qad/`. */
  listing: Map<string, ListedFile>;
  /** Dataset `.parquet` files (not temporaries). */
  parquetFiles: number;
}

/** The latest record of each tile: records arrive oldest first, the last one wins (as Journal does). */
export function latestRecords(records: readonly JournalRecord[]): Map<string, TileRecord> {
  const latest = new Map<string, TileRecord>();
  for (const r of records) if (r.type === 'tile') latest.set(r.tile, r);
  return latest;
}

/** The path a record's file has: the journaled one, else the one its key fixes (S3 records are read from their names). */
function recordPath(rec: TileRecord): string {
  if (rec.path !== undefined) return rec.path;
  const tile = tileOfKey(rec.tile);
  if (tile) return outputPath(tile);
  const unit = parseCumulativeKey(rec.tile);
  return unit ? cumulativeOutputPath(unit) : rec.tile;
}

/** The tile of a journal key "main/dark/23040"; undefined for anything else. */
export function tileOfKey(key: string): TileId | undefined {
  const spec = parseTileSpec(key);
  return spec?.survey !== undefined && spec.program !== undefined ? { survey: spec.survey, program: spec.program, healpix: spec.healpix } : undefined;
}

export async function checkDataset(inp: DatasetCheckInputs): Promise<DatasetCheck> {
  const findings: Finding[] = [];
  const checked = emptyChecked();
  checked.damagedRecords = inp.damaged;
  if (inp.damaged > 0)
    findings.push(finding('journal-damaged', `${inp.damaged} journal record(s) do not parse; their tiles count as not done, and the next run redoes them`));
  const latest = latestRecords(inp.records);
  const listing = await inp.files.list();

  const okTiles = new Map<string, OkTile>();
  const byPath = new Map<string, OkTile>();
  for (const rec of latest.values()) {
    checked[rec.status] += 1;
    if (rec.status !== 'ok') continue;
    const path = recordPath(rec);
    const ok: OkTile = { rec, path, listed: listing.get(path) };
    okTiles.set(rec.tile, ok);
    byPath.set(path, ok);
    if (!ok.listed) {
      findings.push(finding('missing-file', `the journal says ok (run ${rec.run}), but ${path} is not in ${inp.files.root}`, { tile: rec.tile, path }));
      continue;
    }
    if (rec.parquetBytes !== undefined && ok.listed.size !== rec.parquetBytes)
      findings.push(finding('size-mismatch', `${ok.listed.size} bytes, the journal says ${rec.parquetBytes}`, { tile: rec.tile, path }));
  }

  // 5. Nothing else: temporaries of runs that are gone, .parquet files that no latest ok record names.
  let parquetFiles = 0;
  for (const rel of [...listing.keys()].sort()) {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (name.startsWith(TEMP_MARK)) {
      const owner = temporaryOwner(name);
      if (owner !== undefined && !(await inp.isGone(owner))) {
        checked.liveTemporaries += 1;
        continue;
      }
      findings.push(
        finding(
          'stray-temporary',
          owner !== undefined
            ? `a temporary of run ${owner}, which is gone (the next run's sweep removes it)`
            : 'a temporary without a run id (an older version; the next run removes it once it is an hour old)',
          { path: rel },
        ),
      );
      continue;
    }
    if (!name.endsWith('.parquet')) continue;
    if (rel === WAVELENGTH_REL) continue; // the dataset's wavelength table: checked below, not a tile's file
    // The dataset-level tables (_catalog/, _wavelength/) are not tiles' files: no journal record names them.
    if (isDatasetTablePath(rel)) continue;
    parquetFiles += 1;
    if (byPath.has(rel)) continue;
    const tile = parseOutputPath(rel);
    const rec = tile ? latest.get(tileKey(tile)) : undefined;
    const detail = !tile
      ? 'not a dataset path ({survey}/{program}/{pixgroup}/{survey}-{program}-{healpix}.parquet), and no journal record names it'
      : !rec
        ? 'no journal record names this tile'
        : rec.status === 'ok'
          ? `the journal names ${recordPath(rec)} for this tile`
          : `the latest journal record of this tile says ${rec.status} (run ${rec.run}): the file is left from an earlier run`;
    findings.push(finding('stray-file', detail, tile ? { tile: tileKey(tile), path: rel } : { path: rel }));
  }

  // 2-4. Footers: selection, tile, schema, rows.
  const withFiles = [...okTiles.values()].filter((t) => t.listed !== undefined).sort((a, b) => (a.path < b.path ? -1 : 1));
  const signatures = new Map<string, SchemaSignature>();
  await mapLimit(withFiles, FOOTER_READS, async (t) => {
    const where = { tile: t.rec.tile, path: t.path };
    let file;
    try {
      file = await inp.files.open(t.path, t.listed!);
    } catch (err) {
      if (err instanceof S3Error && err.fatal) throw err;
      findings.push(finding('unreadable-file', (err as Error).message, where));
      return;
    }
    try {
      const { footer, info, schema } = await readFileFooter(file);
      checked.footers += 1;
      t.info = info;
      t.createdBy = footer.createdBy;
      if (inp.selection !== undefined && info.selection !== inp.selection)
        findings.push(
          finding(
            'other-selection',
            `its footer names the selection ${JSON.stringify(info.selection)}, the dataset's is ${JSON.stringify(inp.selection)}`,
            where,
          ),
        );
      const pathTile = parseOutputPath(t.path);
      const expectedTile = pathTile ? tileKey(pathTile) : t.rec.tile;
      if (info.tile !== expectedTile || info.tile !== t.rec.tile)
        findings.push(finding('other-tile', `its footer names tile ${JSON.stringify(info.tile)}; its path and the journal say ${expectedTile}`, where));
      if (t.rec.rows !== undefined && footer.numRows !== t.rec.rows)
        findings.push(finding('row-count-mismatch', `its footer says ${footer.numRows} rows, the journal says ${t.rec.rows}`, where));
      const sig = schemaSignature(schema, footer);
      const problems = codeSchemaProblems(sig, info.columns ?? 'default', info.resolution === true, [
        ...selectionExtraColumns(info.selection),
        ...withColumns(afterburnerKinds(info.with ?? [])),
      ]);
      if (problems.length > 0) findings.push(finding('schema-mismatch', problems.slice(0, 3).join('; '), where));
      else signatures.set(t.path, sig);
    } catch (err) {
      if (err instanceof FooterProblem) findings.push(finding('bad-footer', err.message, where));
      else if (err instanceof S3Error && err.fatal) throw err;
      else findings.push(finding('unreadable-file', (err as Error).message, where));
    } finally {
      await file.close();
    }
  });
  // 4b. The wavelength table, and the grid every footer names.
  findings.push(...(await checkWavelengths(inp.files, listing, okTiles.values())));
  // The first good file (by path) is the reference every other file's schema must repeat.
  const paths = [...signatures.keys()].sort();
  const refPath = paths[0];
  for (const path of paths.slice(1)) {
    const problems = referenceSchemaProblems(signatures.get(path)!, signatures.get(refPath)!, refPath);
    if (problems.length > 0) findings.push(finding('schema-mismatch', problems.join('; '), { tile: byPath.get(path)!.rec.tile, path }));
  }
  return { findings, checked, latest, okTiles, listing, parquetFiles };
}
