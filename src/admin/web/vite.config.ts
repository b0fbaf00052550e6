// Vite build of the admin dashboard (index.html) and the GraphQL IDE (graphiql.html) into
// dist/admin, served by src/server/admin.ts under /admin (assets at /admin/assets). Vite 8 compiles
// TSX itself (oxc), so no React plugin is needed. Run through src/admin/build.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/admin/',
  logLevel: 'warn',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.resolve(here, '../../../dist/admin'),
    emptyOutDir: true,
    // The IDE's editor (Monaco) is large; the dashboard's own budget is checked by the browser test.
    chunkSizeWarningLimit: 6000,
    reportCompressedSize: false,
    rollupOptions: {
      // React libraries mark their modules "use client" (for server components); meaningless here.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      input: {
        index: path.resolve(here, 'index.html'),
        graphiql: path.resolve(here, 'graphiql.html'),
      },
    },
  },
  worker: { format: 'es' },
});
