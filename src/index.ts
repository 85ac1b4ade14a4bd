/**
 * etcd-http-sd's public API. Everything exported here is supported; deep
 * imports are not.
 */
export { EtcdHttpSdError, ConfigError, InvalidArgumentError, EtcdUnavailableError, TimeoutError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { createEtcdClient } from './etcd/client.js';
export type { EtcdConnection, EtcdTls } from './etcd/client.js';
export { startEmbeddedEtcd } from './etcd/embedded.js';
export type { EmbeddedEtcd, EmbeddedEtcdOptions } from './etcd/embedded.js';
export { loadServeConfig } from './config/serve.js';
export type { ServeConfig, EtcdConnectionConfig } from './config/serve.js';
export { createLogger, nullLogger } from './log.js';
export type { Logger, LogLevel, LogFields } from './log.js';
export { startServer } from './server.js';
export type { RunningServer, ServerOverrides } from './server.js';
export { Mirror } from './mirror/mirror.js';
export type { MirrorOptions, MirrorStatus, MirrorMetrics, ReloadReason } from './mirror/mirror.js';
export { EtcdSource } from './mirror/etcd-source.js';
export type { RegistrySource, KeyValue, WatchEvent, WatchSink, WatchHandle } from './mirror/source.js';
export {
  RegistryState,
  Content,
  parseGroupDocument,
  parseNodeDocument,
  formatGroupDocument,
  formatNodeDocument,
  formatGoTime,
  buildTargetGroup,
  resolveAddress,
  sanitizeLabelName,
  sanitizeLabels,
  isValidGroupName,
  classifyKey,
  groupKey,
  nodeKey,
} from './registry/index.js';
export type { GroupDocument, NodeDocument, TargetGroup, GroupView, InvalidReason, Change } from './registry/index.js';

// The register library: exporters announce themselves and stay announced.
export * from './register/index.js';
