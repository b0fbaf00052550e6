// Builds the admin dashboard and the GraphQL IDE (src/admin/web) into dist/admin when their inputs
// are newer than the last build, so `npm start` on a fresh clone serves them and later starts pay
// only a directory walk. Steps: typed operations (GraphQL Code Generator, from schema.graphql and
// the dashboard's .graphql documents), then `vite build`. `npm run build:admin -- --force` rebuilds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webDir = path.join(root, 'src/admin/web');
const outDir = path.join(root, 'dist/admin');
const stampFile = path.join(outDir, '.build-stamp');

/** Everything whose change must trigger a rebuild. */
const inputs = [webDir, path.join(root, 'schema.graphql'), path.join(root, 'codegen.yml'), path.join(root, 'package-lock.json')];

function newestMtime(p: string): number {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of fs.readdirSync(p)) {
    // Generated code is an output of this build, not an input.
    if (entry === 'generated' || entry === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(path.join(p, entry)));
  }
  return newest;
}

export function adminBuildIsFresh(): boolean {
  const stamp = fs.statSync(stampFile, { throwIfNoEntry: false });
  if (!stamp || !fs.existsSync(path.join(outDir, 'index.html')) || !fs.existsSync(path.join(outDir, 'graphiql.html'))) return false;
  return Math.max(...inputs.map(newestMtime)) <= stamp.mtimeMs;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
}

/** Builds when stale (or forced); returns whether it built. */
export function buildAdmin(force = false): boolean {
  if (!force && adminBuildIsFresh()) return false;
  const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
  if (!fs.existsSync(bin('vite'))) {
    // An install without dev dependencies: the API runs; /admin says the dashboard is not built.
    console.error('admin dashboard not built: vite is not installed (install with dev dependencies: npm ci)');
    return false;
  }
  const started = Date.now();
  run(bin('graphql-codegen'), ['--config', 'codegen.yml', '--silent']);
  // Always the production build of React: Vite keeps a NODE_ENV it inherits (vitest sets "test",
  // a developer's shell may say "development"), which would bundle React's development build.
  run(bin('vite'), ['build', '--config', path.join(webDir, 'vite.config.ts'), '--logLevel', 'warn'], { NODE_ENV: 'production' });
  fs.writeFileSync(stampFile, `${new Date().toISOString()}\n`);
  console.error(`admin dashboard built into dist/admin in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildAdmin(process.argv.includes('--force'));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
