import { type MetadataStorage, ReferenceKind } from '@mikro-orm/core';

/**
 * Replicated relations with `deleteRule: 'cascade'`. The database deletes those child rows itself, so no ORM event
 * and no oplog entry is ever made for them: the central copy would keep them. Returns one warning per relation.
 */
export function uncapturedCascades(metadata: MetadataStorage, replicates: (entityName: string) => boolean): string[] {
  const warnings: string[] = [];
  for (const meta of Object.values(metadata.getAll())) {
    if (meta.embeddable || meta.virtual || !replicates(meta.className)) continue;
    for (const prop of meta.relations) {
      const owning = prop.kind === ReferenceKind.MANY_TO_ONE || (prop.kind === ReferenceKind.ONE_TO_ONE && prop.owner);
      if (!owning || prop.deleteRule !== 'cascade') continue;
      warnings.push(
        `${meta.className}.${prop.name} has deleteRule 'cascade': ${meta.className} rows the database deletes with ` +
          `their ${prop.type} are not captured. Remove them through the ORM (cascade: ['remove'] or orphanRemoval ` +
          'on a loaded collection), or record them with recordWrites().',
      );
    }
  }
  return warnings;
}
