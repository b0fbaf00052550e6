// The test harness itself: a PostgreSQL server that CI asked for explicitly must not be skipped.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/process.js';

function importDatabasesHelper(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', "await import('./test/helpers/databases.ts')"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('test harness', () => {
  it('fails when TEST_POSTGRES_URL is set but the server is unreachable', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const { code, output } = await importDatabasesHelper({ TEST_POSTGRES_URL: 'postgresql://postgres@127.0.0.1:1/postgres' });
    expect(code).not.toBe(0);
    expect(output).toContain('TEST_POSTGRES_URL is set but PostgreSQL is not reachable');
  });
});
