import { describe, expect, it } from 'vitest';
import { formatSourceToken, parseSourceToken } from './source-token.js';

const SECRET = `${'A'.repeat(42)}w`;

describe('parseSourceToken', () => {
  it('splits <sourceId>.<secret>', () => {
    expect(parseSourceToken(`shop-1_a.${SECRET}`)).toEqual({ sourceId: 'shop-1_a', secret: SECRET });
    expect(formatSourceToken({ sourceId: 'x', secret: SECRET })).toBe(`x.${SECRET}`);
  });

  it.each([
    ['no dot', SECRET],
    ['empty source', `.${SECRET}`],
    ['source too long', `${'s'.repeat(65)}.${SECRET}`],
    ['source with a dot', `a.b.${SECRET}`],
    ['short secret', `s.${SECRET.slice(1)}`],
    ['long secret', `s.${SECRET}A`],
    ['padded secret', `s.${SECRET.slice(1)}=`],
    ['space', `s .${SECRET}`],
  ])('refuses a token with %s as OPLOG_UNAUTHORIZED, without echoing it', (_, token) => {
    expect(() => parseSourceToken(token)).toThrow(expect.objectContaining({ code: 'OPLOG_UNAUTHORIZED' }));
    try {
      parseSourceToken(token);
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET.slice(0, 20));
    }
  });
});
