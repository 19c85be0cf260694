import cliProgress from 'cli-progress';
import type { Level } from './log.js';
import { MB } from './format.js';
import { fitToWidth, isClosed, sameTerminal, terminalColumns, writeLine } from '../cli/console.js';

/**
 * The console side of a run: a progress bar with rate and ETA on stderr when it is a terminal, a plain
 * progress line at intervals when it is not (screen, nohup, a redirected job), and the log lines: INFO on
 * stdout, WARN and ERROR on stderr, the way aws-cli and rclone split them.
 *
 * While the bar is drawn, the lines bound for its terminal are printed above it (MultiBar.log, on the bar's
 * stream, flushed at the bar's next redraw); after `stop()` every line is written directly, so the run's
 * ending (last summary, outcome table, totals, exit reason) reaches the screen. Lines wider than the
 * terminal are wrapped by console.ts; the terminal's own autowrap is left on (`linewrap: true`), since
 * cli-progress's default turns it off and a long line then overwrites the last column (`…Status=ok`
 * showing as `…Stk`). `quiet` silences the bar and the INFO lines; WARN and ERROR are always printed.
 * Progress is measured in FITS bytes covered, since tiles range from 1 MB to 5 GB.
 */
export class Progress {
  private readonly multi?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;
  private readonly started = Date.now();
  /** The bar is drawn on a terminal (stderr), as opposed to plain lines at intervals. */
  private readonly tty: boolean;
  /** stdout is the bar's terminal too, so INFO lines must go above the bar rather than under it. */
  private readonly stdoutOnBar: boolean;
  private readonly quiet: boolean;
  private stopped = false;
  private totalTiles = 0;

  constructor(opts: { quiet?: boolean; intervalMs?: number } = {}) {
    const columns = terminalColumns('stderr');
    this.tty = columns !== undefined;
    this.stdoutOnBar = this.tty && sameTerminal();
    this.quiet = Boolean(opts.quiet);
    if (this.quiet) return;
    this.multi = new cliProgress.MultiBar(
      {
        format: '{bar} {percentage}% | {tiles}/{totalTiles} tiles | {mbps} MB/s | ETA {eta_formatted}',
        // About 50 columns of figures follow the bar: a narrow terminal gets a shorter bar, not a cut line.
        barsize: Math.max(10, Math.min(40, (columns ?? 100) - 60)),
        noTTYOutput: true,
        notTTYSchedule: opts.intervalMs ?? 30_000,
        hideCursor: true,
        // Keep the terminal's autowrap on (see the class comment); the bar itself is cut to the width.
        linewrap: true,
        // Redraw the bar after every flush of log lines, which overwrote it, even when its figures did not change.
        forceRedraw: true,
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
    if (this.stopped || isClosed('stderr')) return;
    this.bar = this.multi?.create(Math.max(totalBytes, 1), 0, { tiles: 0, totalTiles, mbps: '0.00' });
  }

  update(doneBytes: number, doneTiles: number): void {
    // The bar's stream went away (EPIPE, a closed terminal): stop drawing, the run goes on.
    if (this.drawing() && isClosed('stderr')) this.stop();
    const secs = (Date.now() - this.started) / 1000;
    this.bar?.update(doneBytes, { tiles: doneTiles, totalTiles: this.totalTiles, mbps: (doneBytes / MB / Math.max(secs, 1e-3)).toFixed(2) });
  }

  /** Prints a log line on the console: INFO on stdout (not with `quiet`), WARN and ERROR on stderr; never through the bar. */
  echo(line: string, level: Level): void {
    if (this.quiet && level === 'INFO') return;
    const stream = level === 'INFO' ? 'stdout' : 'stderr';
    if (this.drawing() && (stream === 'stderr' || this.stdoutOnBar)) {
      if (!isClosed('stderr')) this.multi?.log(fitToWidth(line, terminalColumns('stderr') ?? 1_000_000) + '\n');
      return;
    }
    writeLine(stream, line);
  }

  /**
   * Stops the bar, leaving its final state on screen, after printing the lines still waiting above it. Later
   * lines are written directly. Safe to call more than once, and before `start`.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.multi || !this.bar) return;
    // MultiBar.stop() drops the lines logged since its last redraw: one last redraw prints them first.
    if (this.tty && !isClosed('stderr')) this.multi.update();
    this.multi.stop();
  }

  /** The bar is on a terminal now: lines bound for that terminal go through MultiBar.log. */
  private drawing(): boolean {
    return this.tty && !this.stopped && this.bar !== undefined;
  }
}
