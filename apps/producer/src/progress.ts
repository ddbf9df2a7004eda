import type { Producer } from '@oplog/producer';
import type { Logger } from '@oplog/runtime';

const BAR = 30;

/** What the producer is working through: snapshot rows, or a backlog of changes. */
interface Progress {
  label: 'snapshotting' | 'catching up';
  done: number;
  total: number;
  since: number;
}

/**
 * While the producer sends a snapshot or catches up a backlog: a progress bar on a terminal, a log line every
 * 5 s otherwise. Returns the function that stops it.
 */
export function reportCatchUp(producer: Producer, logger: Logger, tty = process.stderr.isTTY): () => void {
  let catchUp: { seq: number; at: number } | undefined;
  let snapshotSince: number | undefined;
  let showing = false;
  let lastLog = 0;
  const current = (): Progress | undefined => {
    const { state, headSeq, ackedSeq, snapshot } = producer.status();
    if (state === 'streaming' && snapshot) {
      snapshotSince ??= Date.now();
      const { sentRows, remainingRows } = snapshot;
      return { label: 'snapshotting', done: sentRows, total: sentRows + remainingRows, since: snapshotSince };
    }
    snapshotSince = undefined;
    if (state !== 'streaming' || headSeq <= ackedSeq) {
      catchUp = undefined;
      return undefined;
    }
    catchUp ??= { seq: ackedSeq, at: Date.now() };
    return { label: 'catching up', done: ackedSeq - catchUp.seq, total: headSeq - catchUp.seq, since: catchUp.at };
  };
  const timer = setInterval(
    () => {
      const progress = current();
      if (!progress) {
        if (showing && tty) process.stderr.write(`\r\x1b[Kcaught up at seq ${producer.status().ackedSeq}\n`);
        showing = false;
        return;
      }
      showing = true;
      const { label, done, total, since } = progress;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const rate = Math.round(done / Math.max(0.001, (Date.now() - since) / 1000));
      if (tty) {
        const filled = Math.round(ratio * BAR);
        process.stderr.write(
          `\r\x1b[K${label} ▕${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}▏ ${done}/${total} ` +
            `(${Math.floor(ratio * 100)}%) ${rate}/s`,
        );
      } else if (Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        const { headSeq, ackedSeq } = producer.status();
        logger.info({ done, total, headSeq, ackedSeq, percent: Math.floor(ratio * 100), perSecond: rate }, label);
      }
    },
    tty ? 250 : 1000,
  );
  timer.unref();
  return () => clearInterval(timer);
}
