import { type MetadataStorage, ReferenceKind } from '@mikro-orm/core';
import type { SchemaFingerprint } from '@oplog/protocol';

/**
 * For each replicated entity, the properties an after-image can hold and their types: scalars by column type,
 * relations by the entity they point to. Both ends compute it from their own metadata and compare.
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
      props[prop.name] =
        prop.kind === ReferenceKind.SCALAR ? String(prop.columnTypes?.[0] ?? prop.type) : `${prop.kind}:${prop.type}`;
    }
    fingerprint[meta.className] = props;
  }
  return fingerprint;
}
