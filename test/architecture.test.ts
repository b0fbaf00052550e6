// The import graph keeps one direction: the scoring core (inference, features, scoring, lifetime)
// and the database room never import the GraphQL or HTTP rooms, so batch scoring, the CLIs and
// the workers can use them without pulling in a server. Read from the source files themselves.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../src');

/** Every .ts file under src/ (not the dashboard's browser code), as a path relative to src/. */
async function sourceFiles(): Promise<string[]> {
  const entries = await readdir(src, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
    .map((e) => path.relative(src, path.join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith(`admin${path.sep}web${path.sep}`) && !f.startsWith(`generated${path.sep}`));
}

/** The src/ folders a file imports from (static imports, re-exports and dynamic import()). */
async function importedRooms(file: string): Promise<[room: string, specifier: string][]> {
  const text = await readFile(path.join(src, file), 'utf8');
  const rooms: [string, string][] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]+)['"]/g)) {
    const target = path.relative(src, path.resolve(path.dirname(path.join(src, file)), m[1]));
    if (target.startsWith('..')) continue;
    rooms.push([target.split(path.sep)[0], m[1]]);
  }
  return rooms;
}

const core = ['inference', 'features', 'scoring', 'lifetime', 'db'];
const outer = ['graphql', 'server'];

describe('import direction', () => {
  it('sees the imports it checks (server/app.ts imports graphql and db)', async () => {
    const rooms = await importedRooms(path.join('server', 'app.ts'));
    expect(rooms.map(([room]) => room)).toEqual(expect.arrayContaining(['graphql', 'db', 'auth']));
  });

  it(`nothing under ${core.join('/, ')}/ imports ${outer.join('/ or ')}/ code`, async () => {
    const files = (await sourceFiles()).filter((f) => core.includes(f.split(path.sep)[0]));
    expect(files.length).toBeGreaterThan(20);
    const violations: string[] = [];
    for (const file of files) {
      for (const [room, spec] of await importedRooms(file)) {
        if (outer.includes(room)) violations.push(`${file} imports ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('authentication lives in src/auth/: GraphQL keeps only the field policy', async () => {
    const graphqlAuth = (await sourceFiles()).filter((f) => f.startsWith(path.join('graphql', 'auth') + path.sep)).map((f) => path.basename(f));
    expect(graphqlAuth.sort()).toEqual(['derived-data.ts', 'field-policy.ts', 'policy.ts', 'viewer.resolver.ts']);
    const auth = (await sourceFiles()).filter((f) => f.startsWith('auth' + path.sep));
    for (const file of auth) {
      const rooms = await importedRooms(file);
      // The error catalogue is shared with the API; nothing else of GraphQL or the server.
      const specs = rooms.filter(([room]) => room === 'graphql').map(([, s]) => s);
      expect(specs.every((s) => s.endsWith('graphql/errors.js')), `${file}: ${specs.join(', ')}`).toBe(true);
    }
  });
});
