import type { SchemaFingerprint } from './frames.js';

/** One way a source's entity differs from the consumer's. */
export interface SchemaDifference {
  entity: string;
  field: string;
  /** `here`: the source sends a field the consumer lacks; `type`: both have it, typed differently; `source`: only the consumer has it. */
  kind: 'here' | 'type' | 'source';
  problem: string;
}

/**
 * Compares a source's fingerprint with the consumer's, for the entities the source sends. An entity the consumer
 * does not have is not a difference here: the consumer refuses it outright.
 */
export function diffSchemas(source: SchemaFingerprint, consumer: SchemaFingerprint): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  for (const [entity, fields] of Object.entries(source)) {
    const ours = consumer[entity];
    if (!ours) continue;
    for (const [field, type] of Object.entries(fields)) {
      const local = ours[field];
      if (local === undefined) {
        differences.push({ entity, field, kind: 'here', problem: `the consumer has no field ${field}` });
      } else if (local !== type) {
        differences.push({
          entity,
          field,
          kind: 'type',
          problem: `${field} is ${type} at the source but ${local} here`,
        });
      }
    }
    for (const field of Object.keys(ours)) {
      if (!Object.hasOwn(fields, field)) {
        differences.push({ entity, field, kind: 'source', problem: `the source has no field ${field}` });
      }
    }
  }
  return differences;
}

export function describeDifference({ entity, problem }: SchemaDifference): string {
  return `entity ${entity}: ${problem}`;
}
