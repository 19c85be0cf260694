/**
 * What a notification says, in the two bodies a webhook can take: Slack's `{"text": …}` (one readable
 * message; Mattermost and Discord's /slack endpoint take it too) and a structured JSON body for programs.
 * Both go through redactSecrets: no credential in use, nor a webhook URL, leaves in a body.
 */
import type { RunCounts, RunEvent } from '../pipeline/events.js';
import { duration, mb, pct } from '../pipeline/format.js';
import { redactSecrets } from '../util/secrets.js';
import type { BatchNotice } from './milestones.js';
import type { NotifyFormat } from './options.js';

/** The one-message text of an event (plain text; slackBody escapes it for Slack). */
export function eventText(event: RunEvent, notice?: BatchNotice): string {
  const id = event.id;
  const run = `desi-qad run ${id.run}${id.shard !== undefined ? ` (shard ${id.shard})` : ''}`;
  const c = event.counts;
  switch (event.kind) {
    case 'started':
      return `${run} started: ${c.totalTiles} tiles (${mb(c.totalBytes)} MB) in ${event.batches} batches, into ${id.dataset}\nSelection: ${id.selection}\nSource: ${id.source}`;
    case 'batch': {
      const b = event.batch;
      const why = notice?.percent !== undefined ? `passed ${notice.percent}% of the tiles` : `batch ${b.index}/${b.count} done`;
      return `${run}: ${why} (batch ${b.index}/${b.count}: ${b.tiles} tiles, ${b.rows} rows, ${b.mbps.toFixed(2)} MB/s, reduction ${pct(b.reduction)})\n${countsLine(c)}`;
    }
    case 'lowReduction': {
      const b = event.batch;
      const n = notice?.lowBatches ?? 1;
      const low = n > 1 ? `; ${n} batches under it so far` : '';
      return `:warning: ${run}: batch ${b.index}/${b.count} data reduction ${pct(b.reduction)} is under --min-reduction ${pct(event.minReduction)} (${mb(b.parquetBytes)} MB of Parquet from ${mb(b.fitsBytes)} MB of FITS)${low}\n${countsLine(c)}`;
    }
    case 'stopped':
      return `:octagonal_sign: ${run} stopped (${STOP_WHY[event.reason]}), exit status ${event.exitCode}: ${event.message}\n${countsLine(c)}\nRun the same command to resume. Log: ${id.logPath}`;
    case 'finished': {
      const mark = event.exitCode === 0 ? ':white_check_mark:' : ':warning:';
      const status = event.line.includes('exit status') ? '' : ` (exit status ${event.exitCode})`;
      return `${mark} ${run}: ${event.line.replace(/\.$/, '')}${status}, into ${id.dataset}\n${countsLine(c)}\n\`\`\`\n${event.outcomeTable.join('\n')}\n\`\`\``;
    }
  }
}

const STOP_WHY = { failureRate: 'failure rate', fatal: 'fatal error', signal: 'signal' } as const;

/** "12/40 tiles: 10 ok, 1 empty, 1 failed, 0 missing source; 1234 rows; 12.00 of 40.00 MB at 3.10 MB/s; reduction 95.10%; elapsed …, ETA …". */
export function countsLine(c: RunCounts): string {
  const eta = c.etaMs !== undefined && c.doneTiles < c.totalTiles ? `, ETA ${duration(c.etaMs)}` : '';
  return (
    `${c.doneTiles}/${c.totalTiles} tiles: ${c.ok} ok, ${c.empty} empty, ${c.failed} failed, ${c.missing} missing source; ${c.rows} rows; ` +
    `${mb(c.doneBytes)} of ${mb(c.totalBytes)} MB at ${c.mbps.toFixed(2)} MB/s; reduction ${pct(c.reduction)}; elapsed ${duration(c.elapsedMs)}${eta}`
  );
}

/** Slack's body: `{"text": …}` with &, < and > escaped as Slack asks (so `<redacted …>` is not taken for a link). */
export function slackBody(event: RunEvent, notice?: BatchNotice): string {
  const text = redactSecrets(eventText(event, notice)).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return JSON.stringify({ text });
}

/** The structured body's fields (see the README, Notifications): one object per event, the same keys for every kind plus the kind's own. */
export function jsonPayload(event: RunEvent, notice?: BatchNotice, now = new Date()): Record<string, unknown> {
  const { id, counts: c } = event;
  const base: Record<string, unknown> = {
    event: event.kind,
    time: now.toISOString(),
    run: id.run,
    shard: id.shard ?? null,
    dataset: id.dataset,
    source: id.source,
    selection: id.selection,
    log: id.logPath,
    counts: {
      totalTiles: c.totalTiles,
      doneTiles: c.doneTiles,
      ok: c.ok,
      empty: c.empty,
      failed: c.failed,
      missing: c.missing,
      rows: c.rows,
      totalBytes: c.totalBytes,
      doneBytes: c.doneBytes,
      fetchedBytes: c.fetchedBytes,
      parquetBytes: c.parquetBytes,
    },
    rates: { mbps: c.mbps, reduction: c.reduction },
    elapsedMs: c.elapsedMs,
    etaMs: c.etaMs !== undefined ? Math.round(c.etaMs) : null,
    text: eventText(event, notice),
  };
  switch (event.kind) {
    case 'started':
      return { ...base, batches: event.batches };
    case 'batch':
      return { ...base, batch: event.batch, milestone: notice?.percent ?? null, every: notice?.every ?? false };
    case 'lowReduction':
      return { ...base, batch: event.batch, minReduction: event.minReduction, lowBatches: notice?.lowBatches ?? 1 };
    case 'stopped':
      return { ...base, reason: event.reason, message: event.message, exitCode: event.exitCode };
    case 'finished':
      return { ...base, exitCode: event.exitCode, line: event.line, outcomes: event.outcomeTable };
  }
}

/** The structured body, every string redacted. */
export function jsonBody(event: RunEvent, notice?: BatchNotice, now = new Date()): string {
  return JSON.stringify(jsonPayload(event, notice, now), (_k, v: unknown) => (typeof v === 'string' ? redactSecrets(v) : v));
}

/** The body of `event` in `format`. */
export function notificationBody(format: NotifyFormat, event: RunEvent, notice?: BatchNotice): string {
  return format === 'json' ? jsonBody(event, notice) : slackBody(event, notice);
}
