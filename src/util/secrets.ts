/**
 * The credential values in use by this process, and the one function that blanks them out of any text
 * before it is written to the log, the console or the journal. Shape-based redaction (s3-client's `redact`)
 * catches signatures and key ids it recognises; this registry catches the actual values, whatever their
 * shape and wherever an endpoint or an SDK message echoes them.
 *
 * The registry is process-wide on purpose: one desi-qad process is one run, and every writer of the run
 * (log, console, journal, error messages) must blank the same values without being handed a registry.
 */

/** Values shorter than this are not registered: blanking "abc" everywhere would garble ordinary text. */
export const MIN_SECRET_LENGTH = 6;

/** value -> label; a Map keeps insertion order, and longer values are replaced first (see redactSecrets). */
const secrets = new Map<string, string>();
/** The search list derived from `secrets` (values and their encoded forms), rebuilt when it changes. */
let patterns: { text: string; label: string }[] | undefined;

/**
 * Registers a credential value under a label (shown as `<redacted LABEL>`). Values shorter than
 * MIN_SECRET_LENGTH characters are ignored; registering a value again keeps its first label.
 */
export function registerSecret(value: string | undefined, label: string): void {
  if (value === undefined || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  secrets.set(value, label);
  patterns = undefined;
}

/**
 * Registers the userinfo of a URL (`https://user:pass@host/`): the user, the password and the whole
 * `user:pass@` as written. A value that does not parse as a URL, or has no userinfo, registers nothing.
 */
export function registerUrlSecrets(url: string | undefined): void {
  if (!url) return;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]*)@/i.exec(url);
  if (!m) return;
  const userinfo = m[1];
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const pass = colon < 0 ? '' : userinfo.slice(colon + 1);
  registerSecret(`${userinfo}@`, 'URL userinfo');
  registerSecret(userinfo, 'URL userinfo');
  for (const [v, label] of [
    [pass, 'URL password'],
    [user, 'URL user'],
  ] as const) {
    registerSecret(v, label);
    registerSecret(safeDecode(v), label);
  }
}

/** Registers the AWS credentials of the environment (access key id, secret access key, session token). */
export function registerEnvSecrets(env: NodeJS.ProcessEnv = process.env): void {
  registerSecret(env.AWS_ACCESS_KEY_ID, 'AWS_ACCESS_KEY_ID');
  registerSecret(env.AWS_SECRET_ACCESS_KEY, 'AWS_SECRET_ACCESS_KEY');
  registerSecret(env.AWS_SESSION_TOKEN, 'AWS_SESSION_TOKEN');
}

/**
 * `text` with every occurrence of every registered value, and of its URL-encoded forms
 * (encodeURIComponent, and with `+` for spaces as in form bodies), replaced by `<redacted LABEL>`.
 */
export function redactSecrets(text: string): string {
  if (secrets.size === 0) return text;
  patterns ??= buildPatterns();
  let out = text;
  for (const p of patterns) if (out.includes(p.text)) out = out.split(p.text).join(`<redacted ${p.label}>`);
  return out;
}

/** The number of registered values (for tests and diagnostics; the values themselves are never exposed). */
export function registeredSecretCount(): number {
  return secrets.size;
}

/** Forgets every registered value. Only tests need it: a process is one run. */
export function clearSecrets(): void {
  secrets.clear();
  patterns = undefined;
}

function buildPatterns(): { text: string; label: string }[] {
  const seen = new Set<string>();
  const list: { text: string; label: string }[] = [];
  for (const [value, label] of secrets) {
    const encoded = encodeURIComponent(value);
    for (const form of [value, encoded, encoded.replace(/%20/g, '+'), lowerHex(encoded)]) {
      if (form.length < MIN_SECRET_LENGTH || seen.has(form)) continue;
      seen.add(form);
      list.push({ text: form, label });
    }
  }
  // Longest first, so a value that contains another registered value is blanked whole.
  return list.sort((a, b) => b.text.length - a.text.length);
}

/** %2F -> %2f: some encoders emit lower-case hex digits. */
function lowerHex(s: string): string {
  return s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
