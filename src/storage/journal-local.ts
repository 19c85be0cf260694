import { mkdir, open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from './output-local.js';
import { parseJournalLines, type JournalRecord, type JournalStore } from './journal-store.js';

/**
 * The journal as one JSONL file beside the dataset. Each record is one write() of a whole line followed by
 * fdatasync. A kill -9 can tear only the last line; load() cuts such a torn tail off before appending, so it
 * can never glue itself to the next record.
 */
export class LocalJournalStore implements JournalStore {
  private fh?: FileHandle;

  constructor(readonly location: string) {}

  async load(): Promise<{ records: JournalRecord[]; damaged: number }> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], damaged: 0 };
      throw new Error(`journal ${this.location}: cannot read (${(err as Error).message})`);
    }
    const cut = text.lastIndexOf('\n') + 1;
    if (cut < text.length) {
      // A torn final line from a kill during append: drop it (its tile was not recorded, so it is redone).
      await truncate(this.location, Buffer.byteLength(text.slice(0, cut)));
      text = text.slice(0, cut);
    }
    return parseJournalLines(text);
  }

  async append(rec: JournalRecord): Promise<void> {
    if (!this.fh) {
      await mkdir(dirname(this.location), { recursive: true });
      this.fh = await open(this.location, 'a');
      await this.fh.sync();
      await fsyncDir(dirname(this.location));
    }
    const line = Buffer.from(JSON.stringify(rec) + '\n');
    const { bytesWritten } = await this.fh.write(line);
    if (bytesWritten !== line.byteLength) throw new Error(`journal ${this.location}: short write (${bytesWritten} of ${line.byteLength} bytes)`);
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
