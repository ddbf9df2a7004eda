import { describeDifference, diffSchemas, type Hello, OplogError, type SchemaDifference } from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import type { Applier, ApplyContext } from './applier.js';

/** What the center does when a source's schema differs from its own: refuse the source, or apply what both share. */
export type SchemaPolicy = 'refuse' | 'apply-known';

/**
 * Admits a source's hello by its schema, and remembers per source how its entries are applied: the entities it
 * declared and the fields left out under apply-known.
 */
export class SchemaAdmission {
  /** source → the schema differences its last hello showed (apply-known only). */
  readonly #differences = new Map<string, SchemaDifference[]>();
  /** source → how its entries are applied, from its last hello. */
  readonly #contexts = new Map<string, ApplyContext>();

  constructor(
    private readonly applier: Applier,
    private readonly policy: SchemaPolicy,
    private readonly logger: Logger,
  ) {}

  /**
   * Entities the center does not replicate are refused outright (never created from frame data). Fields and types
   * must match, unless the policy is apply-known: then what differs is left out and reported.
   */
  admit(hello: Hello): OplogError | undefined {
    const ours = this.applier.fingerprint;
    const unknown = Object.keys(hello.schema).find((entity) => !Object.hasOwn(ours, entity));
    if (unknown) return OplogError.unknownEntity(unknown);
    const differences = diffSchemas(hello.schema, ours);
    if (differences.length > 0 && this.policy === 'refuse') {
      return OplogError.schemaMismatch(differences.map(describeDifference));
    }
    const ignored = new Map<string, Set<string>>();
    for (const { entity, field, kind } of differences) {
      if (kind !== 'source') ignored.set(entity, (ignored.get(entity) ?? new Set()).add(field));
    }
    this.#differences.set(hello.source, differences);
    this.#contexts.set(hello.source, {
      source: hello.source,
      ignore: ignored,
      entities: new Set(Object.keys(hello.schema)),
    });
    if (differences.length > 0) {
      this.logger.warn(
        { source: hello.source, code: 'OPLOG_SCHEMA_MISMATCH', differences: differences.map(describeDifference) },
        'schema differs: applying the fields both sides share (schemaPolicy apply-known)',
      );
    }
    return undefined;
  }

  /** The entities both sides replicate, in apply order. */
  entitiesOf(hello: Hello): string[] {
    return this.applier.entities.filter((entity) => Object.hasOwn(hello.schema, entity));
  }

  contextOf(source: string): ApplyContext {
    return this.#contexts.get(source) ?? { source };
  }

  differencesOf(source: string): SchemaDifference[] {
    return this.#differences.get(source) ?? [];
  }
}
