import { describe, expect, it } from 'vitest';
import { describeDifference, diffSchemas } from './schema-diff.js';

describe('diffSchemas', () => {
  const consumer = { Choice: { id: 'uuid', votes: 'integer', note: 'varchar(100)' } };

  it('names the entity and field of every difference, of three kinds', () => {
    const differences = diffSchemas({ Choice: { id: 'uuid', votes: 'text', extra: 'integer' } }, consumer);
    expect(differences.map(describeDifference)).toEqual([
      'entity Choice: votes is text at the source but integer here',
      'entity Choice: the consumer has no field extra',
      'entity Choice: the source has no field note',
    ]);
    expect(differences.map((d) => d.kind)).toEqual(['type', 'here', 'source']);
  });

  it('finds nothing when both sides agree, and leaves unknown entities to the caller', () => {
    expect(diffSchemas(consumer, consumer)).toEqual([]);
    expect(diffSchemas({ Unknown: { id: 'uuid' } }, consumer)).toEqual([]);
  });
});
