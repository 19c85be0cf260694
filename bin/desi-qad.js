#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` through the `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('desi-qad: dist/ is missing; run "npm run build" in the package folder first.\n');
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);
