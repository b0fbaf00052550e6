import { defineConfig } from 'prisma/config';

// The service connects through driver adapters (src/db/client.ts) and applies migrations with the
// WebAssembly schema engine (src/db/migrate.ts); the CLI is only used for `prisma generate`.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
