import { ERRORS, type ErrorCode } from '@oplog/protocol';
import { describe, expect, it } from 'vitest';
import { HOSTILE, type HostileCase, hostileCases } from '../fuzz/hostile-frames.js';
import { BareProducer, type Closed, fingerprintOf, helloOf } from '../support/bare-producer.js';
import type { LogLine } from '../support/cli.js';
import type { Driver } from '../support/databases.js';
import { harnessPerTest, REPLICATED, type StreamHarness, sleep, waitForLogs } from '../support/stream-harness.js';
import { waitForUnion } from '../support/union.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SESSIONS = 1000;
const ATTACKERS = 4;
const MAX_PAYLOAD = 1 << 20;
const MAX_BATCH_ENTRIES = 1000;
const TIMEOUT = 180_000;

/** How one hostile session ended, next to what it had to. */
interface Result {
  case: HostileCase;
  closed: Closed;
  sent: number;
}

/** Hostile producers with valid credentials against a consumer on `target`, while two honest SQLite sources stream. */
export function fuzzSuite(target: Driver): void {
  describe(`hostile producers (consumer on ${target})`, () => {
    const createHarness = harnessPerTest();

    it(
      `${SESSIONS} seeded hostile sessions (FUZZ_SEED=${SEED}): each refused with its code and close code, nothing applied, honest sources keep flowing`,
      async () => {
        console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
        const h = await createHarness(['sqlite', 'sqlite'], target);
        // Every credential (the honest sites' too) is created before anything streams: on SQLite, a credential written
        // while the consumer applies can make that apply fail with SQLITE_BUSY (retried by the producer, but a refusal
        // of an honest source all the same).
        const attackers = Array.from({ length: ATTACKERS }, (_, a) => `mallory-${a + 1}`);
        const tokens: string[] = [];
        for (const source of attackers) tokens.push(await h.credential(source));
        for (const site of h.sites) await site.token();
        const consumer = await h.startConsumer([], {
          OPLOG_MAX_PAYLOAD: String(MAX_PAYLOAD),
          OPLOG_MAX_BATCH_ENTRIES: String(MAX_BATCH_ENTRIES),
        });
        const { port } = consumer;
        // Honest batches stay well below the consumer's frame limit.
        for (const site of h.sites) {
          await site.createSchema();
          await site.startProducer(port, { OPLOG_BATCH__MAX_BYTES: String(MAX_PAYLOAD / 4) });
        }
        const loads = h.sites.map((site) => site.load(100_000, 40));
        await h.waitFor(async () => (await honestCursors(h)).every((seq) => seq > 0), 60_000);

        const schema = fingerprintOf(await h.targetOrm(), REPLICATED);
        const victim = h.site.id;
        const victimQuestions = (
          await (await h.targetOrm()).em.getConnection().execute<{ id: string }[]>('select id from question limit 20')
        ).map(({ id }: { id: string }) => id);
        expect(victimQuestions.length, 'the victim has rows to attack').toBeGreaterThan(0);

        const before = await honestCursors(h);
        const results: Result[] = [];
        await Promise.all(
          attackers.map(async (source, a) => {
            const token = tokens[a]!;
            const target = {
              source,
              incarnation: 'm-1',
              schema,
              victim,
              victimQuestions,
              maxPayload: MAX_PAYLOAD,
              maxBatchEntries: MAX_BATCH_ENTRIES,
            };
            for (const hostile of hostileCases(SEED + a, SESSIONS / ATTACKERS, target)) {
              results.push(await attack(port, token, hostile, helloOf(schema, source, 'm-1')));
            }
          }),
        );
        const after = await honestCursors(h);

        // The consumer is still there, and the honest sources moved on during the attack.
        expect(consumer.process.child.exitCode, 'the consumer exited').toBeNull();
        for (const [i, site] of h.sites.entries()) {
          expect(after[i], `${site.id}'s cursor during the attack`).toBeGreaterThan(before[i]!);
        }

        const frames = results.reduce((sum, r) => sum + r.sent, 0);
        expect(frames).toBeGreaterThanOrEqual(1000);
        const kinds = new Set(results.map((r) => r.case.kind));
        console.log(`${frames} hostile frames in ${results.length} sessions, ${kinds.size} kinds`);

        // Every session ended as it had to: its error frame's code, the close code ERRORS pairs with it.
        const wrong = results.filter((r) => !endedAsExpected(r));
        expect(
          wrong.slice(0, 5).map((r) => ({ kind: r.case.kind, closed: r.closed })),
          `${wrong.length} sessions ended otherwise`,
        ).toEqual([]);

        // One log line per refusal, with the code the producer saw; no honest source was refused. The last lines can
        // reach this process after the sessions they close, so they are waited for.
        const refused = (l: LogLine) => l.msg === 'session refused';
        const closedWithError = results.filter((r) => r.closed.error).length;
        await waitForLogs(consumer.process, refused, closedWithError, 10_000);
        const refusals = consumer.process.logs.filter(refused);
        const honest = (l: LogLine) => h.sites.some((site) => site.id === l.source);
        expect(refusals.filter(honest), 'honest sources refused during the attack').toEqual([]);
        expect(countBy(refusals.map((l) => String(l.code)))).toEqual(
          countBy(results.flatMap((r) => (r.closed.error ? [r.closed.error.code] : []))),
        );

        // Nothing of any hostile frame was applied: no marked row exists, no attacker owns a row or moved its cursor.
        const connection = (await h.targetOrm()).em.getConnection();
        const marked = await connection.execute<{ n: number }[]>(
          `select (select count(*) from question where question_text like '${HOSTILE}%') + (select count(*) from tag where label like '${HOSTILE}%') as n`,
        );
        expect(Number(marked[0]!.n)).toBe(0);
        const owned = await connection.execute("select source from oplog_row_owner where source like 'mallory-%'");
        expect(owned).toEqual([]);

        for (const load of loads) load.child.kill('SIGTERM');
        await Promise.all(h.sites.map((site, i) => site.loadResult(loads[i]!)));
        await waitForUnion(h);
      },
      TIMEOUT,
    );
  });
}

