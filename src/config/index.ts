/**
 * The configuration layer's public names: argv parsing (`flags.ts`), the
 * YAML file and setting sources (`file.ts`), and the validated settings of
 * `serve` and of the etcd connection every subcommand shares (`serve.ts`).
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
  loadServeConfig,
} from './serve.js';
export type { EtcdConnectionConfig, ServeConfig } from './serve.js';
