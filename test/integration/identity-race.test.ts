/**
 * The dataset identity decided by racing processes: 6 real processes with 6 different selections call
 * establish() on one fresh --out at nearly the same moment, on a local folder and on a real S3 server
 * (s3rver, which ignores If-None-Match, so only the register protocol of identity-s3.ts keeps them apart).
 * Every racer of a round must get the same identity back, exactly one must say it created it, and the
 * manifest must hold it. Also: a half-decided S3 prefix (a block that accepted a value, no manifest yet) is
 * finished with that value, and an endpoint answering HTML pages makes establish() fail naming the key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { DATASET_FORMAT, DATASET_SCHEMA_VERSION, MANIFEST_REL, parseIdentity, type DatasetIdentity } from '../../src/storage/dataset-identity.js';
import { formatBlock, S3IdentityStore } from '../../src/storage/identity-s3.js';
import { newRunId } from '../../src/storage/run-id.js';
import { FAST_RETRY, putObject, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const RACER = fileURLToPath(new URL('../helpers/identity-racer.js', import.meta.url));
const BUCKET = 'desi-identity';
const RACERS = 6;
const SELECTIONS = Array.from({ length: RACERS }, (_, i) => `SPECTYPE == 'QSO' and DELTACHI2 > ${i + 1}`);

let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

interface RacerResult {
  created: boolean;
  selection: string;
  createdBy: string;
  proposedBy: string;
  rounds: number;
  backoffs: number;
  adopted: number;
}

/**
 * A racer process (test/helpers/identity-racer.ts) with one selection, kept for all rounds of a test: each
 * round it races with a fresh run id and store on a fresh --out, and answers one JSON line.
 */
class Racer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private stderr = '';
  private waiting: ((line: string | Error) => void)[] = [];
  private readonly lines: string[] = [];
  private exited: Error | undefined;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [RACER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.stdout.on('data', (d: Buffer) => {
      this.buffered += d.toString();
      let nl;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    this.child.on('close', (code) => {
      this.exited = new Error(`racer ${args.join(' ')} exited with ${code}: ${this.stderr}`);
      for (const w of this.waiting.splice(0)) w(this.exited);
    });
  }

  /** The next line the racer prints. */
  nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiting.push((l) => (typeof l === 'string' ? resolve(l) : reject(l))));
  }

  /** Starts a race on `out` after `delayMs` (the first one: on the OUT and delay of its arguments). */
  send(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  async result(): Promise<RacerResult> {
    return JSON.parse(await this.nextLine()) as RacerResult;
  }

  stop(): void {
    this.child.stdin.end();
  }
}

const delay = (): number => Math.floor(Math.random() * 41);

/**
 * `rounds` races of the racers, each on a fresh --out from `outFor`: all racers loaded, then released
 * together, each after its own random 0–40 ms delay; `check` sees each round's answers.
 */
async function races(
  kind: 'local' | 's3',
  rounds: number,
  outFor: (round: number) => Promise<string>,
  check: (results: RacerResult[], out: string, round: number) => Promise<void>,
): Promise<void> {
  const first = await outFor(1);
  const racers = SELECTIONS.map((sel) => new Racer([kind, first, sel, String(delay()), ...(kind === 's3' ? [s3.endpoint] : [])]));
  try {
    for (const r of racers) assert.equal(await r.nextLine(), 'ready');
    for (let round = 1; round <= rounds; round++) {
      const out = round === 1 ? first : await outFor(round);
      for (const r of racers) r.send(round === 1 ? 'go' : `${out} ${delay()}`);
      await check(await Promise.all(racers.map((r) => r.result())), out, round);
    }
  } finally {
    for (const r of racers) r.stop();
  }
}

function checkRound(results: RacerResult[], manifest: DatasetIdentity, round: number): void {
  const selections = new Set(results.map((r) => r.selection));
  assert.equal(selections.size, 1, `round ${round}: racers got different identities: ${[...selections].join(' | ')}`);
  const creators = results.filter((r) => r.created);
  assert.equal(creators.length, 1, `round ${round}: ${creators.length} racers say they created the identity`);
  assert.equal(creators[0].proposedBy, results[0].createdBy, `round ${round}: the creator is not the one the identity names`);
  assert.ok(SELECTIONS.includes(results[0].selection), `round ${round}: the identity is no racer's proposal`);
  assert.equal(manifest.selection, results[0].selection, `round ${round}: the manifest holds another selection`);
  assert.equal(manifest.createdBy, results[0].createdBy, `round ${round}: the manifest names another creator`);
}

