import { readFileSync } from 'node:fs';

/** The package version, read from package.json beside dist/ (one source of truth for logs and footers). */
export function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}
