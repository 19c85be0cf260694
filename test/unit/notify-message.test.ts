import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunCounts, RunEvent, RunIdentity } from '../../src/pipeline/events.js';
import { countsLine, eventText, jsonBody, slackBody } from '../../src/notify/message.js';
import { Milestones } from '../../src/notify/milestones.js';
import { checkNotifyOptions, notifierOptions } from '../../src/notify/options.js';
import { clearSecrets, redactSecrets } from '../../src/util/secrets.js';
import { registerWebhookSecret, webhookLabel } from '../../src/notify/webhook.js';

afterEach(() => clearSecrets());

const id: RunIdentity = {
  run: 'R1',
  shard: '1/4',
  dataset: 's3://bucket/qso',
  selection: 'SPECTYPE == QSO',
  source: '/data/healpix',
  logPath: 'logs/run_x.log',
};
const counts: RunCounts = {
  totalTiles: 40,
  doneTiles: 10,
  totalBytes: 4e9,
  doneBytes: 1e9,
  ok: 8,
  empty: 1,
  failed: 1,
  missing: 0,
  rows: 1234,
  fetchedBytes: 5e7,
  parquetBytes: 2e7,
  elapsedMs: 60_000,
  etaMs: 180_000,
  mbps: 16.67,
  reduction: 0.98,
};

test('milestones: every N-th batch, and each quarter once at the first batch past it (the higher of two passed at once)', () => {
  const m = new Milestones(3);
  assert.equal(m.decide(1, 1, 12), undefined);
  assert.deepEqual(m.decide(2, 3, 12), { every: false, percent: 25 });
  assert.deepEqual(m.decide(3, 4, 12), { every: true });
  assert.deepEqual(m.decide(4, 10, 12), { every: false, percent: 75 });
  assert.equal(m.decide(5, 12, 12), undefined);
  assert.deepEqual(m.decide(6, 12, 12), { every: true });
  // Batches under --min-reduction: the first, then at most one per --notify-every batches, with the count so far.
  const low = new Milestones(3);
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((i) => low.decideLow(i)),
    [1, undefined, undefined, 4, undefined, 6],
  );
  // A run with nothing to do has no milestones.
  assert.equal(new Milestones(100).decide(1, 0, 0), undefined);
});

test('the text of each event says the run, the shard, what happened and the counts', () => {
  assert.equal(
    countsLine(counts),
    '10/40 tiles: 8 ok, 1 empty, 1 failed, 0 missing source; 1234 rows; 1,000.00 of 4,000.00 MB at 16.67 MB/s; reduction 98.00%; elapsed 1 min 0 sec, ETA 3 min 0 sec',
  );
  const batch = { index: 3, count: 10, tiles: 4, rows: 100, fitsBytes: 4e8, fetchedBytes: 1e7, parquetBytes: 9e7, reduction: 0.775, ms: 2000, mbps: 200 };
  assert.match(
    eventText({ kind: 'started', id, counts, batches: 10 }),
    /^desi-qad run R1 \(shard 1\/4\) started: 40 tiles \(4,000\.00 MB\) in 10 batches, into s3:\/\/bucket\/qso/,
  );
  assert.match(
    eventText({ kind: 'batch', id, counts, batch }, { every: false, percent: 25 }),
    /^desi-qad run R1 \(shard 1\/4\): passed 25% of the tiles \(batch 3\/10:/,
  );
  assert.match(
    eventText({ kind: 'batch', id, counts, batch }, { every: true }),
    /: batch 3\/10 done \(batch 3\/10: 4 tiles, 100 rows, 200\.00 MB\/s, reduction 77\.50%\)\n10\/40 tiles/,
  );
  assert.match(
    eventText({ kind: 'lowReduction', id, counts, batch, minReduction: 0.9 }),
    /^:warning: desi-qad run R1 \(shard 1\/4\): batch 3\/10 data reduction 77\.50% is under --min-reduction 90\.00%/,
  );
  assert.match(
    eventText({ kind: 'lowReduction', id, counts, batch, minReduction: 0.9 }, { every: false, lowBatches: 4 }),
    /FITS\); 4 batches under it so far\n/,
  );
  assert.match(
    eventText({ kind: 'stopped', id, counts, reason: 'failureRate', message: 'Failure rate 20%', exitCode: 3 }),
    /^:octagonal_sign: desi-qad run R1 \(shard 1\/4\) stopped \(failure rate\), exit status 3: Failure rate 20%\n/,
  );
  const finished: RunEvent = { kind: 'finished', id, counts, exitCode: 0, outcomeTable: ['--- Outcomes ---', '  ok : 8'], line: 'Run finished.' };
  assert.match(
    eventText(finished),
    /^:white_check_mark: desi-qad run R1 \(shard 1\/4\): Run finished \(exit status 0\), into s3:\/\/bucket\/qso\n.*\n```\n--- Outcomes ---\n {2}ok : 8\n```$/,
  );
});

