import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The Parquet files under a folder, as sorted relative paths. */
export async function listParquet(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listParquet(root, p)));
    else if (e.name.endsWith('.parquet')) out.push(p);
  }
  return out.sort();
}
