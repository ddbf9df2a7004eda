import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Connection, EntitySchema } from '@mikro-orm/core';
import { formatSourceToken, isSourceId, OplogError, parseSourceToken } from '@oplog/protocol';

/** One source's credential. Only a hash of the secret is stored: the token itself is shown once, at creation. */
export interface CredentialRow {
  sourceId: string;
  /** sha256 of the token's secret part, hex. */
  tokenHash: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

const TABLE = 'oplog_source_credential';

export const OplogSourceCredential = new EntitySchema<CredentialRow>({
  name: 'OplogSourceCredential',
  tableName: TABLE,
  properties: {
    sourceId: { type: 'string', length: 64, primary: true, fieldName: 'source_id' },
    tokenHash: { type: 'string', length: 64, fieldName: 'token_hash' },
    createdAt: { type: 'bigint', fieldName: 'created_at' },
    expiresAt: { type: 'bigint', fieldName: 'expires_at', nullable: true },
    revokedAt: { type: 'bigint', fieldName: 'revoked_at', nullable: true },
  },
});

/** What `list()` shows: never the hash. */
export type CredentialInfo = Omit<CredentialRow, 'tokenHash'>;

/** A credential that was valid when checked; the hash tells a later check whether it was replaced since. */
export interface VerifiedCredential {
  sourceId: string;
  tokenHash: string;
}

export type Refusal = 'missing' | 'malformed' | 'unknown' | 'wrong' | 'expired' | 'revoked';

export type Verification =
  | { ok: true; credential: VerifiedCredential }
  /** `sourceId` is the one the token names, when it is well formed (for the log, never trusted). */
  | { ok: false; reason: Refusal; sourceId?: string };

interface Row {
  source_id: string;
  token_hash: string;
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

/** Compared against when the source is unknown, so that an unknown source costs the same as a wrong secret. */
const NO_HASH = '0'.repeat(64);

/**
 * The consumer's source credentials, in its own database. Every call reads the table afresh: `oplog-consumer
 * sources` writes it from another process while the consumer runs.
 */
export class CredentialStore {
  constructor(private readonly connection: () => Connection) {}

  /** Creates a credential for `sourceId` and returns its token, the only time it exists outside the producer. */
  async add(sourceId: string, options: { expiresInMs?: number; now?: number } = {}): Promise<string> {
    if (!isSourceId(sourceId))
      throw new TypeError(`source id ${JSON.stringify(sourceId)} must match [A-Za-z0-9_-]{1,64}`);
    const now = options.now ?? Date.now();
    const existing = await this.#row(sourceId);
    if (existing && stateOf(existing, now) === 'valid') {
      throw new Error(`source ${sourceId} already has a valid credential; revoke it first`);
    }
    const token = formatSourceToken({ sourceId, secret: randomBytes(32).toString('base64url') });
    const expiresAt = options.expiresInMs === undefined ? null : now + options.expiresInMs;
    await this.connection().execute(
      `insert into ${TABLE} (source_id, token_hash, created_at, expires_at, revoked_at) values (?, ?, ?, ?, null)
       on conflict (source_id) do update set token_hash = excluded.token_hash, created_at = excluded.created_at,
         expires_at = excluded.expires_at, revoked_at = null`,
      [sourceId, hashSecret(parseSourceToken(token).secret), now, expiresAt],
      'run',
    );
    return token;
  }

  async list(): Promise<CredentialInfo[]> {
    const rows = await this.connection().execute<Row[]>(`select * from ${TABLE} order by source_id`);
    return rows.map((row: Row) => {
      const { tokenHash: _, ...info } = fromRow(row);
      return info;
    });
  }

  /** Resolves false when the source has no credential, or it was revoked already. */
  async revoke(sourceId: string, now = Date.now()): Promise<boolean> {
    const result = await this.connection().execute<{ affectedRows: number }>(
      `update ${TABLE} set revoked_at = ? where source_id = ? and revoked_at is null`,
      [now, sourceId],
      'run',
    );
    return result.affectedRows > 0;
  }

  async verify(token: string, now = Date.now()): Promise<Verification> {
    let sourceId: string;
    let secret: string;
    try {
      ({ sourceId, secret } = parseSourceToken(token));
    } catch (error) {
      if (error instanceof OplogError) return { ok: false, reason: 'malformed' };
      throw error;
    }
    const row = await this.#row(sourceId);
    const tokenHash = hashSecret(secret);
    const matches = timingSafeEqual(Buffer.from(row?.tokenHash ?? NO_HASH, 'hex'), Buffer.from(tokenHash, 'hex'));
    if (!row) return { ok: false, reason: 'unknown', sourceId };
    if (!matches) return { ok: false, reason: 'wrong', sourceId };
    const state = stateOf(row, now);
    return state === 'valid'
      ? { ok: true, credential: { sourceId, tokenHash } }
      : { ok: false, reason: state, sourceId };
  }

  /** Every credential valid right now, by source: one query for all the sessions a consumer holds. */
  async validHashes(now = Date.now()): Promise<Map<string, string>> {
    const rows = await this.connection().execute<Row[]>(`select * from ${TABLE} where revoked_at is null`);
    const valid = rows.map((row: Row) => fromRow(row)).filter((row: CredentialRow) => stateOf(row, now) === 'valid');
    return new Map(valid.map((row: CredentialRow) => [row.sourceId, row.tokenHash]));
  }

  async #row(sourceId: string): Promise<CredentialRow | undefined> {
    const rows = await this.connection().execute<Row[]>(`select * from ${TABLE} where source_id = ?`, [sourceId]);
    return rows[0] && fromRow(rows[0]);
  }
}

function stateOf(row: CredentialRow, now: number): 'valid' | 'expired' | 'revoked' {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt !== null && row.expiresAt <= now) return 'expired';
  return 'valid';
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const optionalNumber = (value: number | string | null) => (value === null ? null : Number(value));

function fromRow(row: Row): CredentialRow {
  return {
    sourceId: row.source_id,
    tokenHash: row.token_hash,
    createdAt: Number(row.created_at),
    expiresAt: optionalNumber(row.expires_at),
    revokedAt: optionalNumber(row.revoked_at),
  };
}
