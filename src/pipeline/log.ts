import { mkdirSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';

export type Level = 'INFO' | 'WARN' | 'ERROR';

/**
 * The run log in the seed's format, `[YYYY-MM-DD HH:MM:SS] [LEVEL] - message`, one file per run at
 * `{logDir}/run_YYYYMMDD_HHMMSS.log`, written line by line so `tail -f` follows it. Lines are also handed to
 * `echo` (the console, which the progress display owns).
 */
export class RunLog {
  private fd?: number;
  readonly path: string;

  constructor(
    logDir: string,
    start: Date,
    private readonly echo: (line: string, level: Level) => void,
  ) {
    mkdirSync(logDir, { recursive: true });
    // run_YYYYMMDD_HHMMSS.log as the seed named it; a second run started in the same second gets _2, _3...
    let path = join(logDir, `run_${stamp(start, '')}.log`);
    for (let n = 2; ; n++) {
      try {
        this.fd = openSync(path, 'wx');
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err;
        path = join(logDir, `run_${stamp(start, '')}_${n}.log`);
      }
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
    for (const part of msg.split('\n')) {
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

/** "2025-09-01 04:09:50" (sep ' ') or "20250901_040950" (sep '') in local time, as the seed's log did. */
export function stamp(d: Date, sep: ' ' | ''): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}${sep ? '-' : ''}${p(d.getMonth() + 1)}${sep ? '-' : ''}${p(d.getDate())}`;
  const time = `${p(d.getHours())}${sep ? ':' : ''}${p(d.getMinutes())}${sep ? ':' : ''}${p(d.getSeconds())}`;
  return sep ? `${date} ${time}` : `${date}_${time}`;
}
