import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from './output-local.js';
import { parseJournalLines, type JournalRecord, type JournalStore } from './journal-store.js';
import { newRunId } from './run-id.js';

/**
 * The journal as a folder of JSONL files beside the dataset, one file per run: `{out}/_desi-qad/journal/
 * {run}.jsonl`. Many runs may write one dataset at once (on one machine or over NFS): each appends only to
 * its own file, so there is one writer per file and neither O_APPEND atomicity nor NFS's lack of it
 * matters. Each record is one write() of a whole line followed by fdatasync.
 *
 * load() reads every `*.jsonl` in the folder, plus the journal of older versions, `{out}/_desi-qad/
 * journal.jsonl`, read-only. A last line without its newline is counted as damaged and skipped but never
 * cut off: it may be another live run's write in progress. Nothing is ever glued to such a tail, because a
 * run always appends to a file it created itself (a new one after a failed write).
 */
export class LocalJournalStore implements JournalStore {
  /** The journal folder (what logs name). */
  readonly location: string;
  /** The single-file journal of earlier versions, `{folder}.jsonl`; read if present, never written. */
  readonly legacyPath: string;
  private opening?: Promise<FileHandle>;
  /** Handles given up after a failed write (their file may end torn); closed by close(). */
  private readonly retired: Promise<FileHandle>[] = [];
  private fileName?: string;

  /**
   * `dir` is the journal folder; `run` names this writer's file (a run id, default a new one). Two stores
   * given the same run never share a file: the second gets `{run}.1.jsonl`, and so on.
   */
  constructor(
    dir: string,
    readonly run: string = newRunId(),
  ) {
    this.location = dir.replace(/[\\/]+$/, '');
    this.legacyPath = `${this.location}.jsonl`;
  }

  /** The file this store appends to, once it has appended (for logs and tests). */
  get file(): string | undefined {
    return this.fileName === undefined ? undefined : join(this.location, this.fileName);
  }

  /**
   * Every record of every run's file and of the legacy file, in time order: by `time` (made non-decreasing
   * within each file, so a writer's clock stepping back cannot reorder its own records), then by file name
   * (the legacy file first), then by line. "The latest record of a tile wins" is thus a total order.
   */
  async load(): Promise<{ records: JournalRecord[]; damaged: number }> {
    const files: { path: string; sortName: string }[] = [];
    let entries: Dirent[];
    try {
      entries = await readdir(this.location, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`journal ${this.location}: cannot list (${(err as Error).message})`);
      entries = [];
    }
    for (const e of entries) if (e.isFile() && e.name.endsWith('.jsonl')) files.push({ path: join(this.location, e.name), sortName: `1${e.name}` });
    files.push({ path: this.legacyPath, sortName: '0' });

    const merged: { rec: JournalRecord; t: number; file: string; line: number }[] = [];
    let damaged = 0;
    for (const f of files) {
      const text = await readIfPresent(f.path);
      if (text === undefined) continue;
      const cut = text.lastIndexOf('\n') + 1;
      // A last line without its newline is torn (a kill during append) or still being written by a live
      // run: skip it, and leave the file alone.
      if (text.slice(cut).trim() !== '') damaged += 1;
      const parsed = parseJournalLines(text.slice(0, cut));
      damaged += parsed.damaged;
      let t = -Infinity;
      parsed.records.forEach((rec, line) => {
        const ms = Date.parse(rec.time);
        if (ms > t) t = ms;
        merged.push({ rec, t, file: f.sortName, line });
      });
    }
    merged.sort((a, b) => a.t - b.t || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line);
    return { records: merged.map((m) => m.rec), damaged };
  }

  async append(rec: JournalRecord): Promise<void> {
    this.opening ??= this.createOwnFile();
    const handle = this.opening;
    const fh = await handle;
    const line = Buffer.from(JSON.stringify(rec) + '\n');
    try {
      const { bytesWritten } = await fh.write(line);
      if (bytesWritten !== line.byteLength) throw new Error(`short write (${bytesWritten} of ${line.byteLength} bytes)`);
      await fh.datasync();
    } catch (err) {
      // The file may now end in a torn line: later records go to a new file, never glued to it.
      if (this.opening === handle) {
        this.retired.push(handle);
        this.opening = undefined;
      }
      throw new Error(`journal ${join(this.location, this.fileName ?? '?')}: cannot append (${(err as Error).message})`);
    }
  }

  async close(): Promise<void> {
    const all = [...this.retired.splice(0), ...(this.opening ? [this.opening] : [])];
    this.opening = undefined;
    for (const h of all) await (await h.catch(() => undefined))?.close();
  }

  /** Creates this writer's own new file (never an existing one) and makes its name durable in the folder. */
  private async createOwnFile(): Promise<FileHandle> {
    try {
      await mkdir(this.location, { recursive: true });
      const stem = fileStem(this.run);
      for (let k = 0; ; k++) {
        const name = k === 0 ? `${stem}.jsonl` : `${stem}.${k}.jsonl`;
        try {
          const fh = await open(join(this.location, name), 'wx');
          this.fileName = name;
          await fh.sync();
          await fsyncDir(this.location);
          return fh;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
    } catch (err) {
      this.opening = undefined;
      throw new Error(`journal ${this.location}: cannot create the file of run ${this.run} (${(err as Error).message})`);
    }
  }
}

/** A file's text, or undefined when it does not exist (or is a folder). */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw new Error(`journal ${path}: cannot read (${(err as Error).message})`);
  }
}

/** A file-name stem for a run id: run ids are [0-9A-Za-z-] already; anything else is made safe and short. */
function fileStem(run: string): string {
  const safe = run.replace(/[^A-Za-z0-9._-]/g, '_');
  if (safe === run && safe.length <= 100 && !safe.startsWith('.')) return safe;
  return `${safe.replace(/^\.+/, '').slice(0, 80)}-${createHash('sha256').update(run).digest('hex').slice(0, 16)}`;
}
