/** Server-side sharding, exactly as Prometheus's `hashmod` relabel action splits targets. */
export * from './hashmod.js';
export * from './spec.js';
export * from './views.js';
