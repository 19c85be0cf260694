import { MB } from '../pipeline/format.js';
import type { ReportData, TilePoint } from './data.js';
import { MOLLWEIDE_X, MOLLWEIDE_Y, skyToMollweide } from './mollweide.js';
import { axes, bar, dot, esc, FRAME, legend, n, note, num, PALETTE, polyline, scale, svgOpen, wantsLog, type Frame } from './svg.js';

/**
 * The report's plots, one function each, from ReportData to a <figure data-plot="…"> holding an inline SVG
 * and a caption saying what is drawn. Each draws its data marks (class "mark") or, without data, a note.
 */

/** One figure: a title, the SVG, what is under it. */
function figure(name: string, title: string, svg: string, caption: string, extra = ''): string {
  return `<figure data-plot="${esc(name)}"><h3>${esc(title)}</h3>${svg}${extra}<figcaption>${caption}</figcaption></figure>`;
}

/** The colour of each outcome; failures share one hue. */
const STATUS_COLORS: Record<TilePoint['status'], string> = { ok: '#009E73', empty: '#56B4E9', missing: '#E69F00', failed: '#D55E00' };

/** Elapsed time in the unit that suits the span: seconds, minutes or hours. */
function timeUnit(spanMs: number): { ms: number; name: string } {
  if (spanMs <= 3 * 60_000) return { ms: 1000, name: 's' };
  if (spanMs <= 3 * 3_600_000) return { ms: 60_000, name: 'min' };
  return { ms: 3_600_000, name: 'h' };
}

/** Throughput over time: FITS MB/s per time bin (lines) and per batch (points), one colour per shard or run. */
export function throughputPlot(d: ReportData): string {
  const f = FRAME;
  const tp = d.throughput;
  const unit = timeUnit(tp.end - tp.start);
  const all = tp.series.flatMap((s) => [...s.points.map((p) => p.mbps), ...s.batches.map((b) => b.mbps)]);
  let body: string;
  if (all.length === 0) body = note(f, 'no tile was journaled yet');
  else {
    const x = scale(0, Math.max((tp.end - tp.start) / unit.ms, 1e-3), f.left, f.right);
    const y = scale(0, Math.max(...all, 1e-6), f.bottom, f.top);
    const el = (t: number) => x((t - tp.start) / unit.ms);
    const marks = tp.series.map((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const line =
        s.points.length > 1
          ? polyline(
              s.points.map((p) => [el(p.t), y(p.mbps)]),
              color,
              `${s.name}: FITS MB/s per ${tp.binMs / 1000} s`,
            )
          : '';
      const bins = s.points.map((p) => dot(el(p.t), y(p.mbps), 2.5, color, `${s.name}, ${new Date(p.t).toISOString()}: ${num(p.mbps)} MB/s`, 0.6));
      const batches = s.batches.map((b) => dot(el(b.t), y(b.mbps), 4.5, color, `${s.name}, batch ${b.index}: ${num(b.mbps)} MB/s`, 0.9));
      return line + bins.join('') + batches.join('');
    });
    body = axes(f, x, y, `time since the first run started (${unit.name})`, 'FITS MB/s') + marks.join('');
  }
  return figure(
    'throughput',
    'Throughput over time',
    `${svgOpen(f, 'throughput over time')}${body}</svg>`,
    `FITS megabytes (10<sup>6</sup> bytes) covered per second: lines and small points per ${esc(num(tp.binMs / 1000))} s bin of the journal's record times, large points per batch (its FITS bytes over the time since the batch before it ended). One colour per ${tp.series.some((s) => s.name.startsWith('shard')) ? 'shard' : 'run'}.`,
    legend(tp.series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length] }))),
  );
}

