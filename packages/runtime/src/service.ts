import type { Logger } from 'pino';

/** Every long-running part: `run()` resolves when it has stopped; `drain()` finishes work in flight first. */
export interface Service {
  readonly name: string;
  run(): Promise<void>;
  /** Stops taking new work and finishes what is in flight. */
  drain?(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs services until one of them stops or SIGTERM / SIGINT arrives; then drains and stops all of them in reverse
 * order and flushes the log. Rejects with the error of the first service that failed, once all are stopped, so that
 * the CLI reports it (as one line on stderr, exit status 1). A second signal exits at once.
 */
export async function runServices(services: readonly Service[], logger: Logger): Promise<void> {
  let stopping: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      for (const service of [...services].reverse()) {
        try {
          await service.drain?.();
          await service.stop();
        } catch (error) {
          process.exitCode = 1;
          logger.error({ err: error, service: service.name }, 'service failed to stop cleanly');
        }
      }
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await Promise.race(
      services.map((service) =>
        service.run().catch((error: unknown) => {
          failure ??= { error };
          logger.error({ err: error, service: service.name }, 'service failed');
        }),
      ),
    );
    await shutdown('a service stopped');
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    logger.flush();
  }
  if (failure) throw failure.error;
}
