/**
 * The dataset identity of a local --out folder (also on NFS or Lustre shared by several machines).
 *
 * Protocol: write the manifest whole to a temporary file beside it (`_desi-qad/.dataset.json.<hex>`), fsync
 * it, then `link(tmp, dataset.json)`. link(2) creates the name atomically and fails with EEXIST when it
 * exists, on local filesystems and over NFS alike, so of any number of concurrent runs exactly one creates
 * the manifest and every other one reads the winner's.
 *
 * Why link and not `open(dataset.json, 'wx')` followed by a write: O_EXCL makes the *name* exclusive, but
 * the file then exists empty or half-written until the winner's write lands, and a concurrent run reading it
 * would see a truncated manifest (a parse error, or worse, take an empty file for "no identity"). link
 * publishes a file that is already complete and fsynced, so a reader sees either no manifest or the whole
 * one. (O_EXCL is also not atomic on NFSv2 and some older clients; link is, and its one NFS quirk, a lost
 * reply to a link that did succeed, is handled by checking whether the manifest is our temporary file.)
 *
 * A manifest that does not parse is an error naming the file; it is never overwritten.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { formatIdentity, identityFromJson, MANIFEST_REL, parseIdentity, type DatasetIdentity, type IdentityStore } from './dataset-identity.js';
import { fsyncDir } from './output-local.js';

/** The prefix of the temporary manifests (inside `_desi-qad/`), for sweeping what a killed run left. */
export const MANIFEST_TEMP_PREFIX = '.dataset.json.';

export class LocalIdentityStore implements IdentityStore {
  /** The manifest's absolute path. */
  readonly location: string;
  private readonly dir: string;

  constructor(outRoot: string) {
    this.location = resolve(outRoot, ...MANIFEST_REL.split('/'));
    this.dir = dirname(this.location);
  }

  async read(signal?: AbortSignal): Promise<DatasetIdentity | undefined> {
    let text: string;
    try {
      text = await readFile(this.location, { encoding: 'utf8', signal });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (signal?.aborted) throw signal.reason;
      throw new Error(`${this.location}: cannot read the dataset manifest: ${(err as Error).message}`, { cause: err });
    }
    return parseIdentity(text, this.location);
  }

  async establish(proposed: DatasetIdentity, signal?: AbortSignal): Promise<{ identity: DatasetIdentity; created: boolean }> {
    const body = formatIdentity(identityFromJson(proposed, 'the proposed dataset identity'));
    signal?.throwIfAborted();
    const existing = await this.read(signal);
    if (existing) return { identity: existing, created: existing.createdBy === proposed.createdBy };

    try {
      const made = await mkdir(this.dir, { recursive: true });
      if (made !== undefined) await fsyncDir(dirname(made));
    } catch (err) {
      throw new Error(`${this.dir}: cannot create the folder of the dataset manifest: ${(err as Error).message}`, { cause: err });
    }
    signal?.throwIfAborted();
    const tmp = join(this.dir, `${MANIFEST_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let won = false;
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(body, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      signal?.throwIfAborted();
      try {
        await link(tmp, this.location);
        won = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Over NFS a link whose reply was lost is resent and answered EEXIST although it succeeded: then the
        // manifest is our own temporary file.
        won = await sameFile(tmp, this.location);
      }
    } catch (err) {
      await rm(tmp, { force: true });
      if (signal?.aborted) throw signal.reason;
      throw new Error(`${this.location}: cannot create the dataset manifest: ${(err as Error).message}`, { cause: err });
    }
    await rm(tmp, { force: true });
    await fsyncDir(this.dir);

    const identity = await this.read(signal);
    if (!identity) throw new Error(`${this.location}: the dataset manifest vanished right after it was ${won ? 'created' : 'found'}`);
    return { identity, created: identity.createdBy === proposed.createdBy };
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}
