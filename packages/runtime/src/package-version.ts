import { readFileSync } from 'node:fs';

/** The version in the package.json one directory above a module (a CLI's `src/` or `dist/`), for `--version`. */
export function packageVersion(moduleUrl: string): string {
  return (JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8')) as { version: string }).version;
}
