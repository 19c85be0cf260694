/**
 * How `desi-qad verify` prints its report: one line per finding (kind, tile, path, detail) and a summary
 * line; or, with --json, the report as one JSON document. Every detail is redacted (util/secrets.ts) here,
 * the one place text leaves the command.
 */
import { redactSecrets } from '../util/secrets.js';
import type { VerifyReport } from './findings.js';

/** The report with every text redacted: what both outputs show. */
export function redactReport(r: VerifyReport): VerifyReport {
  return {
    ...r,
    dataset: redactSecrets(r.dataset),
    findings: r.findings.map((f) => ({ ...f, ...(f.path !== undefined ? { path: redactSecrets(f.path) } : {}), detail: redactSecrets(f.detail) })),
  };
}

/** The readable table: the findings in aligned columns, what was checked, and the summary line. */
export function reportLines(report: VerifyReport): string[] {
  const r = redactReport(report);
  const lines: string[] = [];
  if (r.findings.length > 0) {
    const rows = r.findings.map((f) => [f.kind, f.tile ?? '-', f.path ?? '-', f.detail]);
    const width = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), ['kind', 'tile', 'path'][i].length));
    const line = (row: string[]) => `${row[0].padEnd(width[0])}  ${row[1].padEnd(width[1])}  ${row[2].padEnd(width[2])}  ${row[3]}`;
    lines.push(line(['kind', 'tile', 'path', 'detail']));
    for (const row of rows) lines.push(line(row));
  }
  const c = r.checked;
  const parts = [`ok ${c.ok}, empty ${c.empty}, missing ${c.missing}, failed ${c.failed}`, `${c.footers} footers read`];
  if (c.sources > 0 || c.sourcesUnknown > 0)
    parts.push(`${c.sources} tiles' sources compared${c.sourcesUnknown > 0 ? ` (${c.sourcesUnknown} without a fingerprint)` : ''}`);
  if (c.deep > 0) parts.push(`${c.deep} tiles re-converted and compared`);
  if (c.liveTemporaries > 0) parts.push(`${c.liveTemporaries} temporaries of live runs left alone`);
  lines.push(`checked ${r.dataset}: ${parts.join('; ')}`);
  const n = r.findings.length;
  lines.push(
    r.ok
      ? `verify: ${r.tiles} tiles, ${r.files} files checked, 0 findings ✅`
      : `verify: ${r.tiles} tiles, ${r.files} files checked, ${n} finding${n === 1 ? '' : 's'} ❌`,
  );
  return lines;
}

/** The JSON document of --json. */
export function reportJson(report: VerifyReport): string {
  return JSON.stringify(redactReport(report), null, 2);
}
