import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './config.js';

/** A module the person running a CLI named by a setting, once imported: its absolute path and its exports. */
export interface UserModule {
  file: string;
  exports: Record<string, unknown>;
}

/**
 * Imports a module a setting names (the app's entities, its MikroORM config). Relative paths resolve against the
 * working directory. One that cannot be loaded is a ConfigError on that setting that says why: no such file,
 * TypeScript without a loader, a missing import, an error in it. `what` ends "give the path of …".
 */
export async function importUserModule(modulePath: string, setting: string, what: string): Promise<UserModule> {
  const file = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
  const refuse = (reason: string, cause?: unknown) => new ConfigError(reason, { setting, cause });
  if (!existsSync(file)) throw refuse(`no such file ${file}: give the path of ${what}`);
  try {
    return { file, exports: await import(pathToFileURL(file).href) };
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw refuse(`${file} is TypeScript: give the compiled JavaScript module, or run node with --import tsx`, error);
    }
    if (code === 'ERR_MODULE_NOT_FOUND') {
      const missing = /Cannot find (?:module|package) '([^']+)'/.exec(message ?? '')?.[1] ?? 'a module';
      throw refuse(`${file} imports ${missing}, which cannot be found: install it, or fix the import`, error);
    }
    throw refuse(`${file} failed to load: ${firstLine(message)}`, error);
  }
}

/** The first line of an error's message: the CLIs print one line. */
export const firstLine = (message: unknown): string => String(message).split('\n')[0]!;