/** One hostile session: connect, maybe complete the handshake, send the frames, and see how it ends. */
async function attack(
  port: number,
  token: string,
  hostile: HostileCase,
  hello: ReturnType<typeof helloOf>,
): Promise<Result> {
  for (;;) {
    const producer = await BareProducer.connect(port, token);
    if (hostile.handshake && !(await producer.handshake(hello))) {
      const closed = await producer.closed;
      // The previous session of this source may still be closing on the consumer's side.
      if (closed.error?.code === 'OPLOG_SOURCE_BUSY') {
        await sleep(20);
        continue;
      }
      throw new Error(`handshake refused: ${JSON.stringify(closed)}`);
    }
    for (const frame of hostile.frames) producer.send(frame);
    const closed = await Promise.race([producer.closed, sleep(30_000).then(() => undefined)]);
    if (!closed) throw new Error(`session still open 30 s after ${hostile.kind}`);
    if (!hostile.handshake && closed.error?.code === 'OPLOG_SOURCE_BUSY') {
      await sleep(20);
      continue;
    }
    return { case: hostile, closed, sent: hostile.frames.length };
  }
}

function endedAsExpected({ case: hostile, closed }: Result): boolean {
  const code = closed.error?.code as ErrorCode | undefined;
  return !!code && hostile.outcome.codes.includes(code) && closed.code === ERRORS[code].close;
}

/** The consumer's cursor of each honest site. */
function honestCursors(h: StreamHarness): Promise<number[]> {
  return Promise.all(h.sites.map((site) => h.cursor(site.id)));
}

function countBy(codes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const code of codes) out[code] = (out[code] ?? 0) + 1;
  return out;
}