test('local folder: 6 racing processes, 15 rounds, one identity each round', { timeout: S3_TEST_TIMEOUT }, async () => {
  const winners = new Set<string>();
  const outs: string[] = [];
  try {
    await races(
      'local',
      15,
      async () => {
        outs.push(await mkdtemp(join(tmpdir(), 'identity-race-')));
        return outs[outs.length - 1];
      },
      async (results, out, round) => {
        const path = join(out, ...MANIFEST_REL.split('/'));
        checkRound(results, parseIdentity(await readFile(path, 'utf8'), path), round);
        winners.add(results[0].selection);
      },
    );
  } finally {
    for (const out of outs) await rm(out, { recursive: true, force: true });
  }
  console.log(`local: 15 rounds decided; ${winners.size} different selections won`);
});

async function getText(key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return r.Body!.transformToString('utf8');
}

test('S3 (s3rver, no conditional writes): 6 racing processes, 8 rounds, one identity each round', { timeout: S3_TEST_TIMEOUT }, async () => {
  let rounds = 0;
  let backoffs = 0;
  let adopted = 0;
  const stamp = Date.now();
  await races(
    's3',
    8,
    (round) => Promise.resolve(`s3://${BUCKET}/race-${stamp}-${round}`),
    async (results, out, round) => {
      const prefix = out.slice(`s3://${BUCKET}/`.length);
      const key = `${prefix}/${MANIFEST_REL}`;
      checkRound(results, parseIdentity(await getText(key), key), round);
      rounds += results.reduce((s, r) => s + r.rounds, 0);
      backoffs += results.reduce((s, r) => s + r.backoffs, 0);
      adopted += results.reduce((s, r) => s + r.adopted, 0);
      const blocks = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/_desi-qad/identity/` }));
      assert.ok((blocks.Contents ?? []).length >= 1, `round ${round}: no proposer block was left (blocks are never deleted)`);
    },
  );
  console.log(
    `S3: 8 races of ${RACERS} processes took ${rounds} protocol rounds and ${backoffs} backoffs in total; ${adopted} phase 1s took over a rival's accepted value`,
  );
});

const identity = (selection: string, createdBy = newRunId()): DatasetIdentity => ({
  format: DATASET_FORMAT,
  schemaVersion: DATASET_SCHEMA_VERSION,
  columns: 'default',
  selection,
  source: 's3://desiproject/dr1/spectro/redux/iron/healpix',
  toolVersion: '0.1.0',
  created: '2026-01-02T03:04:05.000Z',
  createdBy,
});

test('S3: a later run gets the existing identity; a value accepted before a crash is the one decided', { timeout: S3_TEST_TIMEOUT }, async () => {
  const first = new S3IdentityStore(client, `s3://${BUCKET}/seq`, { retry: FAST_RETRY });
  assert.equal(first.location, `s3://${BUCKET}/seq/_desi-qad/dataset.json`);
  assert.equal(await first.read(), undefined);
  const a = identity('ZWARN == 0');
  assert.deepEqual(await first.establish(a), { identity: a, created: true });
  const second = new S3IdentityStore(client, `s3://${BUCKET}/seq`, { retry: FAST_RETRY });
  assert.deepEqual(await second.establish(identity('all rows')), { identity: a, created: false });
  assert.deepEqual(await second.read(), a);

  // A run that accepted its value in phase 2 and died before writing dataset.json: whoever comes next must
  // finish with that value, not its own.
  const crashed = identity("SPECTYPE == 'GALAXY'");
  await putObject(
    client,
    BUCKET,
    `half/_desi-qad/identity/${crashed.createdBy}.json`,
    formatBlock({ mbal: [3, crashed.createdBy], bal: [3, crashed.createdBy], value: crashed }),
  );
  const late = new S3IdentityStore(client, `s3://${BUCKET}/half`, { retry: FAST_RETRY });
  const got = await late.establish(identity('all rows'));
  assert.deepEqual(got, { identity: crashed, created: false });
  assert.deepEqual(parseIdentity(await getText('half/_desi-qad/dataset.json'), 'half'), crashed);
});

test(
  'S3: a rival ballot that appears between our phase-2 write and read makes us back off; we keep what we accepted',
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    // The store's own client, with a hook that, right after our phase-2 PUT (the block with a "bal") is
    // answered, writes a rival's phase-1 block with a higher ballot to the real server, through another client.
    const ours = signedClient(s3.endpoint);
    const me = identity('ZWARN == 0');
    const rival = identity('all rows');
    let injected = false;
    ours.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const input = args.input as { Key?: string; Body?: unknown };
        if (!injected && context.commandName === 'PutObjectCommand' && input.Key?.endsWith(`${me.createdBy}.json`) && String(input.Body).includes('"bal":[')) {
          injected = true;
          await putObject(
            client,
            BUCKET,
            `duel/_desi-qad/identity/${rival.createdBy}.json`,
            formatBlock({ mbal: [7, rival.createdBy], bal: null, value: rival }),
          );
        }
        return out;
      },
      { step: 'initialize', name: 'injectRival' },
    );
    const store = new S3IdentityStore(ours, `s3://${BUCKET}/duel`, { retry: FAST_RETRY });
    const got = await store.establish(me);
    assert.ok(injected, 'the rival block was written');
    assert.equal(store.stats.backoffs, 1, 'the phase-2 read saw the higher ballot and backed off once');
    assert.equal(store.stats.rounds, 2);
    // Our block had accepted our value; the rival had accepted nothing, so our next round keeps our value.
    assert.deepEqual(got, { identity: me, created: true });
  },
);

