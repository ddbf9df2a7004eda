import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './cli.js';

const run = promisify(execFile);

const FIXTURE = join(ROOT, 'test/fixtures/scratch-app');

/**
 * The MikroORM version the scratch app installs (its package.json pins 6.6.16). Set it to check another version
 * against the packages' peer range: `PACK_INSTALL_MIKRO_ORM=6.6.2 npx vitest run test/pack-install.pg.test.ts`.
 */
const MIKRO_ORM = process.env.PACK_INSTALL_MIKRO_ORM;

/** The workspaces that are published: every package.json under packages/ and apps/ that is not private. */
export function publicWorkspaces(): string[] {
  return ['packages', 'apps'].flatMap((parent) =>
    readdirSync(join(ROOT, parent))
      .map((dir) => `${parent}/${dir}`)
      .filter((dir) => !JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')).private),
  );
}

/**
 * Packs every public workspace as `npm publish` would, from its current dist/, and returns the tarballs' paths.
 * packages/ and apps/ go to directories of their own: `@oplog/consumer` and `oplog-consumer` both pack to
 * oplog-consumer-0.1.0.tgz.
 */
export async function packPublicWorkspaces(into: string): Promise<string[]> {
  const tarballs: string[] = [];
  for (const parent of ['packages', 'apps']) {
    const workspaces = publicWorkspaces().filter((dir) => dir.startsWith(`${parent}/`));
    const destination = join(into, parent);
    mkdirSync(destination, { recursive: true });
    const { stdout } = await run(
      'npm',
      ['pack', '--json', '--pack-destination', destination, ...workspaces.flatMap((dir) => ['-w', dir])],
      { cwd: ROOT, maxBuffer: 16 << 20 },
    );
    for (const { filename } of JSON.parse(stdout) as { filename: string }[]) tarballs.push(join(destination, filename));
  }
  return tarballs;
}

/** An app outside the workspace (in the OS temp directory) that installed the packed packages from their tarballs. */
export interface ScratchApp {
  dir: string;
  /** Every package directory under its node_modules, as `npm ls --all --parseable` lists them. */
  installedPaths(): Promise<string[]>;
  dispose(): void;
}

/** Copies test/fixtures/scratch-app to a temp directory and `npm install`s the tarballs into it. */
export async function installScratchApp(tarballs: readonly string[]): Promise<ScratchApp> {
  const dir = mkdtempSync(join(tmpdir(), 'oplog-scratch-app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  if (MIKRO_ORM) pinMikroOrm(join(dir, 'package.json'), MIKRO_ORM);
  // The npm cache is warm from the workspace's own install: --prefer-offline reads it without revalidating.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
    cwd: dir,
    maxBuffer: 16 << 20,
  }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    dir,
    installedPaths: async () => {
      const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: dir, maxBuffer: 16 << 20 });
      return [...new Set(stdout.trim().split('\n'))];
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function pinMikroOrm(packageJson: string, version: string): void {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(pkg.dependencies)) {
    if (name.startsWith('@mikro-orm/')) pkg.dependencies[name] = version;
  }
  writeFileSync(packageJson, JSON.stringify(pkg, null, 2));
}
