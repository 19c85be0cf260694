/**
 * Small SVG helpers for the report's plots: escaping, scales with readable ticks, axes, and the marks
 * (polyline, bars, points). Strings in, strings out: the report is one static HTML file with inline SVG and
 * no script, so it opens from a laptop's disk with nothing fetched. Every data mark carries class="mark"
 * (what the browser test counts) and an SVG <title> (the browser's own tooltip).
 */

/** Text safe inside an element or a quoted attribute: & < > " ' escaped, so no value becomes markup. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number for SVG coordinates: two decimals at most, never "NaN" (as 0). */
export function n(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 100) / 100) : '0';
}

/** A value for a tick label or a tooltip: up to 3 significant digits, thousands grouped. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x !== 0 && Math.abs(x) < 0.01) return x.toExponential(1);
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** A map from data values to pixels, with its ticks. */
export interface Scale {
  (v: number): number;
  ticks: number[];
  log: boolean;
}

/** Up to about `count` round tick values (1, 2 or 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/**
 * A linear scale of [lo, hi] onto [p0, p1], widened to round ticks; or, with `log` (positive data spanning
 * more than a factor 30, where a linear axis would crush the small values), a log10 scale with decade ticks.
 */
export function scale(lo: number, hi: number, p0: number, p1: number, log = false): Scale {
  if (log && lo > 0) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.max(a + 1, Math.ceil(Math.log10(hi)));
    const f = ((v: number) => p0 + ((Math.log10(Math.max(v, 10 ** a)) - a) / (b - a)) * (p1 - p0)) as Scale;
    f.ticks = [];
    for (let k = a; k <= b; k++) f.ticks.push(10 ** k);
    f.log = true;
    return f;
  }
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi - lo;
  const a = Math.min(lo, Math.floor(lo / step) * step);
  const b = Math.max(hi, Math.ceil(hi / step) * step);
  const f = ((v: number) => p0 + ((v - a) / (b - a)) * (p1 - p0)) as Scale;
  f.ticks = niceTicks(a, b);
  f.log = false;
  return f;
}

/** Whether positive values spread widely enough to want a log axis. */
export function wantsLog(values: readonly number[]): boolean {
  const pos = values.filter((v) => v > 0);
  if (pos.length < 2 || pos.length < values.length) return false;
  return Math.max(...pos) / Math.min(...pos) > 30;
}

/** The drawing area of a plot inside its SVG: margins for the axes' labels. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 640, height: 300, left: 64, right: 624, top: 16, bottom: 256 };

/** An <svg> element of the frame's size, labelled for screen readers. */
export function svgOpen(f: Frame, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(label)}">`;
}

/**
 * Both axes with ticks, grid lines and labels (lines and text only, so they are never counted as marks).
 * `xFormat` writes the x ticks (times, for example).
 */
export function axes(f: Frame, x: Scale, y: Scale, xLabel: string, yLabel: string, xFormat: (v: number) => string = num): string {
  const parts: string[] = [];
  for (const t of y.ticks) {
    const py = y(t);
    if (py < f.top - 0.5 || py > f.bottom + 0.5) continue;
    parts.push(`<line class="grid" x1="${n(f.left)}" x2="${n(f.right)}" y1="${n(py)}" y2="${n(py)}"/>`);
    parts.push(`<text class="tick" x="${n(f.left - 6)}" y="${n(py + 4)}" text-anchor="end">${esc(num(t))}</text>`);
  }
  for (const t of x.ticks) {
    const px = x(t);
    if (px < f.left - 0.5 || px > f.right + 0.5) continue;
    parts.push(`<line class="axis" x1="${n(px)}" x2="${n(px)}" y1="${n(f.bottom)}" y2="${n(f.bottom + 5)}"/>`);
    parts.push(`<text class="tick" x="${n(px)}" y="${n(f.bottom + 18)}" text-anchor="middle">${esc(xFormat(t))}</text>`);
  }
  parts.push(`<line class="axis" x1="${n(f.left)}" x2="${n(f.right)}" y1="${n(f.bottom)}" y2="${n(f.bottom)}"/>`);
  parts.push(`<line class="axis" x1="${n(f.left)}" x2="${n(f.left)}" y1="${n(f.top)}" y2="${n(f.bottom)}"/>`);
  parts.push(`<text class="label" x="${n((f.left + f.right) / 2)}" y="${n(f.height - 6)}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(
    `<text class="label" x="14" y="${n((f.top + f.bottom) / 2)}" text-anchor="middle" transform="rotate(-90 14 ${n((f.top + f.bottom) / 2)})">${esc(yLabel)}</text>`,
  );
  return parts.join('');
}

/** A data line through the points, in a colour. */
export function polyline(points: readonly [number, number][], color: string, title: string): string {
  return `<polyline class="mark" fill="none" stroke="${esc(color)}" stroke-width="2" points="${points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ')}"><title>${esc(title)}</title></polyline>`;
}

/** A data point. */
export function dot(x: number, y: number, r: number, color: string, title: string, opacity = 0.8): string {
  return `<circle class="mark" cx="${n(x)}" cy="${n(y)}" r="${n(r)}" fill="${esc(color)}" fill-opacity="${opacity}"><title>${esc(title)}</title></circle>`;
}

/** A bar (any rectangle), from two corners in any order. */
export function bar(x0: number, y0: number, x1: number, y1: number, color: string, title: string): string {
  const x = Math.min(x0, x1);
  const y = Math.min(y0, y1);
  return `<rect class="mark" x="${n(x)}" y="${n(y)}" width="${n(Math.max(Math.abs(x1 - x0), 0.5))}" height="${n(Math.max(Math.abs(y1 - y0), 0.5))}" fill="${esc(color)}"><title>${esc(title)}</title></rect>`;
}

/** A text note inside the plot area (e.g. "no data"), not a mark. */
export function note(f: Frame, text: string): string {
  return `<text class="note" x="${n((f.left + f.right) / 2)}" y="${n((f.top + f.bottom) / 2)}" text-anchor="middle">${esc(text)}</text>`;
}

/** A qualitative palette (colour-blind friendly: Okabe & Ito), cycled for series. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** A legend row of coloured swatches with names, as HTML (under the plot). */
export function legend(items: readonly { name: string; color: string }[]): string {
  if (items.length === 0) return '';
  return `<div class="legend">${items.map((i) => `<span><i style="background:${esc(i.color)}"></i>${esc(i.name)}</span>`).join(' ')}</div>`;
}
