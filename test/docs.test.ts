import { readFileSync } from 'node:fs';
import { errorDocs } from '@oplog/protocol';
import { describe, expect, it } from 'vitest';

describe('docs/errors.md', () => {
  it('is the rendering of the ERRORS table (run npm run docs:errors after changing a code)', () => {
    expect(readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')).toBe(errorDocs());
  });
});
