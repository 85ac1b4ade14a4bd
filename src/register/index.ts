/** The register library: exporters announce themselves in the registry and stay announced. */
export { RegistryClient, type RegisterOptions } from './client.js';
export { DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, DEFAULT_CLOSE_TIMEOUT_MS, type RegistryClientOptions } from './options.js';
export { RegisteredNode, type NodeUpdate, type RegistrationState } from './registration.js';
export {
  validateNode,
  nodeDocument,
  keyOfNode,
  joinHostPort,
  DEFAULT_METRICS_PATH,
  DEFAULT_STATUS,
  type NodeSpec,
  type ValidNode,
} from './node.js';
export {
  createOrJoinGroup,
  configureGroup,
  getGroup,
  listGroups,
  listGroupNodes,
  deleteGroup,
  checkGroupName,
  DEFAULT_CAS_ATTEMPTS,
  type Group,
  type GroupSpec,
  type GroupPatch,
  type GroupUpdate,
  type GroupSummary,
} from './groups.js';
export {
  httpProbe,
  validateHealthCheck,
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEALTH_FAILURES,
  type HealthCheckOptions,
  type ValidHealthCheck,
  type Probe,
  type ProbeResult,
} from './health.js';
export type { LeaseState } from './keepalive.js';
export { GroupNotFoundError, ConflictError, RegistryClosedError, LeaseExpiredError, CollisionError } from './errors.js';
export type { NodeRef, RegisteredEvent, WithdrawnEvent, LostEvent, RestoredEvent, RepairedEvent, CollisionEvent } from './events.js';
