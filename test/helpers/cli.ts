import { AssertionError } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JournalRecord } from '../../src/storage/journal-store.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';

/** The repository root, from dist/test/helpers/ . */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(REPO, 'bin', 'desi-qad.js');
export const FIXTURE_TREE = join(REPO, 'test', 'fixtures', 'tree');
export const FIXTURE_EXPECTED = join(REPO, 'test', 'fixtures', 'expected');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `desi-qad ARGS` as a real process (the way users run it). */
export function startCli(args: string[], cwd = REPO, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `desi-qad ARGS` to the end and collects its output. */
export function runCli(args: string[], cwd = REPO, env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const child = startCli(args, cwd, env);
  return collect(child);
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer | string) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer | string) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The text of the newest run log in a log folder. */
export async function latestLog(logDir: string): Promise<string> {
  const logs = (await readdir(logDir)).filter((f) => /^run_\d{8}_\d{6}(_\d+)?\.log$/.test(f));
  if (logs.length === 0) throw new Error(`no run log in ${logDir}`);
  const withTimes = await Promise.all(logs.map(async (f) => ({ f, t: (await stat(join(logDir, f))).mtimeMs })));
  withTimes.sort((a, b) => a.t - b.t);
  return readFile(join(logDir, withTimes[withTimes.length - 1].f), 'utf8');
}

/** The last `n` lines of a text, for failure messages. */
function tail(text: string, n = 40): string {
  const lines = text.replace(/\n$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

/**
 * Asserts the CLI's exit code. On a mismatch the message says what the run said: the exit code (or signal),
 * the last 40 lines of stderr and of stdout, and of the newest run log in `logDir` when given, so a failing
 * test tells why instead of `4 !== 1`.
 */
export async function assertExit(r: CliResult, expected: number, logDir?: string): Promise<void> {
  if (r.code === expected) return;
  const parts = [`desi-qad exited with ${r.code === null ? `signal ${r.signal ?? '?'}` : `code ${r.code}`}, expected ${expected}`];
  parts.push(`--- stderr (last 40 lines) ---\n${tail(r.stderr)}`);
  parts.push(`--- stdout (last 40 lines) ---\n${tail(r.stdout)}`);
  if (logDir !== undefined) {
    let log: string;
    try {
      log = tail(await latestLog(logDir));
    } catch (err) {
      log = `(no run log: ${(err as Error).message})`;
    }
    parts.push(`--- newest run log in ${logDir} (last 40 lines) ---\n${log}`);
  }
  throw new AssertionError({ message: parts.join('\n'), actual: r.code, expected, operator: 'assertExit' });
}

/**
 * Every record of a local --out's journal (all runs' files under `_desi-qad/journal/`, and the older single
 * `_desi-qad/journal.jsonl`), oldest first, as the next run would load them.
 */
export async function readLocalJournal(out: string): Promise<JournalRecord[]> {
  return (await new LocalJournalStore(join(out, '_desi-qad', 'journal'), 'test-reader').load()).records;
}

/** Every file under a folder, as paths relative to it (sorted). */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name), rel ? `${rel}/${e.name}` : e.name);
      else out.push(rel ? `${rel}/${e.name}` : e.name);
    }
  };
  await walk(root, '');
  return out.sort();
}
