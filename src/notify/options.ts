import type { Argv } from 'yargs';
import type { NotifierOptions } from './notifier.js';

/** Bodies a webhook can take: Slack's `{"text": …}` (Mattermost and Discord's /slack endpoint take it too), or the structured one. */
export const NOTIFY_FORMATS = ['slack', 'json'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** Tries per notification: a receiver that is down for a moment is tried again, one that stays down costs a bounded time. */
export const NOTIFY_ATTEMPTS = 3;
export const DEFAULT_NOTIFY_TIMEOUT_SEC = 5;
/** A timeout above this is a typo (an extra zero): a notification must never hold the end of a run for minutes. */
export const MAX_NOTIFY_TIMEOUT_SEC = 60;
export const DEFAULT_NOTIFY_EVERY = 100;

/** The webhook options of convert. Their checks run with them (a usage error, exit 2, that never echoes a URL). */
export function notifyOptions<T>(y: Argv<T>) {
  return y
    .option('notify', {
      type: 'string',
      // An array, so that giving it twice is two webhooks and not "given twice".
      array: true,
      describe:
        'POST run events (started, progress, low reduction, stopped, finished) to this webhook URL; repeatable. The URL is a secret: logs show its scheme and host only',
    })
    .option('notify-format', {
      choices: NOTIFY_FORMATS,
      default: 'slack' as const,
      describe: 'body of a notification: slack ({"text": …}, also Mattermost and Discord /slack) or json (event, run, counts, rates, ETA)',
    })
    .option('notify-every', {
      type: 'number',
      default: DEFAULT_NOTIFY_EVERY,
      describe: 'a progress notification every N batches (and at 25, 50 and 75% of the tiles)',
    })
    .option('notify-timeout', {
      type: 'number',
      default: DEFAULT_NOTIFY_TIMEOUT_SEC,
      describe: `seconds per attempt (${NOTIFY_ATTEMPTS} attempts); the end of a run waits at most ${NOTIFY_ATTEMPTS} × this, plus the backoffs, for notifications still queued`,
    })
    .check((a) => checkNotifyOptions(a));
}

/** The checks of notifyOptions (a yargs .check: throws the usage error). */
export function checkNotifyOptions(a: { notify?: string[]; 'notify-every': number; 'notify-timeout': number }): true {
  if (a.notify?.length === 0) throw new Error("--notify needs a webhook's http:// or https:// URL");
  for (const [i, url] of (a.notify ?? []).entries()) {
    const which = (a.notify ?? []).length > 1 ? `--notify (the ${ordinal(i + 1)})` : '--notify';
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`${which} is not a URL: give the webhook's full http:// or https:// URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${which} must be an http:// or https:// URL, not ${u.protocol}//…`);
  }
  if (!Number.isInteger(a['notify-every']) || a['notify-every'] < 1) throw new Error('--notify-every must be an integer >= 1');
  const t = a['notify-timeout'];
  if (!(t > 0 && t <= MAX_NOTIFY_TIMEOUT_SEC)) throw new Error(`--notify-timeout must be a number of seconds above 0 and at most ${MAX_NOTIFY_TIMEOUT_SEC}`);
  return true;
}

/** What createNotifier needs, from the parsed options. */
export function notifierOptions(a: { notify?: string[]; 'notify-format': NotifyFormat; 'notify-every': number; 'notify-timeout': number }): NotifierOptions {
  return {
    urls: a.notify ?? [],
    format: a['notify-format'],
    every: a['notify-every'],
    timeoutMs: a['notify-timeout'] * 1000,
    attempts: NOTIFY_ATTEMPTS,
  };
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${s}`;
}
