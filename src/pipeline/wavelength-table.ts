import { DesiError } from '../desi/errors.js';
import { WAVELENGTH_REL, wavelengthFileSha256 } from '../desi/wavelength.js';
import type { OutputStore } from '../storage/output-store.js';

/**
 * The dataset's wavelength table (`_wavelength/wavelength.parquet`), as one run sees it: established once
 * per run, before the run's first spectra file is written, and compared by every tile after.
 *
 * Establishing: read the file; if it is there, its footer's grid hash is the dataset's. If not, write this
 * tile's table write-once (OutputStore.writeOnce: of concurrent runs and shards at most one creates it, the
 * others find it there), then read back what is there and take its hash, whoever wrote it. A tile whose grid
 * hash differs from the dataset's fails with WAVELENGTH_MISMATCH naming the tile and the table: a dataset
 * never mixes grids, and the table is never rewritten. The table's bytes are a function of the grid alone, so
 * a server that ignores If-None-Match (and lets a second writer overwrite) still holds the same bytes for the
 * same grid; two runs with different grids on such a server are told apart by `desi-qad verify`, which
 * compares every file's footer hash with the table.
 */
export class WavelengthTable {
  private established?: Promise<string>;

  constructor(private readonly out: OutputStore) {}

  /** Where the table is, for messages. */
  get location(): string {
    return this.out.location(WAVELENGTH_REL);
  }

  /**
   * Resolves once the dataset's table holds the grid of hash `sha256` (writing `parquet` if there is none);
   * throws DesiError WAVELENGTH_MISMATCH (naming `tile` and `file`) for another grid, and the store's error
   * when the table cannot be read or written (the next tile tries again).
   */
  async ensure(tile: string, file: string, sha256: string, parquet: Uint8Array): Promise<void> {
    this.established ??= this.establish(parquet).catch((err: unknown) => {
      this.established = undefined;
      throw err;
    });
    const dataset = await this.established;
    if (dataset !== sha256) {
      throw new DesiError(
        'WAVELENGTH_MISMATCH',
        file,
        `tile ${tile}: its wavelength grids (sha256 ${sha256.slice(0, 16)}…) are not the dataset's, ${this.location} (sha256 ${dataset.slice(0, 16)}…): one dataset holds spectra on one grid; convert this tile into another --out`,
        undefined,
        'WAVELENGTH',
      );
    }
  }

  private async establish(parquet: Uint8Array): Promise<string> {
    const existing = await this.out.readFile(WAVELENGTH_REL);
    if (existing !== undefined) return wavelengthFileSha256(existing, this.location);
    await this.out.writeOnce(WAVELENGTH_REL, parquet);
    const now = await this.out.readFile(WAVELENGTH_REL);
    if (now === undefined) throw new Error(`${this.location}: the wavelength table is missing right after it was written`);
    return wavelengthFileSha256(now, this.location);
  }
}
