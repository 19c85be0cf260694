import { mkdirSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { redactSecrets } from '../util/secrets.js';

export type Level = 'INFO' | 'WARN' | 'ERROR';

/**
 * The run log in the seed's format, `[YYYY-MM-DD HH:MM:SS] [LEVEL] - message`, one file per run at
 * `{logDir}/run_YYYYMMDD_HHMMSS.log` (`run_…_shard-K-of-N.log` for a shard), written line by line so `tail -f` follows it. Lines are also handed to
 * `echo` (the console, which the progress display owns). Every line goes through util/secrets.ts
 * redactSecrets first: no credential value in use reaches the file or the console.
 */
export class RunLog {
  private fd?: number;
  readonly path: string;

  /** `suffix` names what kind of run it is, after the time: "shard-2-of-4" → run_YYYYMMDD_HHMMSS_shard-2-of-4.log. */
  constructor(
    logDir: string,
    start: Date,
    private readonly echo: (line: string, level: Level) => void,
    suffix?: string,
  ) {
    // run_YYYYMMDD_HHMMSS.log as the seed named it; a second run started in the same second gets _2, _3...
    const base = `run_${stamp(start, '')}${suffix ? `_${suffix}` : ''}`;
    let path = join(logDir, `${base}.log`);
    try {
      mkdirSync(logDir, { recursive: true });
      for (let n = 2; ; n++) {
        try {
          this.fd = openSync(path, 'wx');
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err;
          path = join(logDir, `${base}_${n}.log`);
        }
      }
    } catch (err) {
      throw new LogDirError(logDir, err as NodeJS.ErrnoException);
    }
    this.path = path;
  }

  info(msg: string): void {
    this.write('INFO', msg);
  }
  warn(msg: string): void {
    this.write('WARN', msg);
  }
  error(msg: string): void {
    this.write('ERROR', msg);
  }

  private write(level: Level, msg: string): void {
    const now = new Date();
    for (const part of redactSecrets(msg).split('\n')) {
      const line = `[${stamp(now, ' ')}] [${level}] - ${part}`;
      if (this.fd !== undefined) writeSync(this.fd, line + '\n');
      this.echo(line, level);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * The run log cannot be created: its folder cannot be made or written (not a directory, no permission,
 * read-only, full). The message is one line naming the folder, the cause and the way out (--log-dir);
 * `code` is the errno (ENOTDIR, EACCES, EROFS, ENOSPC...), so the caller can print it and exit 4.
 */
export class LogDirError extends Error {
  override name = 'LogDirError';
  readonly code: string | undefined;
  constructor(
    readonly logDir: string,
    cause: NodeJS.ErrnoException,
  ) {
    const why = ERRNO_TEXT[cause.code ?? ''] ?? cause.message;
    super(`cannot write the run log in ${logDir}: ${why}${cause.code ? ` (${cause.code})` : ''}; fix the folder or pick another with --log-dir`, {
      cause,
    });
    this.code = cause.code;
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name is in the way',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  ENOENT: 'a part of the path does not exist',
};

/** "2025-09-01 04:09:50" (sep ' ') or "20250901_040950" (sep '') in local time, as the seed's log did. */
export function stamp(d: Date, sep: ' ' | ''): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}${sep ? '-' : ''}${p(d.getMonth() + 1)}${sep ? '-' : ''}${p(d.getDate())}`;
  const time = `${p(d.getHours())}${sep ? ':' : ''}${p(d.getMinutes())}${sep ? ':' : ''}${p(d.getSeconds())}`;
  return sep ? `${date} ${time}` : `${date}_${time}`;
}
