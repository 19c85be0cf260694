/**
 * The run observer that turns run events into webhook notifications (--notify), off the pipeline's path: the
 * observer only formats the body and queues it (synchronously, at once); each webhook has its own queue,
 * sent in order, one POST at a time, by postWebhook (bounded retries, a timeout per attempt). A slow or dead
 * receiver therefore never slows or fails the run. At the end, `drain` waits for what is still queued at most
 * as long as one notification can take (every attempt timing out, with its backoffs), so the one in flight
 * always ends its attempts, then gives up on the rest and says so. A failure is logged once per event kind and webhook, as a
 * WARN line of the run's log (and stderr), naming the webhook by scheme and host only.
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunEvent, RunObserver } from '../pipeline/events.js';
import { stamp } from '../pipeline/log.js';
import { writeLine } from '../cli/console.js';
import { redactSecrets } from '../util/secrets.js';
import { notificationBody } from './message.js';
import { Milestones, type BatchNotice } from './milestones.js';
import type { NotifyFormat } from './options.js';
import { longestPostMs, postWebhook, registerWebhookSecret, webhookLabel } from './webhook.js';

export interface NotifierOptions {
  urls: string[];
  format: NotifyFormat;
  /** A progress notification every N batches. */
  every: number;
  timeoutMs: number;
  attempts: number;
  /** First backoff between attempts (ms); default postWebhook's. */
  backoffMs?: number;
  /** Notifications queued per webhook at most; past it the oldest progress one is dropped. Default MAX_QUEUE. */
  maxQueue?: number;
}

/** Enough for days of progress notifications to a receiver that is down; a longer queue only grows stale. */
export const MAX_QUEUE = 100;

interface Message {
  kind: RunEvent['kind'];
  body: string;
}

/** One webhook: its queue and what became of its notifications. */
interface Target {
  url: string;
  name: string;
  queue: Message[];
  /** The queue's pump, while it runs. */
  pump?: Promise<void>;
  sent: number;
  failed: number;
  dropped: number;
  /** Event kinds whose failure was already logged. */
  warned: Set<string>;
}

/** The --notify observer and its end-of-run drain. With no URL, both do nothing. */
export class Notifier {
  /** Give this to runConvert (RunOptions.observers). */
  readonly observer: RunObserver = (event) => {
    this.onEvent(event);
  };
  private readonly targets: Target[];
  private readonly milestones: Milestones;
  private readonly abort = new AbortController();
  /** The run's log, as the latest event told it: a writer while it is open, its path after. */
  private logWarn?: (message: string) => boolean;
  private logPath?: string;

  /** Registers every URL with util/secrets.ts first: from here on no log line or message can carry one. */
  constructor(private readonly o: NotifierOptions) {
    for (const url of o.urls) registerWebhookSecret(url);
    const labels = o.urls.map(webhookLabel);
    this.targets = o.urls.map((url, i) => ({
      url,
      name: o.urls.length > 1 ? `webhook ${i + 1} (${labels[i]})` : `webhook ${labels[i]}`,
      queue: [],
      sent: 0,
      failed: 0,
      dropped: 0,
      warned: new Set(),
    }));
    this.milestones = new Milestones(o.every);
  }

  /** The longest `drain` waits: one notification's every attempt timing out, and the backoffs between them. */
  get drainBoundMs(): number {
    return longestPostMs(this.o);
  }

  private onEvent(event: RunEvent): void {
    if (this.targets.length === 0) return;
    this.logWarn = event.id.warn;
    this.logPath = event.id.logPath || this.logPath;
    let notice: BatchNotice | undefined;
    if (event.kind === 'batch') {
      notice = this.milestones.decide(event.batch.index, event.counts.doneTiles, event.counts.totalTiles);
      if (!notice) return;
    } else if (event.kind === 'lowReduction') {
      const lowBatches = this.milestones.decideLow(event.batch.index);
      if (lowBatches === undefined) return;
      notice = { every: false, lowBatches };
    }
    const body = notificationBody(this.o.format, event, notice);
    for (const t of this.targets) this.enqueue(t, { kind: event.kind, body });
  }

