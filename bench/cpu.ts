// CPU time of the processes a benchmark drives: this machine is shared, so wall times move with
// the load while CPU seconds (what the work costs) move far less. Used by run.ts and import.ts.
import { readFileSync } from 'node:fs';
import pg from 'pg';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds (0 when it is gone). */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of the PostgreSQL backends connected to one database (server on this machine): their
 * pids from pg_stat_activity, their CPU from /proc, sampled every 500 ms (a backend's last sample
 * counts when it has exited; parallel workers that live less than a sample are missed).
 */
export function samplePostgresCpu(adminUrl: string, database: string): { stop: () => Promise<number> } {
  const seen = new Map<number, number>();
  let stopped = false;
  const loop = (async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      while (!stopped) {
        const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        for (const { pid } of rows) {
          const cpu = processCpuSeconds(pid);
          if (cpu > 0) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpu));
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => {});
      return [...seen.values()].reduce((a, b) => a + b, 0);
    },
  };
}
