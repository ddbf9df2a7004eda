/**
 * What the center must hold, for the center model suite: rows of questions and choices, who owns each, and how each
 * source transaction ends. The rules, in the order the consumer applies them:
 * 1. a key in a spelling no uuid column reads is OPLOG_BAD_FRAME, before anything is written;
 * 2. a change to a row another source owns, or a choice pointing at another source's question, is OPLOG_NOT_OWNER;
 * 3. a choice pointing at no question, or a question deleted under a choice, is OPLOG_POISON_CHANGE (foreign key),
 *    checked per statement: consecutive changes of one entity and kind go as one statement, last image per row;
 * 4. else the transaction applies whole, and its source owns what it wrote and no longer what it deleted.
 * A refused transaction applies nothing, and its source halts there (or, under the quarantine policy, a transaction
 * refused by 2 or 3 is parked and acked, and its source goes on).
 */

export type Spelling = 'canonical' | 'upper' | 'braces' | 'bare' | 'invalid';

export type Change =
  | { entity: 'Question'; op: 'insert' | 'update' | 'delete'; key: string; spelled: string; text: string }
  | {
      entity: 'Choice';
      op: 'insert' | 'update' | 'delete';
      key: string;
      spelled: string;
      question: string;
      questionSpelled: string;
      votes: number;
    };

/** How the consumer ends a transaction: acked (maybe quarantined, with the code it was refused with), or refused. */
export type Outcome = { ok: true; quarantined?: string } | { ok: false; code: string };

/** A canonical (lower-case, hyphenated) uuid as a source may spell it. */
export function spell(uuid: string, spelling: Spelling): string {
  switch (spelling) {
    case 'canonical':
      return uuid;
    case 'upper':
      return uuid.toUpperCase();
    case 'braces':
      return `{${uuid}}`;
    case 'bare':
      return uuid.replaceAll('-', '');
    case 'invalid':
      return `${uuid.slice(0, -1)}g`;
  }
}

interface State {
  questions: Map<string, { text: string; owner: string }>;
  choices: Map<string, { votes: number; question: string; owner: string }>;
}

export class CenterModel {
  #state: State = { questions: new Map(), choices: new Map() };

  /** `quarantine`: a transaction refused by its data is parked and acked, and its source goes on (poison policy). */
  constructor(private readonly poison: 'halt' | 'quarantine') {}

  /** Applies one source transaction to the model, or not, and says how the consumer must end it. */
  apply(source: string, changes: readonly Change[]): Outcome {
    const outcome = this.#apply(source, changes);
    const parked = !outcome.ok && outcome.code !== 'OPLOG_BAD_FRAME' && this.poison === 'quarantine';
    return parked ? { ok: true, quarantined: outcome.code } : outcome;
  }

  #apply(source: string, changes: readonly Change[]): Outcome {
    const invalid = (spelled: string) => spelled.endsWith('g');
    if (
      changes.some(
        (c) => invalid(c.spelled) || (c.entity === 'Choice' && c.op !== 'delete' && invalid(c.questionSpelled)),
      )
    ) {
      return { ok: false, code: 'OPLOG_BAD_FRAME' };
    }
    const { questions, choices } = this.#state;
    const foreign = (owner: string | undefined) => owner !== undefined && owner !== source;
    for (const c of changes) {
      const row = c.entity === 'Question' ? questions.get(c.key) : choices.get(c.key);
      if (foreign(row?.owner)) return { ok: false, code: 'OPLOG_NOT_OWNER' };
      if (c.entity === 'Choice' && c.op !== 'delete' && foreign(questions.get(c.question)?.owner)) {
        return { ok: false, code: 'OPLOG_NOT_OWNER' };
      }
    }
    const next: State = { questions: new Map(questions), choices: new Map(choices) };
    for (const group of statements(changes)) {
      const last = new Map(group.map((c) => [c.key, c]));
      for (const c of last.values()) {
        if (c.entity === 'Question') {
          if (c.op === 'delete') next.questions.delete(c.key);
          else next.questions.set(c.key, { text: c.text, owner: source });
        } else if (c.op === 'delete') next.choices.delete(c.key);
        else next.choices.set(c.key, { votes: c.votes, question: c.question, owner: source });
      }
      const orphan = [...next.choices.values()].some((choice) => !next.questions.has(choice.question));
      if (orphan) return { ok: false, code: 'OPLOG_POISON_CHANGE' };
    }
    this.#state = next;
    return { ok: true };
  }

  /** The rows and owners the center must hold, as the suite reads them back. */
  expected() {
    const { questions, choices } = this.#state;
    const byId = <T extends { id: string }>(rows: T[]) => rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    const owners = [
      ...[...questions].map(([id, q]) => ({ entity: 'Question', pk: JSON.stringify(id), source: q.owner })),
      ...[...choices].map(([id, c]) => ({ entity: 'Choice', pk: JSON.stringify(id), source: c.owner })),
    ];
    return {
      questions: byId([...questions].map(([id, q]) => ({ id, text: q.text }))),
      choices: byId([...choices].map(([id, c]) => ({ id, votes: c.votes, question: c.question }))),
      owners: sortOwners(owners),
    };
  }
}

export function sortOwners<T extends { entity: string; pk: string }>(owners: T[]): T[] {
  return owners.sort((a, b) => (a.entity + a.pk < b.entity + b.pk ? -1 : 1));
}

/** Consecutive changes of one entity, deletes apart from upserts: what the applier sends as one statement. */
function statements(changes: readonly Change[]): Change[][] {
  const groups: Change[][] = [];
  for (const c of changes) {
    const group = groups.at(-1);
    const first = group?.[0];
    if (first && first.entity === c.entity && (first.op === 'delete') === (c.op === 'delete')) group.push(c);
    else groups.push([c]);
  }
  return groups;
}
