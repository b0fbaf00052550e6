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
    ['HTTP_HEADERS_TIMEOUT_SECONDS', { HTTP_HEADERS_TIMEOUT_SECONDS: '0' }],
    ['HTTP_HEADERS_TIMEOUT_SECONDS', { HTTP_HEADERS_TIMEOUT_SECONDS: '40', HTTP_REQUEST_TIMEOUT_SECONDS: '30' }],
    ['HTTP_REQUEST_TIMEOUT_SECONDS', { HTTP_REQUEST_TIMEOUT_SECONDS: 'soon' }],
    ['HTTP_KEEP_ALIVE_TIMEOUT_SECONDS', { HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '-1' }],
    ['HTTP_MAX_CONNECTIONS', { HTTP_MAX_CONNECTIONS: '0' }],
    ['ALLOWED_HOSTS', { ALLOWED_HOSTS: 'http://example.com' }],
    ['ALLOWED_HOSTS', { ALLOWED_HOSTS: 'a b' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://shop.example.com/' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'shop.example.com' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
    ['METRICS_MAX_OPERATIONS', { METRICS_MAX_OPERATIONS: '-5' }],
  ])('refuses a bad %s with a message naming it', (name, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${name}:`));
  });

  it('resolves the Host list from the auth mode and reads CORS origins', () => {
    expect(loadConfig({}).allowedHosts).toEqual(['localhost', '.localhost', '127.0.0.1', '[::1]']);
    expect(loadConfig({ AUTH_MODE: 'required' }).allowedHosts).toBeNull();
    expect(loadConfig({ ALLOWED_HOSTS: 'API.example.com, .lan,[::1]', AUTH_MODE: 'required' }).allowedHosts).toEqual(['api.example.com', '.lan', '[::1]']);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins).toEqual(['https://a.example', 'http://localhost:5173']);
  });
});

describe('shopper-token configuration', () => {
  const base = { NODE_ENV: 'test' } as NodeJS.ProcessEnv;
  it('needs issuer and audience with a key source, and only one key source', () => {
    expect(() => loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32) })).toThrow(/JWT_ISSUER, JWT_AUDIENCE: both are required/);
    expect(() => loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32), JWT_JWKS_URL: 'http://127.0.0.1:1/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(/set only one source/);
    expect(() => loadConfig({ ...base, JWT_SECRET: 'short', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(/JWT_SECRET: must be at least 32/);
    expect(() => loadConfig({ ...base, JWT_PUBLIC_KEY: 'not a pem', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(/JWT_PUBLIC_KEY/);
    expect(loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32), JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }).jwtEnabled).toBe(true);
    expect(loadConfig(base).jwtEnabled).toBe(false);
  });
});
