import { fstatSync } from 'node:fs';

/**
 * The console's two streams, written line by line: a stream that was closed under us (`| head`, a closed
 * terminal) is dropped for the rest of the process instead of crashing it, and a line wider than the
 * terminal is wrapped at word boundaries by us, so the terminal never has to clip or wrap it (cli-progress
 * turns the terminal's own wrapping off while a bar is drawn).
 */
export type ConsoleStream = 'stdout' | 'stderr';

const closed: Record<ConsoleStream, boolean> = { stdout: false, stderr: false };
let guarded = false;

/**
 * Handles 'error' on process.stdout and process.stderr once per process: EPIPE (the reader went away) or any
 * other write error marks the stream closed, silently, and later writes to it are skipped. The run goes on
 * and its log file stays complete. Without this, Node throws the first EPIPE as an unhandled 'error'.
 */
export function guardConsoleStreams(): void {
  if (guarded) return;
  guarded = true;
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', () => {
      closed[name] = true;
    });
  }
}

/** True once `name` failed a write (EPIPE and the like): nothing more is written to it. */
export function isClosed(name: ConsoleStream): boolean {
  return closed[name] || process[name].destroyed;
}

/** The terminal width of a stream, or undefined when it is not a terminal (a pipe or a file: no wrapping). */
export function terminalColumns(name: ConsoleStream): number | undefined {
  const s = process[name];
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined off a terminal, whatever @types/node says
  return s.isTTY === true && s.columns > 0 ? s.columns : undefined;
}

/** True when stdout and stderr are the same terminal (same tty device), as in an interactive shell. */
export function sameTerminal(): boolean {
  if (terminalColumns('stdout') === undefined || terminalColumns('stderr') === undefined) return false;
  try {
    return fstatSync(1).rdev === fstatSync(2).rdev;
  } catch {
    return false;
  }
}

/**
 * Writes one line (a newline is added) to stdout or stderr, unless that stream is closed. On a terminal the
 * line is first fitted to its width (fitToWidth); to a pipe or a file it is written as is.
 */
export function writeLine(name: ConsoleStream, line: string): void {
  if (isClosed(name)) return;
  const columns = terminalColumns(name);
  const text = columns === undefined ? line : fitToWidth(line, columns);
  try {
    process[name].write(text + '\n');
  } catch {
    closed[name] = true;
  }
}

/** The `[2025-09-01 04:09:50] [INFO] - ` prefix of a log line: continuation lines are indented under its end. */
const LOG_PREFIX = /^\[[^\]]*\] \[[A-Z]+\] - /;

/**
 * `line` broken into lines no wider than `columns - 1` display columns (the last column is left free, so no
 * terminal ever wraps or clips): at spaces where possible, inside a word only when the word alone is too
 * wide. Continuation lines are indented to the message of a log line (or by 2 spaces), so a wrapped line
 * still reads as one. A line that fits is returned unchanged.
 */
export function fitToWidth(line: string, columns: number): string {
  const limit = Math.max(columns - 1, 10);
  if (displayWidth(line) <= limit) return line;
  const prefix = LOG_PREFIX.exec(line)?.[0].length ?? 0;
  const indent = ' '.repeat(prefix > 0 && prefix <= limit / 2 ? prefix : 2);
  const out: string[] = [];
  let cur = '';
  let curWidth = 0;
  const room = () => (out.length === 0 ? limit : limit - indent.length);
  const flush = () => {
    out.push(out.length === 0 ? cur.trimEnd() : indent + cur.trimEnd());
    cur = '';
    curWidth = 0;
  };
  line.split(' ').forEach((word, i) => {
    const w = displayWidth(word);
    // The space before a word; dropped at the start of a continuation line.
    const sep = () => (i > 0 && !(cur.length === 0 && out.length > 0) ? 1 : 0);
    if (curWidth > 0 && curWidth + sep() + w > room()) flush();
    if (sep()) {
      cur += ' ';
      curWidth += 1;
    }
    if (curWidth + w <= room()) {
      cur += word;
      curWidth += w;
      return;
    }
    // A word wider than a whole line: cut it into pieces that fit.
    for (const ch of word) {
      const cw = displayWidth(ch);
      if (curWidth > 0 && curWidth + cw > room()) flush();
      cur += ch;
      curWidth += cw;
    }
  });
  if (cur.length > 0) flush();
  return out.join('\n');
}

/**
 * Columns a string takes on a terminal: wide characters (CJK, emoji such as the run's ✅) count 2, combining
 * marks and variation selectors 0, others 1. Close enough for log lines, which are ASCII but for a few symbols.
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (/\p{M}/u.test(ch) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) continue;
    if (/\p{Extended_Pictographic}/u.test(ch) && cp >= 0x2300) w += 2;
    else if (
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xff00 && cp <= 0xff60)
    )
      w += 2;
    else w += 1;
  }
  return w;
}
