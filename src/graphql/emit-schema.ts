// `npm run schema:emit` rewrites the committed schema.graphql from the code.
import { writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { getSchema, schemaFile } from './schema.js';

await writeFile(schemaFile, printSchema(await getSchema()) + '\n');
console.log(`Wrote ${schemaFile}`);
