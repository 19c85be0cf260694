/**
 * The survey and program names of `--survey` and `--program`, checked against DESI's sets. A misspelt name
 * (`darkk`, `mian`) would otherwise find no folder and end a run with no tiles and exit 0; a name given
 * twice (`main,main`) would convert each tile twice at once.
 */
import { PROGRAMS, SURVEYS } from './layout.js';

/** What a name list is made of: DESI surveys or DESI programs. */
export type NameKind = 'survey' | 'program';

const KNOWN: Record<NameKind, readonly string[]> = { survey: SURVEYS, program: PROGRAMS };

/**
 * The names of `values` as a run uses them: each trimmed, empty ones dropped, duplicates kept once at their
 * first place. Throws an Error for a name that is not in DESI's set, with the closest name when one is near
 * (`--program "darkk" is not a DESI program (dark, bright, backup, other); did you mean "dark"?`), and for a
 * list that names nothing at all.
 */
export function canonicalNames(kind: NameKind, values: readonly string[]): string[] {
  const known = KNOWN[kind];
  const out: string[] = [];
  for (const raw of values) {
    const name = raw.trim();
    if (name === '' || out.includes(name)) continue;
    if (!known.includes(name)) {
      const near = suggestion(name, known);
      throw new Error(
        `--${kind} ${JSON.stringify(name)} is not a DESI ${kind} (${known.join(', ')})${near !== undefined ? `; did you mean ${JSON.stringify(near)}?` : ''}`,
      );
    }
    out.push(name);
  }
  if (out.length === 0) throw new Error(`--${kind} names no ${kind}: give one or more of ${known.join(', ')}`);
  return out;
}

/**
 * The known name closest to `name` (ignoring case): the one at the smallest Levenshtein distance if that is
 * at most 2, else one that `name` begins or that begins `name` (`bri` → `bright`); undefined if none is.
 */
export function suggestion(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = levenshtein(lower, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== undefined) return best;
  return known.find((k) => lower.length > 0 && (k.startsWith(lower) || lower.startsWith(k)));
}

/** The edit distance of two strings (insertions, deletions and substitutions of one character). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
