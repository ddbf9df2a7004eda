import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** A configuration that failed validation; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'OPLOG_BAD_CONFIG';
}

export interface ConfigSources {
  /** A JSON file; its values are overridden by env, which is overridden by flags. */
  file?: string;
  /** Usually process.env; `OPLOG_LISTEN_PORT` sets `listen.port` (one `_` per nesting level is ambiguous, so `__`). */
  env?: Record<string, string | undefined>;
  /** Values from the command line, already nested (undefined means "not given"). */
  flags?: Record<string, unknown>;
}

const ENV_PREFIX = 'OPLOG_';

/**
 * Builds one validated config object from a file, the environment and flags, in that order of precedence.
 * Env keys are the config path in SCREAMING_SNAKE_CASE with `__` between levels: `OPLOG_DB__URL` sets `db.url`.
 */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  const fromFile = sources.file ? readJson(sources.file) : {};
  const fromEnv = envToObject(sources.env ?? {});
  const merged = deepMerge(deepMerge(fromFile, fromEnv), dropUndefined(sources.flags ?? {}));
  const parsed = schema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `- ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
}

function envToObject(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined || key === 'OPLOG_LOG_LEVEL') continue;
    const path = key.slice(ENV_PREFIX.length).split('__').map(camelCase);
    let node = out;
    for (const part of path.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[path.at(-1)!] = coerce(value);
  }
  return out;
}

const camelCase = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Env values are strings; numbers and booleans are recognized so the schema can stay strict. */
function coerce(value: string): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

function dropUndefined(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[key] = isPlainObject(v) ? dropUndefined(v) : v;
  }
  return out;
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
