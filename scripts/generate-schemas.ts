/**
 * Writes the JSON Schemas of modelscout's JSON outputs and config files into schemas/, from the zod
 * schemas in the code. Run `npm run schemas` after changing a schema; a test fails when they are stale.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchemaFiles, schemaFileText } from '../src/json-schemas.js';
import { writeFileAtomic } from '../src/util/atomic-write.js';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const file of buildSchemaFiles()) {
  await writeFileAtomic(join(root, file.path), schemaFileText(file));
  process.stdout.write(`wrote ${file.path}\n`);
}
