import { addConfigOptions, CLI_ENV_NAMES, type ConfigOption, type ConfigSources } from '@oplog/runtime';
import type { Command } from 'commander';
import { consumerSettings, DATABASE_OPTIONS } from './config.js';

/** The options every command that opens the central database takes (start and sources alike: `options`). */
export function withDbFlags(command: Command, options: readonly ConfigOption[] = DATABASE_OPTIONS): Command {
  command.option('-c, --config <file>', 'JSON config file; OPLOG_* variables override it, and flags override both');
  return addConfigOptions(command, consumerSettings, options);
}

/** The config sources for loadConfig: the file, the environment (less the producer's variables), these flags. */
export function configSources(
  flags: { config?: string } & Record<string, unknown>,
  options: readonly ConfigOption[] = DATABASE_OPTIONS,
): ConfigSources {
  return {
    file: flags.config,
    env: process.env,
    ignoreEnv: CLI_ENV_NAMES['oplog-producer'],
    options,
    values: flags,
  };
}
