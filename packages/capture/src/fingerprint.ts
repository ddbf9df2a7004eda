import { type EntityProperty, type MetadataStorage, ReferenceKind } from '@mikro-orm/core';
import type { SchemaFingerprint } from '@oplog/protocol';

/**
 * For each replicated entity, the properties an after-image can hold and their types: scalars by their declared
 * type, relations by the entity they point to. Both ends compute it from their own metadata and compare.
 */
export function schemaFingerprint(
  metadata: MetadataStorage,
  replicates: (entityName: string) => boolean,
): SchemaFingerprint {
  const fingerprint: SchemaFingerprint = {};
  for (const meta of Object.values(metadata.getAll())) {
    if (meta.embeddable || meta.virtual || meta.pivotTable || !replicates(meta.className)) continue;
    const props: Record<string, string> = {};
    for (const prop of meta.props) {
      if (prop.persist === false || prop.kind === ReferenceKind.ONE_TO_MANY) continue;
      if (prop.kind === ReferenceKind.MANY_TO_MANY && !prop.owner) continue;
      if (prop.kind === ReferenceKind.ONE_TO_ONE && !prop.owner) continue;
      props[prop.name] = prop.kind === ReferenceKind.SCALAR ? declaredType(prop) : `${prop.kind}:${prop.type}`;
    }
    fingerprint[meta.className] = props;
  }
  return fingerprint;
}

/**
 * The type as the entity declares it, not the column type, nor a length the platform fills in: a SQLite source and
 * a PostgreSQL consumer store one `uuid` property as `text` and `uuid` (of length 36 on SQLite only), and must still
 * agree.
 */
function declaredType(prop: EntityProperty): string {
  return String(prop.type).toLowerCase();
}