test('S3: a damaged manifest or block is an error naming its key', { timeout: S3_TEST_TIMEOUT }, async () => {
  await putObject(client, BUCKET, 'bad-manifest/_desi-qad/dataset.json', '{"format":"something-else"}');
  const store = new S3IdentityStore(client, `s3://${BUCKET}/bad-manifest`, { retry: FAST_RETRY });
  await assert.rejects(store.establish(identity('all rows')), /bad-manifest\/_desi-qad\/dataset\.json.*"format"/);
  const owner = newRunId();
  await putObject(client, BUCKET, `bad-block/_desi-qad/identity/${owner}.json`, '{"mbal":[1,"someone-else"],"bal":null}');
  const store2 = new S3IdentityStore(client, `s3://${BUCKET}/bad-block`, { retry: FAST_RETRY });
  await assert.rejects(store2.establish(identity('all rows')), new RegExp(`bad-block/_desi-qad/identity/${owner}\\.json.*mbal`));
});

test('S3: an endpoint answering every request with 200 and an HTML page makes establish() fail naming the key', { timeout: S3_TEST_TIMEOUT }, async () => {
  const portal = await startFaultServer(undefined, () => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: '<html><body>Please log in to the network</body></html>',
  }));
  try {
    const store = new S3IdentityStore(signedClient(portal.endpoint), `s3://${BUCKET}/portal`, { retry: FAST_RETRY });
    await assert.rejects(store.establish(identity('all rows')), (err: Error) => {
      assert.match(err.message, /s3:\/\/desi-identity\/portal\/_desi-qad\/dataset\.json/);
      assert.match(err.message, /not JSON/);
      return true;
    });
    await assert.rejects(store.read(), /portal\/_desi-qad\/dataset\.json/);
  } finally {
    await portal.close();
  }
});

test('S3: establish() stops at once when its signal fires', { timeout: S3_TEST_TIMEOUT }, async () => {
  const silent = await startFaultServer(undefined, () => 'silent');
  try {
    const store = new S3IdentityStore(signedClient(silent.endpoint), `s3://${BUCKET}/silent`, { retry: FAST_RETRY });
    const ac = new AbortController();
    const pending = store.establish(identity('all rows'), ac.signal);
    setTimeout(() => ac.abort(new Error('stop requested')), 100);
    const t0 = Date.now();
    await assert.rejects(pending, /stop requested/);
    assert.ok(Date.now() - t0 < 5000, 'establish() did not stop within 5 s of the abort');
  } finally {
    await silent.close();
  }
});
