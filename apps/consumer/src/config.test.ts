import { CLI_ENV_NAMES, envName, settingsOf } from '@oplog/runtime';
import { describe, expect, it } from 'vitest';
import { consumerSettings, DATABASE_OPTIONS, START_OPTIONS } from './config.js';

describe('the consumer config', () => {
  it('is the list of variables the producer skips (one env file may serve both)', () => {
    expect([...settingsOf(consumerSettings).keys()].map(envName)).toEqual(CLI_ENV_NAMES['oplog-consumer']);
  });

  it('has a key for every flag', () => {
    const keys = settingsOf(consumerSettings);
    for (const option of [...START_OPTIONS, ...DATABASE_OPTIONS])
      expect(keys.has(option.path), option.flags).toBe(true);
  });
});
