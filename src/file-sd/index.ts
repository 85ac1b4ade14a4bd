/** file_sd output: the registry kept in Prometheus file_sd files, written atomically. */
export { writeFileAtomic } from './atomic.js';
export { formatOf, type FileTarget } from './render.js';
export { FileSdWriter } from './writer.js';
