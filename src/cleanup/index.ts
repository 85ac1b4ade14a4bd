/** Empty-group cleanup: the cleaner and the etcd leader election it runs under. */
export { EmptyGroupCleaner, cleanupElectionName } from './cleaner.js';
export type { CleanupElection, CleanupMirror, CleanupSettings, EmptyGroupCleanerOptions } from './cleaner.js';
export { LeaderElection, electionPrefix } from './election.js';
export type { LeaderElectionEvents, LeaderElectionOptions, LeaderToken } from './election.js';
export { createCleanupMetrics } from './metrics.js';
export type { CleanupMetrics, CleanupOutcome, CleanupReader } from './metrics.js';
