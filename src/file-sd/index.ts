/** file_sd output: the registry kept in Prometheus file_sd files, written atomically. */
export * from './atomic.js';
export * from './render.js';
export * from './writer.js';
