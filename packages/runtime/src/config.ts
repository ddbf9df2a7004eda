import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { closestName } from './closest-name.js';
import { describeIssue } from './config-issues.js';
import { attributeName, type ConfigOption, howToSet, longFlag } from './config-options.js';
import { ENV_PREFIX, envName, envPath, parseText, type Setting, settingsOf } from './config-schema.js';

/**
 * A configuration the program cannot start with; the CLIs print it as one line and exit with status 2. `message`
 * names each problem by where it came from (a flag, a variable, the file).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'OPLOG_BAD_CONFIG';
  /** The key at fault when the problem showed after validation (a module that does not load): the CLI names it. */
  readonly setting?: string;

  constructor(message: string, options: { setting?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.setting = options.setting;
  }
}

export interface ConfigSources {
  /** A JSON file; its values are overridden by env, which is overridden by flags. */
  file?: string;
  /** Usually process.env: `OPLOG_LISTEN__PORT` sets `listen.port` (`__` between levels, `_` between words). */
  env?: Record<string, string | undefined>;
  /** Variables another program reads from the same environment (one env file for both CLIs): skipped, not refused. */
  ignoreEnv?: readonly string[];
  /** The command line's options that set config keys, and commander's parsed values (by attribute name). */
  options?: readonly ConfigOption[];
  values?: Record<string, unknown>;
}

/** The runtime's own variable: read by createLogger, never a config key. */
const LOG_LEVEL = 'OPLOG_LOG_LEVEL';

/** Values read from one source, nested as the config is, and where each came from (by path). */
interface Layer {
  values: Record<string, unknown>;
  origins: Map<string, string>;
}

/**
 * Builds one validated config object from a file, the environment and flags, in that order of precedence. Every
 * problem is reported in one ConfigError: an unknown `OPLOG_*` variable, a value of the wrong kind (named by its
 * flag, variable or file key), a missing required key (with the flag and variable that set it).
 */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  const settings = settingsOf(schema);
  const options = sources.options ?? [];
  const problems: string[] = [];
  const file = sources.file ? readJson(sources.file) : {};
  const env = fromEnv(sources.env ?? {}, settings, new Set(sources.ignoreEnv), problems);
  const flags = fromOptions(options, sources.values ?? {}, settings);
  const merged = deepMerge(deepMerge(file, env.values), flags.values);
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const context = {
      value: (path: string) => valueAt(merged, path),
      origin: (path: string) =>
        flags.origins.get(path) ??
        env.origins.get(path) ??
        (valueAt(file, path) === undefined ? undefined : `${path} in ${sources.file}`),
      howToSet: (path: string) => howToSet(path, options),
      paths: settings.keys(),
    };
    for (const issue of parsed.error.issues) problems.push(...describeIssue(issue, context));
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems.join('; '));
  return parsed.data;
}

function readJson(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  if (!isPlainObject(value)) throw new ConfigError(`config file ${file}: expected a JSON object`);
  return value;
}

function fromEnv(
  env: Record<string, string | undefined>,
  settings: Map<string, Setting>,
  ignore: ReadonlySet<string>,
  problems: string[],
): Layer {
  const layer: Layer = { values: {}, origins: new Map() };
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined || name === LOG_LEVEL) continue;
    const path = envPath(name);
    const setting = settings.get(path);
    if (!setting) {
      if (ignore.has(name)) continue;
      const guess = closestName(name, [...settings.keys()].map(envName));
      problems.push(
        `${name} in the environment is not a setting${guess ? ` (did you mean ${guess}?)` : ''}; remove or rename it`,
      );
      continue;
    }
    setPath(layer.values, path, parseText(text, setting));
    layer.origins.set(path, `${name} in the environment`);
  }
  return layer;
}

function fromOptions(
  options: readonly ConfigOption[],
  values: Record<string, unknown>,
  settings: Map<string, Setting>,
): Layer {
  const layer: Layer = { values: {}, origins: new Map() };
  for (const option of options) {
    const value = values[attributeName(option.flags)];
    if (value === undefined) continue;
    const setting = settings.get(option.path);
    if (!setting) throw new Error(`option ${option.flags} sets ${option.path}, which the schema does not have`);
    setPath(layer.values, option.path, typeof value === 'string' ? parseText(value, setting) : value);
    layer.origins.set(option.path, longFlag(option.flags));
  }
  return layer;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function valueAt(source: Record<string, unknown>, path: string): unknown {
  let node: unknown = source;
  for (const part of path.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
