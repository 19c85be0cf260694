/** Number formats of the log, kept in one place so every line agrees. MB = 10^6 bytes. */
export const MB = 1e6;

export function mb(bytes: number): string {
  return (bytes / MB).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** "3 min 41 sec", "2 h 05 min 10 sec", "34.76 sec". */
export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)} sec`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min ${String(sec).padStart(2, '0')} sec` : `${m} min ${sec} sec`;
}

/** Data reduction as the seed defined it: 1 - parquet/fits (1 when nothing was scanned). */
export function reduction(fitsBytes: number, parquetBytes: number): number {
  return fitsBytes > 0 ? 1 - parquetBytes / fitsBytes : 1;
}
