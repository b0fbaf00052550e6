// Runs the real service (`tsx src/main.ts`) as a child process and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '../..');

export interface ServiceProcess {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first log line matching `pattern` (parsed), within `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<Record<string, any>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startService(env: Record<string, string>): ServiceProcess {
  return startNode('src/main.ts', [], { PORT: '0', LOG_LEVEL: 'info', ...env });
}

/** Runs a TypeScript entry point of the project (`src/ingest/cli.ts`…) as a child process. */
export function startNode(script: string, args: string[], env: Record<string, string>): ServiceProcess {
  return startProcess(process.execPath, ['--import', 'tsx', script, ...args], env);
}

/** Runs any command in the project's folder (e.g. `npm start`) as a child process. */
export function startProcess(command: string, args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ORT_EXECUTION_PROVIDERS: 'cpu', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (v: Record<string, any>) => void }[] = [];
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          let parsed: Record<string, any> = { line };
          try {
            parsed = JSON.parse(line);
          } catch {
            // not JSON
          }
          w.resolve(parsed);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    waitFor(pattern, ms = 60_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) {
        try {
          return Promise.resolve(JSON.parse(seen));
        } catch {
          return Promise.resolve({ line: seen });
        }
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; last lines:\n${lines.slice(-5).join('\n')}`)), ms);
        waiters.push({ pattern, resolve: (v) => (clearTimeout(timer), resolve(v)) });
        void exited.then(({ code }) => reject(new Error(`process exited (${code}) before ${pattern}; last lines:\n${lines.slice(-5).join('\n')}`)));
      });
    },
  };
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr lines, interleaved as they arrived. */
  output: string;
}

/** Runs a command-line entry point to completion. */
export async function runCommand(script: string, args: string[], env: Record<string, string>): Promise<CommandResult> {
  const p = startNode(script, args, env);
  const { code, signal } = await p.exited;
  return { code, signal, output: p.lines.join('\n') };
}
