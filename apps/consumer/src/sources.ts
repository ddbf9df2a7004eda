import { CredentialStore, consumerEntities } from '@oplog/consumer';
import { CliFailure, loadAppConfig, loadConfig, openOrm } from '@oplog/runtime';
import { type Command, InvalidArgumentError } from 'commander';
import { commandConfigSchema } from './config.js';
import { configSources, withDbFlags } from './db-flags.js';
import { parseDuration } from './duration.js';

type DbFlags = Record<string, unknown>;

/** Runs `work` on the credential store of the consumer's database (creating its table when the schema is `update`). */
async function withStore<T>(flags: DbFlags, work: (store: CredentialStore) => Promise<T>): Promise<T> {
  const config = loadConfig(commandConfigSchema, configSources(flags));
  const orm = await openOrm(config.db, { entities: consumerEntities }, await loadAppConfig(config));
  try {
    if (config.schema === 'update') await orm.schema.updateSchema({ safe: true });
    return await work(new CredentialStore(() => orm.em.getConnection('write')));
  } finally {
    await orm.close();
  }
}

const when = (at: number | null) => (at === null ? '-' : new Date(at).toISOString());

/** A duration flag: commander words a refusal as `option '--expires-in <duration>' argument '90x' is invalid. …`. */
function durationArgument(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `oplog-consumer sources add | list | revoke`: the source credentials, written where the running consumer reads them. */
export function sourcesCommand(program: Command): Command {
  const sources = program.command('sources').description("manage the sources' credentials (in the consumer database)");
  withDbFlags(sources.command('add <sourceId>'))
    .description('create a credential and print its token, once: it is stored only as a hash')
    .option(
      '--expires-in <duration>',
      'expire it after this long (90d, 12h, 30m, 45s, or milliseconds)',
      durationArgument,
    )
    .action(async (sourceId: string, flags: DbFlags & { expiresIn?: number }) => {
      const token = await withStore(flags, (store) =>
        store.add(sourceId, { expiresInMs: flags.expiresIn }).catch((error: Error) => {
          throw new CliFailure(error.message);
        }),
      );
      console.log(token);
      console.error(`source ${sourceId}: give this token to its producer (OPLOG_TOKEN); it cannot be shown again`);
    });
  withDbFlags(sources.command('list'))
    .description('print every credential: source, created, expires, revoked (never a secret or a hash)')
    .action(async (flags: DbFlags) => {
      const rows = await withStore(flags, (store) => store.list());
      const table = [['source', 'created', 'expires', 'revoked']];
      for (const row of rows) table.push([row.sourceId, when(row.createdAt), when(row.expiresAt), when(row.revokedAt)]);
      const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
      for (const line of table)
        console.log(
          line
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
    });
  withDbFlags(sources.command('revoke <sourceId>'))
    .description("revoke a source's credential; its live session closes within credentialCheckMs")
    .action(async (sourceId: string, flags: DbFlags) => {
      if (!(await withStore(flags, (store) => store.revoke(sourceId)))) {
        throw new CliFailure(`source ${sourceId} has no credential that is not revoked already`);
      }
      console.log(`revoked the credential of source ${sourceId}`);
    });
  return sources;
}
