/**
 * The configuration layer's public names: argv parsing (`flags.ts`), the
 * YAML file (`document.ts`) and setting sources (`file.ts`), and the
 * validated settings of `serve` (`serve.ts`), of the etcd connection every
 * subcommand shares (`etcd.ts`), of access control and TLS (`http.ts`) and
 * of generated scrape configs (`scrape.ts`).
 */
export {
  UsageError,
  convertFlagValue,
  expectedForm,
  formatHelp,
  isHelpRequested,
  parseDuration,
  parseFlags,
  parseInteger,
} from './flags.js';
export type { FlagKind, FlagSpec, FlagValue, ParsedArgs } from './flags.js';
export {
  CONFIG_FLAG,
  envName,
  flagsOf,
  loadSettings,
  parseConfigDocument,
  parseConfigFile,
  readSettingFile,
} from './file.js';
export type { ConfigDocument, Env, ReadFile, Resolved, SettingRow, SettingSource, Settings } from './file.js';
export {
  ETCD_CONNECTION_FLAGS,
  ETCD_CONNECTION_SETTINGS,
  SERVE_FLAGS,
  SERVE_SETTINGS,
  deepFreeze,
  etcdConnectionFrom,
  loadEtcdConnection,
  LISTEN_SETTING,
  loadServeConfig,
} from './serve.js';
export type { EtcdConnectionConfig, ServeConfig } from './serve.js';
export { HTTP_SETTINGS, adminTokenFrom, authFrom, listenerTlsFrom } from './http.js';
export type { AuthConfig, ListenerTls } from './http.js';
export { SCRAPE_SETTINGS, externalUrlFrom, scrapeDefaultsFrom } from './scrape.js';
export { CLEANUP_SETTINGS, cleanupFrom } from './cleanup.js';
export type { CleanupConfig } from './cleanup.js';
