import { duration, mb, pct, reduction } from '../pipeline/format.js';
import type { ReportData } from './data.js';
import { fetchedPlot, outcomesPlot, redshiftPlot, reductionPlot, sizeRowsPlot, skyPlot, throughputPlot } from './plots.js';
import { esc } from './svg.js';

/**
 * The run report as one self-contained HTML page: inline CSS and SVG, no script, no font, no image or link
 * to fetch (a Content-Security-Policy of `default-src 'none'` says so to the browser too), so it opens from
 * a laptop's disk and shows the same anywhere. Every value from the dataset (tile names, error messages,
 * command lines) goes through esc(): a hostile error text cannot become markup.
 */

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d3557;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.85}
main{padding:16px 24px;max-width:1400px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 16px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px}.card span{color:#666;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px}
figure{background:#fff;border:1px solid #ddd;border-radius:6px;margin:0;padding:10px}
figure h3{margin:0 0 6px;font-size:15px}figure svg{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12.5px;margin-top:6px}
.grid{stroke:#e3e3e3;stroke-width:1}.axis{stroke:#888;stroke-width:1}
.tick{font-size:11px;fill:#555}.label{font-size:12px;fill:#333}.value{font-size:11px;fill:#333}
.note{font-size:14px;fill:#999}.sky{fill:#f4f7fb;stroke:#888}
.threshold{stroke:#D55E00;stroke-width:1.5;stroke-dasharray:6 4}.threshold-label{font-size:11px;fill:#D55E00}
.reference{stroke:#aaa;stroke-width:1;stroke-dasharray:4 3}
.legend{font-size:12px;color:#444;margin-top:4px}.legend span{margin-right:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0;background:#fff}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f0f0f0}
td.err{color:#b03a00;font-weight:600}code{font-size:12px;word-break:break-all}
section{margin-top:20px}section h2{font-size:17px;margin:0 0 6px}
`;

/** A two-column table of label → value (values already escaped HTML). */
function kvTable(rows: readonly [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** The whole page. */
export function reportHtml(d: ReportData): string {
  const s = d.status;
  const t = s.tiles;
  const span = s.firstRecord && s.lastRecord ? Date.parse(s.lastRecord) - Date.parse(s.firstRecord) : 0;
  const card = (value: string, label: string) => `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
  const cards = [
    card(`${t.done} / ${t.planned}`, 'tiles done'),
    card(String(t.failed), 'tiles failed'),
    card(String(t.missing), 'tiles missing source'),
    card(s.rows.toLocaleString('en-US'), 'rows kept'),
    card(`${mb(s.fitsBytes)} MB`, 'FITS covered'),
    card(`${mb(s.fetchedBytes)} MB`, 'bytes fetched'),
    card(`${mb(s.parquetBytes)} MB`, 'Parquet written'),
    card(pct(reduction(s.fitsBytes, s.parquetBytes)), 'data reduction'),
    card(s.throughput.overallMBps === null ? '-' : `${s.throughput.overallMBps.toFixed(2)} MB/s`, 'overall speed'),
    card(span > 0 ? duration(span) : '-', 'first to last record'),
  ].join('');

  const plots = [throughputPlot(d), reductionPlot(d), outcomesPlot(d), skyPlot(d), redshiftPlot(d), sizeRowsPlot(d), fetchedPlot(d)].join('');

  const dataset = kvTable([
    ['Output', `<code>${esc(d.out)}</code>`],
    ['Selection', esc(s.identity?.selection ?? d.runs[0]?.selection ?? '-')],
    ['Source', `<code>${esc(s.identity?.source ?? d.runs[0]?.source ?? '-')}</code>`],
    [
      'Created',
      s.identity ? `${esc(s.identity.created)} by run <code>${esc(s.identity.createdBy)}</code>` : 'no manifest (an older desi-qad, or a first run starting)',
    ],
    ['Plan', s.plan ? `${s.plan.shards} shards, ${s.plan.tiles} tiles, ${esc(mb(s.plan.bytes))} MB of FITS (made ${esc(s.plan.created)})` : 'none'],
    ['Journal', `${d.runs.length} run(s), ${d.tiles.length} tiles${s.damagedRecords > 0 ? `, ${s.damagedRecords} damaged record(s) skipped` : ''}`],
    ['Report', `generated ${esc(d.generated)}; --min-reduction ${esc(String(d.minReduction))}`],
  ]);

  const runRows = d.runs
    .map(
      (r) =>
        `<tr><td><code>${esc(r.run)}</code></td><td>${esc(r.time)}</td><td>${esc(r.version)}</td><td>${esc(r.shard ?? '')}</td><td>${r.tiles}</td><td>${esc(
          r.log ? [r.log.host, r.log.node && `Node ${r.log.node}`].filter(Boolean).join(', ') : '',
        )}</td><td>${r.log?.command ? `<code>${esc(r.log.command)}</code>` : '<i>(its log was not found)</i>'}${r.log?.settings ? `<br><code>${esc(r.log.settings)}</code>` : ''}${r.log?.shardLine ? `<br>${esc(r.log.shardLine)}` : ''}${r.log ? `<br>log: <code>${esc(r.log.file)}</code>` : ''}</td></tr>`,
    )
    .join('');
  const runsTable = `<table><thead><tr><th>run</th><th>started</th><th>version</th><th>shard</th><th>records</th><th>host</th><th>command line and settings</th></tr></thead><tbody>${runRows}</tbody></table>`;

  // One column per distinct provenance (files of two productions side by side), one row per key.
  const groups = d.parquet.provenance;
  const keys = [...new Set(groups.flatMap((g) => Object.keys(g.values)))];
  const prov =
    groups.length === 0
      ? '<p>No Parquet footer was read.</p>'
      : `<table><thead><tr><th></th>${groups.map((g) => `<th>${g.files} file(s), e.g. <code>${esc(g.example)}</code></th>`).join('')}</tr></thead><tbody>${keys
          .map((k) => `<tr><th>${esc(k)}</th>${groups.map((g) => `<td><code>${esc(g.values[k] ?? '')}</code></td>`).join('')}</tr>`)
          .join('')}</tbody></table>`;
  const unreadable =
    d.parquet.unreadable.length === 0
      ? ''
      : `<p>${d.parquet.unreadable.length} Parquet file(s) could not be read:</p><table>${d.parquet.unreadable
          .slice(0, 20)
          .map((u) => `<tr><td><code>${esc(u.path)}</code></td><td>${esc(u.message)}</td></tr>`)
          .join('')}</table>`;

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>desi-qad run report: ${esc(d.out)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>desi-qad run report</h1><p><code>${esc(d.out)}</code> · ${esc(s.identity?.selection ?? '')} · generated ${esc(d.generated)}</p></header>
<main>
<div class="cards">${cards}</div>
<div class="plots">${plots}</div>
<section><h2>Settings and provenance</h2>
<h3>Dataset</h3>${dataset}
<h3>Runs</h3>${runsTable}
<h3>Provenance (from the Parquet footers)</h3>${prov}${unreadable}
</section>
</main>
</body>
</html>
`;
}
