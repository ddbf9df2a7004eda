import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { MikroORM } from '@mikro-orm/core';
import { readSourceHead } from '@oplog/capture';
import { HEAD_REPORT_TTL_MS, type HeadReport, parseSourceToken } from '@oplog/protocol';
import { createLogger, type Logger, type Service } from '@oplog/runtime';

export interface HeadReporterOptions {
  /** The consumer's WebSocket endpoint (as the producer has it); the report goes to /api/head on the same host. */
  url: string;
  token?: string;
  /** A CA to trust besides the system's, for wss. */
  ca?: Buffer;
  intervalMs?: number;
  logger?: Logger;
}

/**
 * Runs in the local app, next to a sidecar producer: reports the outbox head to the consumer about once a second
 * while it moves, and at a third of HEAD_REPORT_TTL_MS while it does not (the consumer forgets an older report). A producer that is down reports nothing, so without this the consumer could not tell how far
 * behind the source falls during the outage. Best effort: a report that fails is only logged at debug level.
 */
export class HeadReporter implements Service {
  readonly name = 'head-reporter';
  readonly #endpoint: URL;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #sent = -1;
  #sentAt = 0;
  #stopped: Promise<void> | undefined;
  #stop = () => {};

  constructor(
    private readonly orm: MikroORM,
    private readonly options: HeadReporterOptions,
  ) {
    this.#endpoint = new URL('/api/head', options.url.replace(/^ws/, 'http'));
    this.#logger = (options.logger ?? createLogger()).child({ component: 'head-reporter' });
  }

  run(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#stop = resolve;
      const tick = () =>
        void this.#report()
          .catch((error: unknown) => this.#logger.debug({ err: String(error) }, 'head report failed'))
          .finally(() => {
            if (this.#timer) this.#timer = setTimeout(tick, this.options.intervalMs ?? 1000);
          });
      this.#timer = setTimeout(tick, 0);
    });
    return this.#stopped;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop();
  }

  async #report(): Promise<void> {
    const head = await readSourceHead(this.orm.em.getConnection());
    if (!head || (head.seq === this.#sent && Date.now() - this.#sentAt < HEAD_REPORT_TTL_MS / 3)) return;
    const { token } = this.options;
    const report: HeadReport = {
      source: token ? parseSourceToken(token).sourceId : head.sourceId,
      incarnation: head.incarnation,
      head: { seq: head.seq, epoch: head.epoch },
    };
    await this.#post(JSON.stringify(report));
    this.#sent = head.seq;
    this.#sentAt = Date.now();
  }

  #post(body: string): Promise<void> {
    const { token, ca } = this.options;
    const request = this.#endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<void>((resolve, reject) => {
      const req = request(
        this.#endpoint,
        {
          method: 'POST',
          ca,
          timeout: 5000,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          res.resume();
          if (res.statusCode === 204) resolve();
          else reject(new Error(`consumer answered ${res.statusCode}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }
}
