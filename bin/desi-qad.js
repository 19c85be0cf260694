#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` through the `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs';

// The AWS SDK warns in every process that its releases after early January 2027 need Node 22; desi-qad
// supports Node 20.19+ and its README says so, so the warning is silenced unless the user set the variable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('desi-qad: dist/ is missing; run "npm run build" in the package folder first.\n');
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);
