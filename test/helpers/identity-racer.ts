/**
 * One racer of test/integration/identity-race.test.ts, run as its own process:
 *
 *   node dist/test/helpers/identity-racer.js KIND OUT SELECTION DELAY_MS [ENDPOINT]
 *
 * KIND is local or s3 (then ENDPOINT is the s3rver's http://127.0.0.1:PORT). Once loaded it prints `ready`
 * and waits for a line on stdin, so that racers that took different times to start race for real: on `go`
 * it sleeps DELAY_MS, calls establish() on OUT with a fresh run id and a fresh store, and prints one JSON
 * line: `{"created":…,"selection":…,"createdBy":…,"proposedBy":…,"rounds":…,"backoffs":…,"adopted":…}`. A line
 * `OUT DELAY_MS` instead races again on another --out (a new run id and store each time), so that a test
 * of many rounds does not pay a process start per racer and round on a busy machine. It exits when stdin
 * closes; errors go to stderr with exit status 1.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { DATASET_FORMAT, DATASET_SCHEMA_VERSION, type IdentityStore } from '../../src/storage/dataset-identity.js';
import { LocalIdentityStore } from '../../src/storage/identity-local.js';
import { newRunId } from '../../src/storage/run-id.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function main(): Promise<void> {
  const [kind, firstOut, selection, delayText, endpoint] = process.argv.slice(2);
  if ((kind !== 'local' && kind !== 's3') || !firstOut || !selection || !Number.isFinite(Number(delayText)) || (kind === 's3' && !endpoint)) {
    throw new Error('usage: identity-racer.js local|s3 OUT SELECTION DELAY_MS [ENDPOINT]');
  }
  // The S3 modules are loaded only for S3 racers (the AWS SDK is most of a racer's start-up time).
  let makeStore: (out: string) => { store: IdentityStore; stats?: { rounds: number; backoffs: number; adopted: number } } = (out) => ({
    store: new LocalIdentityStore(out),
  });
  if (kind === 's3') {
    const [{ makeS3Client }, { S3IdentityStore }, { LOCAL_S3_CREDENTIALS }] = await Promise.all([
      import('../../src/storage/s3-client.js'),
      import('../../src/storage/identity-s3.js'),
      import('../../src/dev/local-s3.js'),
    ]);
    const client = makeS3Client({ endpoint, credentials: { ...LOCAL_S3_CREDENTIALS }, connectionTimeoutMs: 2000, socketTimeoutMs: 10_000 });
    makeStore = (out) => {
      const store = new S3IdentityStore(client, out, { retry: { baseDelayMs: 5, maxDelayMs: 50 } });
      return { store, stats: store.stats };
    };
  }
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const cut = line.lastIndexOf(' ');
    const [out, delay] = line === 'go' ? [firstOut, delayText] : [line.slice(0, cut), line.slice(cut + 1)];
    const delayMs = Number(delay);
    if (!out || !Number.isFinite(delayMs)) throw new Error(`identity-racer: stdin line ${JSON.stringify(line)} is neither "go" nor "OUT DELAY_MS"`);
    await sleep(delayMs);
    const run = newRunId();
    const { store, stats } = makeStore(out);
    const { identity, created } = await store.establish({
      format: DATASET_FORMAT,
      schemaVersion: DATASET_SCHEMA_VERSION,
      columns: 'default',
      selection,
      source: '/data/desi/healpix',
      toolVersion: '0.1.0',
      created: new Date().toISOString(),
      createdBy: run,
    });
    const result = {
      created,
      selection: identity.selection,
      createdBy: identity.createdBy,
      proposedBy: run,
      rounds: stats?.rounds ?? 0,
      backoffs: stats?.backoffs ?? 0,
      adopted: stats?.adopted ?? 0,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`identity-racer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
