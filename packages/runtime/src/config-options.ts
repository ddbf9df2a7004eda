import type { z } from 'zod';
import { envName, settingsOf } from './config-schema.js';

/** A command-line option that sets one config key; declared once, it gives the flag, its help and its error names. */
export interface ConfigOption {
  /** As commander spells it: `--port <port>`, or `--create-db` for a boolean. */
  flags: string;
  /** The config key it sets: `listen.port`. */
  path: string;
  description: string;
}

/** `--schema-policy <policy>` → `--schema-policy`. */
export function longFlag(flags: string): string {
  const long = /--[\w-]+/.exec(flags);
  if (!long) throw new Error(`option ${flags} has no long flag`);
  return long[0];
}

/** The key commander stores an option's value under: `--schema-policy` → `schemaPolicy`. */
export function attributeName(flags: string): string {
  return longFlag(flags)
    .slice(2)
    .replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** An option's help: its description, then the variable that sets the same key, its choices and its default. */
export function optionHelp(schema: z.ZodType, option: ConfigOption): string {
  const setting = settingsOf(schema).get(option.path);
  const notes = [`env ${envName(option.path)}`];
  if (setting?.choices) notes.push(`one of ${setting.choices.join(', ')}`);
  if (setting?.default !== undefined) notes.push(`default: ${JSON.stringify(setting.default)}`);
  return `${option.description} (${notes.join('; ')})`;
}

/** How a person sets a key: `--db-url or OPLOG_DB__URL`, or the variable alone when no option sets it. */
export function howToSet(path: string, options: readonly ConfigOption[]): string {
  const option = options.find((o) => o.path === path);
  return option ? `${longFlag(option.flags)} or ${envName(path)}` : envName(path);
}

/** A key named with the ways to set it: `db.url (--db-url or OPLOG_DB__URL)`. */
export function settingLabel(path: string, options: readonly ConfigOption[]): string {
  return `${path} (${howToSet(path, options)})`;
}

/** Declares options on a command (commander's `option(flags, description)`), each with its help from the schema. */
export function addConfigOptions<C extends { option(flags: string, description: string): unknown }>(
  command: C,
  schema: z.ZodType,
  options: readonly ConfigOption[],
): C {
  for (const option of options) command.option(option.flags, optionHelp(schema, option));
  return command;
}
