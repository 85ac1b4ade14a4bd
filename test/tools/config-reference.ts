/** Prints docs/configuration.md: `node dist/test/tools/config-reference.js > docs/configuration.md`. */
import { renderConfigReference } from '../../src/config/reference.js';

process.stdout.write(renderConfigReference());
