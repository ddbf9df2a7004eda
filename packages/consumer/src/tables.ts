import type { EntitySchema } from '@mikro-orm/core';
import { OplogLagSample } from '@oplog/dashboard';
import { replayEntities } from '@oplog/replay';
import { OplogSourceCredential } from './credential-store.js';

/** The center's own bookkeeping besides the replay's: never replayed, since a source could forge it. */
export const bookkeepingEntities: EntitySchema[] = [OplogSourceCredential, OplogLagSample];

/** The center's own tables; add them to its ORM entities (the center never captures). */
export const consumerEntities: EntitySchema[] = [...replayEntities, ...bookkeepingEntities];