/** Data reduction per batch (1 − Parquet/FITS), with the --min-reduction line. */
export function reductionPlot(d: ReportData): string {
  const f = FRAME;
  const bs = d.batches.filter((b) => b.reduction !== null);
  let body: string;
  if (bs.length === 0) body = note(f, 'no batch with a done tile');
  else {
    const values = bs.map((b) => b.reduction!);
    const x = scale(0, bs.length, f.left, f.right);
    x.ticks = x.ticks.filter((t) => Number.isInteger(t) && t >= 1);
    const y = scale(Math.min(0, ...values), Math.max(1, ...values), f.bottom, f.top);
    const w = (f.right - f.left) / bs.length;
    const series = [...new Set(bs.map((b) => b.series))];
    const marks = bs.map((b, i) => {
      const color = b.reduction! < d.minReduction ? '#D55E00' : PALETTE[series.indexOf(b.series) % PALETTE.length];
      return bar(
        f.left + i * w + w * 0.1,
        y(0),
        f.left + (i + 1) * w - w * 0.1,
        y(b.reduction!),
        color,
        `${b.series}, batch ${b.index}: ${(b.reduction! * 100).toFixed(2)}% (${num(b.fitsBytes / MB)} MB FITS → ${num(b.parquetBytes / MB)} MB Parquet, ${b.tiles} tiles)`,
      );
    });
    const ly = y(d.minReduction);
    const line = `<line class="threshold" x1="${n(f.left)}" x2="${n(f.right)}" y1="${n(ly)}" y2="${n(ly)}"/><text class="threshold-label" x="${n(f.right - 4)}" y="${n(ly - 4)}" text-anchor="end">--min-reduction ${esc(num(d.minReduction))}</text>`;
    body = axes(f, x, y, 'batch (in journal order, run by run)', 'data reduction') + marks.join('') + line;
  }
  const low = bs.filter((b) => b.reduction! < d.minReduction).length;
  return figure(
    'reduction',
    'Data reduction per batch',
    `${svgOpen(f, 'data reduction per batch')}${body}</svg>`,
    `1 − Parquet bytes / FITS bytes of each batch's done tiles. The line is --min-reduction (${esc(num(d.minReduction))}); bars under it are red (${low} of ${bs.length}). Batches are rebuilt from the journal: each run's records in the order written, in groups of its --batch-size.`,
  );
}

/** A scatter of tiles with optional log axes and a legend by status. */
function tileScatter(
  f: Frame,
  tiles: readonly TilePoint[],
  xOf: (t: TilePoint) => number,
  yOf: (t: TilePoint) => number,
  xLabel: string,
  yLabel: string,
  tip: (t: TilePoint) => string,
  diagonal = false,
): string {
  if (tiles.length === 0) return note(f, 'no tile to draw');
  const xs = tiles.map(xOf);
  const ys = tiles.map(yOf);
  const xLog = wantsLog(xs);
  const yLog = wantsLog(ys);
  const x = scale(xLog ? Math.min(...xs) : Math.min(0, ...xs), Math.max(...xs), f.left, f.right, xLog);
  const y = scale(yLog ? Math.min(...ys) : Math.min(0, ...ys), Math.max(...ys), f.bottom, f.top, yLog);
  let ref = '';
  if (diagonal) {
    const hi = Math.max(...xs, ...ys);
    const lo = xLog && yLog ? Math.min(...xs, ...ys) : 0;
    ref = `<line class="reference" x1="${n(x(lo))}" y1="${n(y(lo))}" x2="${n(x(hi))}" y2="${n(y(hi))}"/>`;
  }
  const marks = tiles.map((t) => dot(x(xOf(t)), y(yOf(t)), 4, STATUS_COLORS[t.status], tip(t), 0.75));
  return axes(f, x, y, `${xLabel}${xLog ? ' (log)' : ''}`, `${yLabel}${yLog ? ' (log)' : ''}`) + ref + marks.join('');
}

function statusLegend(tiles: readonly TilePoint[]): string {
  const present = (Object.keys(STATUS_COLORS) as TilePoint['status'][]).filter((s) => tiles.some((t) => t.status === s));
  return legend(present.map((s) => ({ name: s, color: STATUS_COLORS[s] })));
}

