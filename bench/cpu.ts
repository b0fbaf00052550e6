// CPU time of the processes a benchmark drives: this machine is shared, so wall times move with
// the load while CPU seconds (what the work costs) move far less. Used by run.ts, serving.ts and import.ts.
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process (all its threads) in seconds; 0 when it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of one thread of a process (the main thread's id is the process id). */
export function threadCpuSeconds(pid: number, tid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * Per thread of a process: seconds on a CPU and seconds runnable but waiting for one (the
 * scheduler's run queue), from /proc/<pid>/task/<tid>/schedstat; with its nice value. Zeros when gone.
 */
export function threadSchedSeconds(pid: number, tid: number): { cpu: number; waiting: number } {
  try {
    const [cpu, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpu: cpu / 1e9, waiting: waiting / 1e9 };
  } catch {
    return { cpu: 0, waiting: 0 };
  }
}

/** CPU seconds per thread name of a process (node's event loop is "node"; ORT, libuv, V8 workers have their own). */
export function threadsCpuSeconds(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!pid) return out;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}#${tid}`, (out.get(`${name}#${tid}`) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds of the PostgreSQL backends connected to one database (server on this machine) from
 * now on: their pids from pg_stat_activity, their CPU from /proc, sampled every 500 ms and once more
 * at the end (a backend's last sample counts when it has exited; backends that were already there
 * count from the first sample).
 */
export function samplePostgresCpu(adminUrl: string, database: string): { ready: Promise<void>; stop: () => Promise<number> } {
  /** CPU of each backend when first seen: its growth is what counts (0 for backends started meanwhile). */
  const base = new Map<number, number>();
  const last = new Map<number, number>();
  let stopped = false;
  let firstLook = true;
  let looked: () => void = () => {};
  const ready = new Promise<void>((r) => (looked = r));
  const loop = (async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      for (;;) {
        const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        for (const { pid } of rows) {
          const cpu = processCpuSeconds(pid);
          if (cpu <= 0) continue;
          if (!base.has(pid)) base.set(pid, firstLook ? cpu : 0);
          last.set(pid, Math.max(last.get(pid) ?? 0, cpu));
        }
        if (firstLook) (firstLook = false), looked();
        if (stopped) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      looked();
      await c.end();
    }
  })();
  return {
    ready,
    async stop() {
      stopped = true;
      await loop.catch(() => {});
      let sum = 0;
      for (const [pid, cpu] of last) sum += cpu - (base.get(pid) ?? 0);
      return sum;
    },
  };
}


/** The machine's CPU time so far (all cores, seconds) and the part "stolen" by the hypervisor (/proc/stat). */
export function machineCpu(): { total: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already counted in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total: total / CLOCK_TICKS, steal: (f[7] ?? 0) / CLOCK_TICKS };
  } catch {
    return { total: 0, steal: 0 };
  }
}
