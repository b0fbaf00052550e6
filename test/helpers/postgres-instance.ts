// A private PostgreSQL server for fault tests: initdb into a temporary folder, start and stop it at
// will on its own port. Needs the server binaries and (as root) the `postgres` user.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const version = readdirSync(base).sort().at(-1);
  const dir = version && path.join(base, version, 'bin');
  return dir && existsSync(path.join(dir, 'initdb')) ? dir : undefined;
}

export interface PostgresInstance {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** Why a private instance cannot run here, or undefined when it can. */
export async function privatePostgresUnavailable(): Promise<string | undefined> {
  if (!binDir()) return 'PostgreSQL server binaries not found';
  if (process.getuid?.() === 0) {
    try {
      await run('id', ['postgres']);
    } catch {
      return 'no postgres user to run the server as';
    }
  }
  return undefined;
}

export async function createPostgresInstance(port: number): Promise<PostgresInstance> {
  const bin = binDir()!;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cia-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const { stdout } = asRoot ? await run('id', ['-u', 'postgres']) : { stdout: String(process.getuid?.()) };
  const { stdout: gid } = asRoot ? await run('id', ['-g', 'postgres']) : { stdout: String(process.getgid?.()) };
  if (asRoot) await chown(dir, Number(stdout), Number(gid));
  const pg = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]) : run(path.join(bin, cmd), args));
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const ctl = (action: 'start' | 'stop') =>
    action === 'start'
      ? pg('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'])
      : pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    start: async () => void (await ctl('start')),
    stop: async () => void (await ctl('stop')),
    destroy: async () => {
      await ctl('stop').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
