import { randomBytes } from 'node:crypto';

/**
 * A run's id: its UTC start time, its pid and 4 random bytes, e.g. `20260102T030405-4242-9f3a61c2`. It names
 * the run in the journal, in its temporary files and uploads, in its claims and its heartbeat, so that a
 * run can tell its own leftovers from those of another run, on this machine or another. Only [0-9A-Za-z-].
 */
export function newRunId(start: Date = new Date()): string {
  const stamp = start.toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return `${stamp}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Whether `s` has the shape of a run id (new or older, without the random part). */
export function isRunId(s: string): boolean {
  return /^\d{8}T\d{6}-\d+(?:-[0-9a-f]{8})?$/.test(s);
}