/** FITS size against rows kept, per tile. */
export function sizeRowsPlot(d: ReportData): string {
  const tiles = d.tiles.filter((t) => t.fitsBytes > 0);
  const body = tileScatter(
    FRAME,
    tiles,
    (t) => t.rows,
    (t) => t.fitsBytes / MB,
    'rows kept',
    'FITS MB (coadd + redrock)',
    (t) => `${t.key} (${t.status}): ${t.rows} rows, ${num(t.fitsBytes / MB)} MB FITS, ${num(t.parquetBytes / MB)} MB Parquet`,
  );
  return figure(
    'size-rows',
    'FITS size against rows kept',
    `${svgOpen(FRAME, 'FITS size against rows kept per tile')}${body}</svg>`,
    'One point per tile (its latest record): the size of its coadd and redrock files against the rows it kept. Big tiles with few rows are where the bytes go.',
    statusLegend(tiles),
  );
}

/** Bytes fetched against FITS size, per tile, with the line where everything is read. */
export function fetchedPlot(d: ReportData): string {
  const tiles = d.tiles.filter((t) => t.fitsBytes > 0 && t.status !== 'missing');
  const fits = tiles.reduce((s, t) => s + t.fitsBytes, 0);
  const fetched = tiles.reduce((s, t) => s + t.fetchedBytes, 0);
  const body = tileScatter(
    FRAME,
    tiles,
    (t) => t.fitsBytes / MB,
    (t) => t.fetchedBytes / MB,
    'FITS MB (coadd + redrock)',
    'MB fetched',
    (t) => `${t.key} (${t.status}): fetched ${num(t.fetchedBytes / MB)} of ${num(t.fitsBytes / MB)} MB`,
    true,
  );
  return figure(
    'fetched',
    'Bytes fetched against FITS size',
    `${svgOpen(FRAME, 'bytes fetched against FITS size per tile')}${body}</svg>`,
    `One point per tile: the bytes read from the source against the size of its files; the grey line is "read everything" (--fetch full). In all, ${esc(num(fetched / MB))} MB fetched of ${esc(num(fits / MB))} MB of FITS (${fits > 0 ? esc(((fetched / fits) * 100).toFixed(1)) : '-'}%).`,
    statusLegend(tiles),
  );
}

/** The outcomes: ok, empty, missing, and failed by error class, with examples below. */
export function outcomesPlot(d: ReportData): string {
  const s = d.status;
  const rows: { name: string; count: number; color: string }[] = [
    { name: 'ok', count: s.tiles.ok, color: STATUS_COLORS.ok },
    { name: 'empty', count: s.tiles.empty, color: STATUS_COLORS.empty },
    { name: 'missing source', count: s.tiles.missing, color: STATUS_COLORS.missing },
    ...s.failures.map((c) => ({ name: `failed: ${c.errorClass}`, count: c.tiles, color: STATUS_COLORS.failed })),
  ];
  if (s.tiles.notStarted > 0) rows.push({ name: 'not started', count: s.tiles.notStarted, color: '#999999' });
  const f: Frame = { width: 640, height: Math.max(120, 40 + rows.length * 28), left: 170, right: 600, top: 10, bottom: 0 };
  f.bottom = f.height - 36;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const x = scale(0, max, f.left, f.right);
  x.ticks = x.ticks.filter((t) => Number.isInteger(t));
  const h = (f.bottom - f.top) / rows.length;
  const parts: string[] = [];
  rows.forEach((r, i) => {
    const y0 = f.top + i * h + h * 0.15;
    parts.push(`<text class="tick" x="${n(f.left - 6)}" y="${n(y0 + h * 0.45)}" text-anchor="end">${esc(r.name)}</text>`);
    if (r.count > 0) parts.push(bar(f.left, y0, x(r.count), y0 + h * 0.7, r.color, `${r.name}: ${r.count} tiles`));
    parts.push(`<text class="value" x="${n(x(r.count) + 4)}" y="${n(y0 + h * 0.45)}">${r.count}</text>`);
  });
  for (const t of x.ticks) {
    parts.push(`<line class="grid" x1="${n(x(t))}" x2="${n(x(t))}" y1="${n(f.top)}" y2="${n(f.bottom)}"/>`);
    parts.push(`<text class="tick" x="${n(x(t))}" y="${n(f.bottom + 16)}" text-anchor="middle">${esc(num(t))}</text>`);
  }
  parts.push(`<text class="label" x="${n((f.left + f.right) / 2)}" y="${n(f.height - 4)}" text-anchor="middle">tiles</text>`);
  const examples: string[] = [];
  for (const c of s.failures)
    examples.push(
      `<tr><td class="err">${esc(c.errorClass)}</td><td>${c.tiles}</td><td><code>${esc(c.example.key)}</code></td><td>${esc(c.example.message ?? '')}</td></tr>`,
    );
  for (const m of s.missingTiles) examples.push(`<tr><td>missing source</td><td></td><td><code>${esc(m.key)}</code></td><td>${esc(m.message ?? '')}</td></tr>`);
  if (s.tiles.missing > s.missingTiles.length)
    examples.push(`<tr><td>missing source</td><td colspan="3">… and ${s.tiles.missing - s.missingTiles.length} more</td></tr>`);
  const table =
    examples.length > 0
      ? `<table class="examples"><thead><tr><th>class</th><th>tiles</th><th>example</th><th>message</th></tr></thead><tbody>${examples.join('')}</tbody></table>`
      : '';
  return figure(
    'outcomes',
    'Outcomes',
    `${svgOpen(f, 'outcome of each tile')}${parts.join('')}</svg>`,
    `The latest record of each of the ${s.tiles.planned} ${s.plan ? 'planned' : 'journaled'} tiles (as <code>desi-qad status</code> counts them): done (ok, or empty: no selected row), missing source, or failed by error class, each class with an example below. Failed and missing tiles are retried by the next run.`,
    table,
  );
}

