import { CLI_ENV_NAMES, envName, settingsOf } from '@oplog/runtime';
import { describe, expect, it } from 'vitest';
import { producerConfigSchema, START_OPTIONS } from './config.js';

describe('the producer config', () => {
  it('is the list of variables the consumer skips (one env file may serve both)', () => {
    expect([...settingsOf(producerConfigSchema).keys()].map(envName)).toEqual(CLI_ENV_NAMES['oplog-producer']);
  });

  it('has a key for every flag', () => {
    const keys = settingsOf(producerConfigSchema);
    for (const option of START_OPTIONS) expect(keys.has(option.path), option.flags).toBe(true);
  });
});
