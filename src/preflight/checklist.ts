/**
 * The preflight checklist: the seed's dry-run table (what was checked, its target, what was measured, ✅ or
 * ❌), kept as data so that the console table and `--json` say the same thing, and "cleared" is decided in
 * one place: every item that has a target holds.
 */

/** One line of the checklist. `ok` undefined: information only (the projection), never decides clearance. */
export interface ChecklistItem {
  /** A stable identifier for scripts and tests: "source", "batches", "failureRate", "reduction", ... */
  id: string;
  /** What is checked, as the seed named it. */
  name: string;
  /** What must hold, in words ("at most 10.00%"). */
  target: string;
  /** What was measured, in words. */
  value: string;
  ok?: boolean;
}

/** The checklist of one preflight, as `--json` prints it. */
export interface Checklist {
  cleared: boolean;
  /** Names of the items that did not hold (empty when cleared). */
  failed: string[];
  items: ChecklistItem[];
}

/** Cleared when every item with a target holds; the failed items are named in the order of the table. */
export function decide(items: ChecklistItem[]): Checklist {
  const failed = items.filter((i) => i.ok === false).map((i) => i.name);
  return { cleared: failed.length === 0, failed, items };
}

/** The mark of an item: ✅ holds, ❌ does not, ℹ️ information. */
export function mark(i: ChecklistItem): string {
  return i.ok === undefined ? 'ℹ️' : i.ok ? '✅' : '❌';
}

/**
 * The table for the console, one item per line (`✅ Failure rate : 0.00% (0 of 40 tiles)   target: at most
 * 10.00%`), then "Cleared for the full run." or "Not cleared: failure rate, verify.".
 */
export function checklistLines(c: Checklist): string[] {
  const width = Math.max(...c.items.map((i) => i.name.length));
  const lines = ['--- Preflight checklist ---'];
  for (const i of c.items) lines.push(`${mark(i)} ${i.name.padEnd(width)} : ${i.value}${i.target ? `  (target: ${i.target})` : ''}`);
  lines.push(c.cleared ? '✅ Cleared for the full run.' : `❌ Not cleared: ${c.failed.map((n) => n.toLowerCase()).join(', ')}.`);
  return lines;
}