/** The sky map: kept rows per HEALPix pixel (nside 64, nested) at the pixel's centre, Mollweide. */
export function skyPlot(d: ReportData, raCenter = SKY_RA_CENTER): string {
  const f: Frame = { width: 640, height: 340, left: 20, right: 620, top: 20, bottom: 320 };
  const sx = (f.right - f.left) / (2 * MOLLWEIDE_X);
  const sy = (f.bottom - f.top) / (2 * MOLLWEIDE_Y);
  const k = Math.min(sx, sy);
  const cx = (f.left + f.right) / 2;
  const cy = (f.top + f.bottom) / 2;
  const at = (ra: number, dec: number): [number, number] => {
    const p = skyToMollweide(ra, dec, raCenter);
    return [cx + p.x * k, cy - p.y * k];
  };
  const parts: string[] = [`<ellipse class="sky" cx="${n(cx)}" cy="${n(cy)}" rx="${n(MOLLWEIDE_X * k)}" ry="${n(MOLLWEIDE_Y * k)}"/>`];
  // Graticule: parallels every 30°, meridians every 60° of RA (lines, not marks), labelled on the equator.
  for (let dec = -60; dec <= 60; dec += 30) {
    const [x0, y0] = at(raCenter + 179.999, dec);
    const [x1] = at(raCenter - 179.999, dec);
    parts.push(`<line class="grid" x1="${n(x0)}" x2="${n(x1)}" y1="${n(y0)}" y2="${n(y0)}"/>`);
    parts.push(`<text class="tick" x="${n(x1 + 4)}" y="${n(y0 - 2)}">${dec}°</text>`);
  }
  for (let dra = -120; dra <= 180; dra += 60) {
    const ra = (((raCenter + dra) % 360) + 360) % 360;
    const pts: string[] = [];
    for (let dec = -90; dec <= 90; dec += 5) {
      const [x, y] = at(dra === 180 ? raCenter + 179.999 : ra, dec);
      pts.push(`${n(x)},${n(y)}`);
    }
    if (dra !== 180) parts.push(`<polyline class="grid" fill="none" points="${pts.join(' ')}"/>`);
    const [lx, ly] = at(ra, 0);
    parts.push(`<text class="tick" x="${n(lx + 2)}" y="${n(ly + 12)}">${dra === 180 ? '' : `${ra}°`}</text>`);
  }
  if (d.sky.length === 0) parts.push(note(f, 'no done tile'));
  const max = Math.max(1, ...d.sky.map((p) => p.rows));
  for (const p of d.sky) {
    const [x, y] = at(p.ra, p.dec);
    const frac = p.rows / max;
    // Area ∝ rows (an empty pixel is a small grey ring's worth): a pixel of nside 64 is under a degree, so
    // pixels are drawn as points large enough to be seen on a whole-sky map.
    const r = p.rows > 0 ? 2.5 + 5.5 * Math.sqrt(frac) : 2;
    const color = p.rows > 0 ? heat(frac) : '#BBBBBB';
    parts.push(dot(x, y, r, color, `healpix ${p.healpix} (RA ${p.ra.toFixed(2)}°, Dec ${p.dec.toFixed(2)}°): ${p.rows} rows in ${p.tiles} tile(s)`, 0.85));
  }
  const rows = d.sky.reduce((s, p) => s + p.rows, 0);
  return figure(
    'sky',
    'Sky map of kept spectra',
    `${svgOpen(f, 'sky map of kept spectra per HEALPix pixel')}${parts.join('')}</svg>`,
    `Mollweide (equal-area) projection in equatorial coordinates, RA increasing to the left, centred on RA ${raCenter}° as DESI's own sky plots are. One point per HEALPix pixel (nside 64, nested: a tile's number is its pixel) at the pixel's centre, sized and coloured by the rows the journal says it kept (${rows} rows in ${d.sky.length} pixels; at most ${max} in one pixel); grey: done with no selected row.`,
    legend([
      { name: `1 row`, color: heat(1 / max) },
      { name: `${max} rows`, color: heat(1) },
      { name: 'no row', color: '#BBBBBB' },
    ]),
  );
}

