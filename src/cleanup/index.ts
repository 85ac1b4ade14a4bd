/** Empty-group cleanup: the cleaner and the etcd leader election it runs under. */
export { EmptyGroupCleaner } from './cleaner.js';
export { electionPrefix } from './election.js';
