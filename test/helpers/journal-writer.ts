/**
 * A child process for the concurrent-journal test: `node journal-writer.js DIR RUN COUNT START_MS` waits
 * until START_MS (so that all writers start together), then appends COUNT tile records of run RUN to the
 * local journal in DIR, one awaited append at a time as a run does, and exits 0 (1 with the error on stderr).
 */
import { LocalJournalStore } from '../../src/storage/journal-local.js';

const [dir, run, countText, startText] = process.argv.slice(2);
const count = Number(countText);
const start = Number(startText);

try {
  if (!dir || !run || !Number.isInteger(count) || !Number.isFinite(start)) throw new Error('usage: journal-writer DIR RUN COUNT START_MS');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, start - Date.now())));
  const store = new LocalJournalStore(dir, run);
  for (let i = 0; i < count; i++) {
    await store.append({
      type: 'tile',
      tile: `main/dark/${i}`,
      status: i % 7 === 0 ? 'failed' : 'ok',
      time: new Date().toISOString(),
      run,
      rows: i,
      sources: '0123456789abcdef',
    });
  }
  await store.close();
} catch (err) {
  process.stderr.write(`journal-writer ${run}: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