/** desiutil's default centre of DESI sky maps (the footprint's two caps both stay whole). */
export const SKY_RA_CENTER = 120;

/** A sequential colour from pale yellow (low) to dark purple (high). */
function heat(frac: number): string {
  const stops = [
    [254, 224, 139],
    [244, 109, 67],
    [158, 1, 66],
    [60, 14, 90],
  ];
  const t = Math.max(0, Math.min(1, frac)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const u = t - i;
  const c = stops[i].map((v, j) => Math.round(v + (stops[i + 1][j] - v) * u));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** The redshift histogram of every kept row (the Parquet files' Z column). */
export function redshiftPlot(d: ReportData): string {
  const f = FRAME;
  const z = d.z;
  let body: string;
  if (!z) body = note(f, d.parquet.filesRead === 0 ? 'no Parquet file to read' : 'no Z value');
  else {
    const hi = z.lo + z.counts.length * z.width;
    const x = scale(z.lo, hi, f.left, f.right);
    const y = scale(0, Math.max(...z.counts), f.bottom, f.top);
    y.ticks = y.ticks.filter((t) => Number.isInteger(t));
    const marks = z.counts.map((c, i) => {
      const a = z.lo + i * z.width;
      return c > 0 ? bar(x(a), y(0), x(a + z.width), y(c), '#0072B2', `Z ${num(a)}–${num(a + z.width)}: ${c} rows`) : '';
    });
    body = axes(f, x, y, 'redshift Z', `rows per ${num(z.width)} in Z`) + marks.join('');
  }
  const unreadable = d.parquet.unreadable.length;
  const sampled = d.parquet.filesRead + unreadable < d.parquet.filesTotal;
  return figure(
    'redshift',
    'Redshift histogram',
    `${svgOpen(f, 'redshift histogram')}${body}</svg>`,
    z
      ? `Z of the ${z.total} rows in ${d.parquet.filesRead} Parquet files${sampled ? ` (an even sample of the ${d.parquet.filesTotal} files; <code>desi-qad report</code> reads them all)` : ''} (only their Z column is read), in bins of ${esc(num(z.width))}: from ${esc(num(z.min))} to ${esc(num(z.max))}, median ${esc(num(z.median))}.${unreadable > 0 ? ` ${unreadable} file(s) could not be read (listed under Settings and provenance).` : ''}`
      : `No Z value was read${unreadable > 0 ? ` (${unreadable} file(s) could not be read)` : ''}.`,
  );
}