  private enqueue(t: Target, m: Message): void {
    if (this.abort.signal.aborted) return;
    const max = this.o.maxQueue ?? MAX_QUEUE;
    if (t.queue.length >= max) {
      // The oldest progress notification goes first: a stale "40% done" matters least.
      const i = t.queue.findIndex((x) => x.kind === 'batch');
      t.queue.splice(i >= 0 ? i : 0, 1);
      if (t.dropped === 0) this.warn(`${t.name} is not keeping up: more than ${max} notifications queued; dropping the oldest (the run goes on).`);
      t.dropped += 1;
    }
    t.queue.push(m);
    t.pump ??= this.pump(t).finally(() => (t.pump = undefined));
  }

  private async pump(t: Target): Promise<void> {
    for (let m = t.queue.shift(); m; m = t.queue.shift()) {
      try {
        const r = await postWebhook(t.url, m.body, {
          timeoutMs: this.o.timeoutMs,
          attempts: this.o.attempts,
          backoffMs: this.o.backoffMs,
          signal: this.abort.signal,
        });
        if (r.ok) t.sent += 1;
        else if (r.aborted) return;
        else {
          t.failed += 1;
          if (!t.warned.has(m.kind)) {
            t.warned.add(m.kind);
            this.warn(
              `Notification "${m.kind}" to ${t.name} not delivered after ${r.attempts} attempt(s): ${r.error}. The run goes on; later "${m.kind}" notifications that fail are not logged.`,
            );
          }
        }
      } catch {
        // postWebhook does not throw; nothing here may reach the run.
        t.failed += 1;
      }
    }
  }

  /**
   * Waits for the queued notifications, at most drainBoundMs, then gives up on what is left (aborting the
   * POST in flight) and logs it; logs a tally when some were not delivered. Never throws.
   */
  async drain(): Promise<void> {
    const busy = () => this.targets.filter((t) => t.pump !== undefined);
    if (busy().length > 0) {
      const all = Promise.all(this.targets.flatMap((t) => (t.pump ? [t.pump] : [])));
      if (!(await within(all, this.drainBoundMs))) {
        for (const t of busy()) {
          const left = t.queue.length + 1;
          t.queue.length = 0;
          this.warn(`Gave up on ${left} notification(s) to ${t.name} still unsent ${(this.drainBoundMs / 1000).toFixed(1)} s after the run ended.`);
          t.failed += left;
        }
        this.abort.abort();
        // An aborted POST ends at once; this wait is bounded all the same.
        await within(all, 1000);
      }
    }
    this.abort.abort();
    for (const t of this.targets) {
      if (t.failed > 0 || t.dropped > 0)
        this.warn(
          `Notifications to ${t.name}: ${t.sent} delivered, ${t.failed} not delivered${t.dropped > 0 ? `, ${t.dropped} dropped from a full queue` : ''}.`,
        );
    }
  }

  /** A WARN line in the run's log: through the run while its log is open, appended to the file after. */
  private warn(message: string): void {
    const text = redactSecrets(message);
    try {
      if (this.logWarn?.(text)) return;
    } catch {
      // fall through to the file
    }
    const line = `[${stamp(new Date(), ' ')}] [WARN] - ${text}`;
    if (this.logPath) {
      try {
        appendFileSync(this.logPath, line + '\n');
      } catch {
        // The log's folder went away: stderr still has it.
      }
    }
    writeLine('stderr', line);
  }
}

/** True when `p` settles within `ms`; the timer never outlives the wait (it would hold the process). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const late = sleep(ms, false, { signal: timer.signal }).catch(() => false);
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    timer.abort();
  }
}

/** The notifier of a run (see Notifier): registers the URLs as secrets at once. */
export function createNotifier(o: NotifierOptions): Notifier {
  return new Notifier(o);
}
