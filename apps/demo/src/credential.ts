import { CredentialStore, consumerEntities } from '@oplog/consumer';
import { openOrm } from '@oplog/runtime';

/**
 * A fresh credential for the demo's source, made through the consumer's store in the central database, as
 * `oplog-consumer sources add` would (the consumer process has created the table). A previous run's credential is
 * revoked first: its token was never kept.
 */
export async function createDemoCredential(centralDb: string, sourceId: string): Promise<string> {
  const orm = await openOrm({ driver: 'sqlite', name: centralDb }, { entities: consumerEntities });
  try {
    const store = new CredentialStore(() => orm.em.getConnection());
    await store.revoke(sourceId);
    return await store.add(sourceId);
  } finally {
    await orm.close();
  }
}
