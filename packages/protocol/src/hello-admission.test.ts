import { describe, expect, it } from 'vitest';
import type { OplogError } from './errors.js';
import type { Hello } from './frames.js';
import { admitHello, fenceNewcomer } from './hello-admission.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './version.js';

const hello = (changes: Partial<Hello> = {}): Hello => ({
  type: 'hello',
  protocol: { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
  source: 'shop-1',
  incarnation: 'i1',
  head: { seq: 0, epoch: 0 },
  headTxId: null,
  oldest: 1,
  schema: {},
  ...changes,
});

const anonymous = { helloSeen: false, credentialSourceId: undefined };
const errorOf = (admission: { version: number } | { error: OplogError }) =>
  'error' in admission ? admission.error : undefined;

describe('admitHello', () => {
  it('admits a first hello at the highest version both sides speak', () => {
    expect(admitHello(hello(), anonymous)).toEqual({ version: PROTOCOL_VERSION });
    expect(admitHello(hello({ protocol: { min: 1, max: MIN_PROTOCOL_VERSION } }), anonymous)).toEqual({
      version: MIN_PROTOCOL_VERSION,
    });
    expect(admitHello(hello({ protocol: { min: 1, max: 99 } }), anonymous)).toEqual({ version: PROTOCOL_VERSION });
  });

  it('refuses a second hello on one connection (OPLOG_BAD_FRAME)', () => {
    const error = errorOf(admitHello(hello(), { ...anonymous, helloSeen: true }));
    expect([error?.code, error?.message]).toEqual(['OPLOG_BAD_FRAME', 'second hello']);
  });

  it('refuses a producer that shares no version (OPLOG_VERSION_UNSUPPORTED), naming its range', () => {
    const older = errorOf(admitHello(hello({ protocol: { min: 1, max: MIN_PROTOCOL_VERSION - 1 } }), anonymous));
    expect(older?.code).toBe('OPLOG_VERSION_UNSUPPORTED');
    expect(older?.message).toContain(`1..${MIN_PROTOCOL_VERSION - 1}`);
    const newer = hello({ protocol: { min: PROTOCOL_VERSION + 1, max: PROTOCOL_VERSION + 2 } });
    expect(errorOf(admitHello(newer, anonymous))?.code).toBe('OPLOG_VERSION_UNSUPPORTED');
  });

  it("refuses a hello for another source than the credential's (OPLOG_UNAUTHORIZED, close 1008)", () => {
    const error = errorOf(admitHello(hello({ source: 'shop-2' }), { helloSeen: false, credentialSourceId: 'shop-1' }));
    expect(error?.code).toBe('OPLOG_UNAUTHORIZED');
    expect(error?.closeCode).toBe(1008);
    expect(error?.message).toBe('credential is for source shop-1, hello claims shop-2');
  });

  it("admits the credential's own source, and any source on an anonymous connection", () => {
    expect(admitHello(hello(), { helloSeen: false, credentialSourceId: 'shop-1' })).toEqual({
      version: PROTOCOL_VERSION,
    });
    expect(admitHello(hello({ source: 'anything' }), anonymous)).toEqual({ version: PROTOCOL_VERSION });
  });

  it('checks in order: second hello, then version, then credential', () => {
    const everythingWrong = hello({ source: 'shop-2', protocol: { min: 99, max: 99 } });
    const seen = { helloSeen: true, credentialSourceId: 'shop-1' };
    expect(errorOf(admitHello(everythingWrong, seen))?.code).toBe('OPLOG_BAD_FRAME');
    expect(errorOf(admitHello(everythingWrong, { ...seen, helloSeen: false }))?.code).toBe('OPLOG_VERSION_UNSUPPORTED');
  });
});

describe('fenceNewcomer', () => {
  const timeout = 10_000;
  const now = 1_000_000;

  it('lets the first session of a source in', () => {
    expect(fenceNewcomer('shop-1', undefined, now, timeout)).toBeUndefined();
  });

  it('refuses a newcomer while the current session was heard within the peer timeout (OPLOG_SOURCE_BUSY)', () => {
    const error = fenceNewcomer('shop-1', now - timeout + 1, now, timeout);
    expect(error?.code).toBe('OPLOG_SOURCE_BUSY');
    expect(error?.message).toBe('source shop-1 already has a live session');
    expect(fenceNewcomer('shop-1', now, now, timeout)?.code).toBe('OPLOG_SOURCE_BUSY');
  });

  it('lets a newcomer replace a session silent for the peer timeout or longer', () => {
    expect(fenceNewcomer('shop-1', now - timeout, now, timeout)).toBeUndefined();
    expect(fenceNewcomer('shop-1', now - 5 * timeout, now, timeout)).toBeUndefined();
  });
});
