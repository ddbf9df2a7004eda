import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, type ConfigSources, loadConfig } from './config.js';
import { type ConfigOption, optionHelp } from './config-options.js';

const schema = z.strictObject({
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().default(7420) }).prefault({}),
  entities: z.string(),
  mode: z.enum(['fast', 'safe']).default('safe'),
  shared: z.array(z.string()).default([]),
  token: z.string().min(16).optional(),
});

const OPTIONS: ConfigOption[] = [
  { flags: '--port <port>', path: 'listen.port', description: 'port' },
  { flags: '--entities <module>', path: 'entities', description: 'entity module' },
  { flags: '--dashboard-token <token>', path: 'token', description: 'token' },
];

function configFile(value: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'oplog-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(value));
  return file;
}

/** The ConfigError's one line, for a config that must fail. */
function problems(sources: ConfigSources): string {
  try {
    loadConfig(schema, { options: OPTIONS, ...sources });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('OPLOG_BAD_CONFIG');
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('the config loaded');
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    expect(loadConfig(schema, { options: OPTIONS, values: { entities: 'e.js' } })).toEqual({
      listen: { host: '127.0.0.1', port: 7420 },
      entities: 'e.js',
      mode: 'safe',
      shared: [],
    });
  });

  it('lets env override the file and flags override env', () => {
    const file = configFile({ entities: 'file.js', listen: { host: '0.0.0.0', port: 1 } });
    const config = loadConfig(schema, {
      file,
      env: { OPLOG_LISTEN__PORT: '2', OPLOG_ENTITIES: 'env.js', OTHER: 'x' },
      options: OPTIONS,
      values: { entities: 'flag.js', port: undefined },
    });
    expect(config).toMatchObject({ listen: { host: '0.0.0.0', port: 2 }, entities: 'flag.js' });
  });

  it('reads text as the schema expects it: numbers, lists, and digits that stay a string', () => {
    const config = loadConfig(schema, {
      env: { OPLOG_SHARED: 'Tag, Country', OPLOG_TOKEN: '1234567890123456' },
      options: OPTIONS,
      values: { port: '9000', entities: '42' },
    });
    expect(config).toMatchObject({ listen: { port: 9000 }, entities: '42', shared: ['Tag', 'Country'] });
    expect(config.token).toBe('1234567890123456');
  });

  it('names the variable a bad value came from, and that it came from the environment', () => {
    expect(problems({ env: { OPLOG_LISTEN__PORT: 'abc', OPLOG_ENTITIES: 'e.js' } })).toBe(
      'OPLOG_LISTEN__PORT in the environment: expected a number, got "abc"',
    );
  });

  it('names the flag a bad value came from, and the file key', () => {
    expect(problems({ values: { port: 'abc', entities: 'e.js' } })).toBe('--port: expected a number, got "abc"');
    const file = configFile({ entities: 'e.js', mode: 'slow' });
    expect(problems({ file })).toBe(`mode in ${file}: must be one of fast, safe, got "slow"`);
  });

  it('says how to set a missing key: its flag and its variable', () => {
    expect(problems({})).toBe('entities is required: set --entities or OPLOG_ENTITIES');
  });

  it('names an unknown variable, with the setting it is likely a typo of', () => {
    expect(problems({ env: { OPLOG_LISTEN__PROT: '1', OPLOG_ENTITIES: 'e.js' } })).toBe(
      'OPLOG_LISTEN__PROT in the environment is not a setting (did you mean OPLOG_LISTEN__PORT?); remove or rename it',
    );
    const file = configFile({ entities: 'e.js', listen: { prot: 1 } });
    expect(problems({ file })).toBe(
      `listen.prot in ${file}: not a setting (did you mean listen.port?); remove or rename it`,
    );
  });

  it("skips another program's variables, and its own log level", () => {
    const env = { OPLOG_TOKEN_FILE: 'x', OPLOG_LOG_LEVEL: 'debug', OPLOG_ENTITIES: 'e.js' };
    expect(loadConfig(schema, { env, ignoreEnv: ['OPLOG_TOKEN_FILE'] }).entities).toBe('e.js');
  });

  it('lists every problem in one line, and never repeats a string that may be a secret', () => {
    const line = problems({ env: { OPLOG_LISTEN__PORT: 'x' }, values: { dashboardToken: 'short-secret' } });
    expect(line.split('; ')).toEqual([
      'OPLOG_LISTEN__PORT in the environment: expected a number, got "x"',
      'entities is required: set --entities or OPLOG_ENTITIES',
      '--dashboard-token: must be at least 16 characters long',
    ]);
  });

  it('reports an unreadable file clearly', () => {
    expect(() => loadConfig(schema, { file: '/nonexistent/config.json' })).toThrow(/cannot read config file/);
  });
});

describe('optionHelp', () => {
  it("shows the option's variable, choices and default", () => {
    const option = { flags: '--mode <mode>', path: 'mode', description: 'how' };
    expect(optionHelp(schema, option)).toBe('how (env OPLOG_MODE; one of fast, safe; default: "safe")');
    expect(optionHelp(schema, OPTIONS[0]!)).toBe('port (env OPLOG_LISTEN__PORT; default: 7420)');
  });
});
