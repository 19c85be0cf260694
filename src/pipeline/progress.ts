import cliProgress from 'cli-progress';
import type { Level } from './log.js';
import { MB } from './format.js';

/**
 * The console side of a run: a progress bar with rate and ETA on a terminal, a plain progress line at
 * intervals when stderr is not a terminal (screen, nohup, a redirected job), and the log lines echoed above
 * the bar. Progress is measured in FITS bytes covered, since tiles range from 1 MB to 5 GB.
 */
export class Progress {
  private readonly multi?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;
  private readonly started = Date.now();
  private readonly tty: boolean;
  private readonly quiet: boolean;
  private totalTiles = 0;

  constructor(opts: { quiet?: boolean; intervalMs?: number } = {}) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined off a terminal, whatever @types/node says
    this.tty = process.stderr.isTTY === true;
    this.quiet = Boolean(opts.quiet);
    if (this.quiet) return;
    this.multi = new cliProgress.MultiBar(
      {
        format: '{bar} {percentage}% | {tiles}/{totalTiles} tiles | {mbps} MB/s | ETA {eta_formatted}',
        noTTYOutput: true,
        notTTYSchedule: opts.intervalMs ?? 30_000,
        hideCursor: true,
        etaBuffer: 50,
        etaAsynchronousUpdate: true,
        stopOnComplete: false,
        clearOnComplete: false,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(totalBytes: number, totalTiles: number): void {
    this.totalTiles = totalTiles;
    this.bar = this.multi?.create(Math.max(totalBytes, 1), 0, { tiles: 0, totalTiles, mbps: '0.00' });
  }

  update(doneBytes: number, doneTiles: number): void {
    const secs = (Date.now() - this.started) / 1000;
    this.bar?.update(doneBytes, { tiles: doneTiles, totalTiles: this.totalTiles, mbps: (doneBytes / MB / Math.max(secs, 1e-3)).toFixed(2) });
  }

  /** Prints a log line on the console without breaking the bar. */
  echo(line: string, _level: Level): void {
    if (this.quiet) return;
    if (this.tty && this.bar && this.multi) this.multi.log(line + '\n');
    else process.stdout.write(line + '\n');
  }

  stop(): void {
    this.multi?.stop();
  }
}