test("Slack's body escapes &, < and >; both bodies are redacted; the JSON body has the documented fields", () => {
  registerWebhookSecret('https://hooks.example.com/services/T0/B0/abcdefghijklmnopqrstuvwx');
  const event: RunEvent = {
    kind: 'stopped',
    id,
    counts,
    reason: 'fatal',
    message: 'posting to https://hooks.example.com/services/T0/B0/abcdefghijklmnopqrstuvwx & <x>',
    exitCode: 4,
  };
  const slack = JSON.parse(slackBody(event)) as { text: string };
  assert.deepEqual(Object.keys(slack), ['text']);
  assert.match(slack.text, /exit status 4: posting to &lt;redacted notify URL&gt; &amp; &lt;x&gt;/);
  const body = JSON.parse(jsonBody(event, undefined, new Date('2026-12-03T00:00:00Z'))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), [
    'event',
    'time',
    'run',
    'shard',
    'dataset',
    'source',
    'selection',
    'log',
    'counts',
    'rates',
    'elapsedMs',
    'etaMs',
    'text',
    'reason',
    'message',
    'exitCode',
  ]);
  assert.equal(body.event, 'stopped');
  assert.equal(body.time, '2026-12-03T00:00:00.000Z');
  assert.equal(body.shard, '1/4');
  assert.deepEqual(body.rates, { mbps: 16.67, reduction: 0.98 });
  assert.equal(body.etaMs, 180_000);
  assert.equal(body.message, 'posting to <redacted notify URL> & <x>');
  assert.ok(!JSON.stringify(body).includes('abcdefghijklmnopqrstuvwx'));
});

test('a webhook URL is registered whole, by its path and by its tokens (long segments); it is shown as scheme and host only', () => {
  registerWebhookSecret('https://user:pa55word@hooks.example.com:8443/hooks/T000/SECRETTOKEN?sig=0123456789');
  assert.equal(webhookLabel('https://user:pa55word@hooks.example.com:8443/hooks/T000/SECRETTOKEN?sig=0123456789'), 'https://hooks.example.com:8443/…');
  assert.equal(redactSecrets('GET /hooks/T000/SECRETTOKEN?sig=0123456789 failed'), 'GET <redacted notify URL path> failed');
  assert.equal(redactSecrets('sig=0123456789'), '<redacted notify URL query>');
  assert.doesNotMatch(redactSecrets('user:pa55word@'), /pa55word/);
  clearSecrets();
  registerWebhookSecret('https://discord.com/api/webhooks/123/aVeryLongWebhookTokenValue/slack');
  assert.equal(redactSecrets('token aVeryLongWebhookTokenValue, api'), 'token <redacted notify URL token>, api');
  clearSecrets();
  registerWebhookSecret('https://chat.example.org/hooks/xg1ahkq4hpdm7pbjq3y6wnq5hc');
  assert.equal(redactSecrets('token xg1ahkq4hpdm7pbjq3y6wnq5hc'), 'token <redacted notify URL token>');
  assert.equal(webhookLabel('not a url'), 'a webhook');
});

test('the option checks: http(s) URLs only, named by position, never echoed; --notify-every >= 1; a bounded timeout', () => {
  const ok = { 'notify-every': 100, 'notify-timeout': 5 };
  assert.equal(checkNotifyOptions({ ...ok, notify: ['https://a.example/x', 'http://127.0.0.1:9/y'] }), true);
  assert.equal(checkNotifyOptions(ok), true);
  assert.throws(() => checkNotifyOptions({ ...ok, notify: ['ftp://h/SECRET'] }), { message: '--notify must be an http:// or https:// URL, not ftp://…' });
  assert.throws(() => checkNotifyOptions({ ...ok, notify: ['https://a.example/x', 'h/SECRET'] }), /^Error: --notify \(the 2nd\) is not a URL/);
  assert.throws(() => checkNotifyOptions({ ...ok, notify: [] }), /--notify needs a webhook's http:\/\/ or https:\/\/ URL/);
  assert.throws(() => checkNotifyOptions({ ...ok, 'notify-every': 0 }), /--notify-every must be an integer >= 1/);
  assert.throws(() => checkNotifyOptions({ ...ok, 'notify-every': 1.5 }), /--notify-every must be an integer >= 1/);
  assert.throws(() => checkNotifyOptions({ ...ok, 'notify-timeout': 0 }), /--notify-timeout/);
  assert.throws(() => checkNotifyOptions({ ...ok, 'notify-timeout': 600 }), /at most 60/);
  assert.deepEqual(notifierOptions({ notify: ['https://a.example/x'], 'notify-format': 'json', 'notify-every': 7, 'notify-timeout': 2.5 }), {
    urls: ['https://a.example/x'],
    format: 'json',
    every: 7,
    timeoutMs: 2500,
    attempts: 3,
  });
});
