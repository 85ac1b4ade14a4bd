/**
 * The configuration layer's names used from outside it: argv help and usage
 * errors (`flags.ts`), the YAML file (`file.ts`), and the validated settings
 * of `serve` and of the etcd connection every subcommand shares (`serve.ts`).
 * Other names are imported from their own module.
 */
export { UsageError, formatHelp } from './flags.js';
export { parseConfigDocument, parseConfigFile } from './file.js';
export type { Env } from './file.js';
export { ETCD_CONNECTION_FLAGS, SERVE_FLAGS, loadEtcdConnection, loadServeConfig } from './serve.js';
