import { existsSync } from 'node:fs';
import { z } from 'zod';

/**
 * What a config schema says of one setting: how to read it from text (an environment variable, a flag), its default
 * and its choices, for `--help`.
 */
export interface Setting {
  /** `listen.port` */
  path: string;
  kind: 'string' | 'number' | 'boolean' | 'list' | 'other';
  choices?: readonly string[];
  default?: unknown;
}

/** The parts of zod's schema definitions that describe a setting (zod 4's `def`). */
interface Def {
  type: string;
  innerType?: Node;
  in?: Node;
  shape?: Record<string, Node>;
  entries?: Record<string, string | number>;
  defaultValue?: unknown;
}
interface Node {
  def: Def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);
const KINDS: Record<string, Setting['kind']> = {
  string: 'string',
  enum: 'string',
  number: 'number',
  boolean: 'boolean',
  array: 'list',
};

/** Every leaf setting of an object schema, keyed by path, in the schema's order. */
export function settingsOf(schema: z.ZodType): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  const walk = (node: Node, path: string[], fallback: unknown) => {
    let def = node.def;
    let defaultValue = fallback;
    while (WRAPPERS.has(def.type) || def.type === 'pipe') {
      if (def.type === 'default') defaultValue = def.defaultValue;
      def = (def.type === 'pipe' ? def.in : def.innerType)!.def;
    }
    if (def.type === 'object' && def.shape) {
      for (const [key, child] of Object.entries(def.shape)) walk(child, [...path, key], undefined);
      return;
    }
    const choices = def.type === 'enum' && def.entries ? Object.values(def.entries).map(String) : undefined;
    settings.set(path.join('.'), {
      path: path.join('.'),
      kind: KINDS[def.type] ?? 'other',
      ...(choices ? { choices } : {}),
      ...(defaultValue === undefined ? {} : { default: defaultValue }),
    });
  };
  walk(schema as unknown as Node, [], undefined);
  return settings;
}

export const ENV_PREFIX = 'OPLOG_';

/** `listen.port` → `OPLOG_LISTEN__PORT`, `maxEntriesPerSecond` → `OPLOG_MAX_ENTRIES_PER_SECOND`. */
export function envName(path: string): string {
  return ENV_PREFIX + path.split('.').map(screamingSnake).join('__');
}

/** `OPLOG_LISTEN__PORT` → `listen.port`. */
export function envPath(name: string): string {
  return name.slice(ENV_PREFIX.length).split('__').map(camelCase).join('.');
}

const screamingSnake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
const camelCase = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * A setting's value from text (a variable or a flag): a number, a boolean or a comma-separated list where the schema
 * expects one. Text that does not read as the expected kind stays text, so that the schema reports it.
 */
export function parseText(text: string, setting: Setting): unknown {
  switch (setting.kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'list':
      return text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
    default:
      return text;
  }
}

/** A setting naming a file that must be there when the config is read (a certificate, a key): named if it is not. */
export const existingFile = () =>
  z
    .string()
    .min(1)
    .refine((path) => existsSync(path), { error: (issue) => `no such file ${String(issue.input)}` });
