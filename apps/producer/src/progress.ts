import type { Producer } from '@oplog/producer';
import type { Logger } from '@oplog/runtime';

const BAR = 30;

/**
 * While the producer catches up a backlog: a progress bar on a terminal, a log line every 5 s otherwise.
 * Returns the function that stops it.
 */
export function reportCatchUp(producer: Producer, logger: Logger, tty = process.stderr.isTTY): () => void {
  let start: { seq: number; at: number } | undefined;
  let lastLog = 0;
  const timer = setInterval(
    () => {
      const { state, headSeq, ackedSeq } = producer.status();
      const backlog = headSeq - ackedSeq;
      if (state !== 'streaming' || backlog <= 0) {
        if (start && tty) process.stderr.write(`\r\x1b[Kcaught up at seq ${ackedSeq}\n`);
        start = undefined;
        return;
      }
      start ??= { seq: ackedSeq, at: Date.now() };
      const done = ackedSeq - start.seq;
      const total = headSeq - start.seq;
      const ratio = total > 0 ? done / total : 1;
      const rate = Math.round(done / Math.max(0.001, (Date.now() - start.at) / 1000));
      if (tty) {
        const filled = Math.round(ratio * BAR);
        process.stderr.write(
          `\r\x1b[Kcatching up ▕${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}▏ ${done}/${total} ` +
            `(${Math.floor(ratio * 100)}%) ${rate}/s`,
        );
      } else if (Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        logger.info({ backlog, headSeq, ackedSeq, percent: Math.floor(ratio * 100), perSecond: rate }, 'catching up');
      }
    },
    tty ? 250 : 1000,
  );
  timer.unref();
  return () => clearInterval(timer);
}
