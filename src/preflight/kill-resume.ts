import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalRecord, TileRecord } from '../storage/journal-store.js';
import { LocalJournalStore } from '../storage/journal-local.js';

/** How a child `desi-qad` ended, what it said on stderr (the last lines), and how long it ran. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when this process killed it (SIGKILL at the kill point). */
  killed: boolean;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Date.now() when the child ended. */
  endedAt: number;
}

/** At most this much of a child's stdout and stderr is kept (verify's JSON fits; a run's warnings are cut). */
const KEEP_CHARS = 1 << 20;

/**
 * Runs a child `desi-qad` to its end. With a `watch`, its `poll` is called every `pollMs` while the child
 * runs (to follow its log and journal); the child is sent SIGKILL the first time it answers true: the crash a
 * resume must survive (no handler runs, nothing is flushed).
 */
export function runChild(start: () => ChildProcess, watch?: { poll: () => Promise<boolean>; pollMs?: number }): Promise<ChildResult> {
  const t0 = Date.now();
  const child = start();
  let stdout = '';
  let stderr = '';
  let killed = false;
  let ended = false;
  child.stdout?.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-KEEP_CHARS)));
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-KEEP_CHARS)));
  if (watch) {
    const poll = async () => {
      while (!ended && !killed) {
        let kill = false;
        try {
          kill = await watch.poll();
        } catch {
          // A journal line being written, a log not yet created: asked again at the next poll.
        }
        if (kill && !ended) {
          killed = child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setTimeout(r, watch.pollMs ?? 10));
      }
    };
    void poll();
  }
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ended = true;
      const endedAt = Date.now();
      resolve({ code, signal, killed: killed && signal === 'SIGKILL', stdout, stderr, wallMs: endedAt - t0, endedAt });
    });
  });
}

/**
 * The kill point, "in the middle of a batch": some tiles journaled and not all, and, when the sample has more
 * than one batch, the log showing the first batch summarized and the second started (the seed killed batch 3;
 * the first batch boundary is the earliest point that exercises a resume across batches).
 */
export function atKillPoint(o: { log: string; journaled: number; sample: number; batches: number }): boolean {
  if (o.journaled < 1 || o.journaled >= o.sample) return false;
  if (o.batches < 2) return true;
  return o.log.includes('--- Batch Summary ---') && o.log.includes('--- Starting Batch 2/');
}

/** Every record of the journal of a local --out (every run's file), oldest first. */
export async function readJournal(out: string): Promise<JournalRecord[]> {
  return (await new LocalJournalStore(join(out, '_desi-qad', 'journal'), 'preflight-reader').load()).records;
}

/** The tile records of a journal. */
export function tileRecords(records: JournalRecord[]): TileRecord[] {
  return records.filter((r): r is TileRecord => r.type === 'tile');
}

/** The text of the run log of `run` in a log folder (its first line names the run), or '' when there is none yet. */
export async function runLogText(logDir: string, run?: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(logDir)).filter((f) => /^run_\d{8}_\d{6}(_\d+)?\.log$/.test(f)).sort();
  } catch {
    return '';
  }
  const texts = await Promise.all(names.map((f) => readFile(join(logDir, f), 'utf8')));
  if (run === undefined) return texts.join('\n');
  return texts.find((t) => t.includes(`: run ${run} on `)) ?? '';
}
