import assert from 'node:assert/strict';
import { join } from 'node:path';
import { listFiles } from './cli.js';
import { columnDigest, readArrow } from './parquet-bits.js';

/** Asserts two dataset folders hold the same Parquet files with the same schema and column data, bit for bit. */
export async function assertSameDataset(a: string, b: string, minFiles = 1): Promise<void> {
  const files = (await listFiles(a)).filter((f) => f.endsWith('.parquet'));
  assert.deepEqual(
    (await listFiles(b)).filter((f) => f.endsWith('.parquet')),
    files,
  );
  assert.ok(files.length >= minFiles, `${files.length} files`);
  for (const f of files) {
    const [ta, tb] = [await readArrow(join(a, f)), await readArrow(join(b, f))];
    assert.deepEqual(
      tb.schema.fields.map((x) => String(x)),
      ta.schema.fields.map((x) => String(x)),
      `${f}: schema`,
    );
    for (const field of ta.schema.fields) assert.equal(columnDigest(tb, field.name), columnDigest(ta, field.name), `${f}: ${field.name}`);
  }
}
