import type { Logger } from '@oplog/runtime';
import type { CredentialStore, VerifiedCredential } from './credential-store.js';

/**
 * Re-reads the credentials of the connected sources every `everyMs` and hands back each session whose credential was
 * revoked, expired or replaced since it connected. The table is re-read rather than told: `oplog-consumer sources`
 * changes it from another process.
 */
export class CredentialWatch<S> {
  readonly #sessions = new Map<S, VerifiedCredential>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  constructor(
    private readonly store: CredentialStore,
    private readonly everyMs: number,
    private readonly onInvalid: (session: S, credential: VerifiedCredential) => void,
    private readonly logger: Logger,
  ) {}

  add(session: S, credential: VerifiedCredential): void {
    this.#sessions.set(session, credential);
  }

  delete(session: S): void {
    this.#sessions.delete(session);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.check(), this.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async check(): Promise<void> {
    if (this.#checking || this.#sessions.size === 0) return;
    this.#checking = true;
    try {
      const valid = await this.store.validHashes();
      for (const [session, credential] of this.#sessions) {
        if (valid.get(credential.sourceId) === credential.tokenHash) continue;
        this.#sessions.delete(session);
        this.onInvalid(session, credential);
      }
    } catch (error) {
      // The next round tries again; a database that stays away fails the apply loop and /readyz anyway.
      this.logger.warn({ err: error }, 'could not re-read the source credentials');
    } finally {
      this.#checking = false;
    }
  }
}
