import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 4000, MAX_PAGE_SIZE: 1000, DEFAULT_MODEL: 'xgboost-segment', ORT_EXECUTION_PROVIDERS: 'cuda,cpu' });
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['ORT_EXECUTION_PROVIDERS', { ORT_EXECUTION_PROVIDERS: 'tpu' }],
    ['INFERENCE_MAX_QUEUE_DELAY_MS', { INFERENCE_MAX_QUEUE_DELAY_MS: '-1' }],
    ['SCORING_AS_OF', { SCORING_AS_OF: 'yesterday' }],
    ['DEFAULT_PAGE_SIZE', { DEFAULT_PAGE_SIZE: '500', MAX_PAGE_SIZE: '100' }],
  ])('refuses a bad %s with a message naming it', (name, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${name}:`));
  });
});
