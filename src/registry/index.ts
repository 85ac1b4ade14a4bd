/** The pure core: documents → model → target groups. No I/O. */
export * from './keys.js';
export * from './labels.js';
export * from './documents.js';
export * from './target.js';
export * from './group-view.js';
export * from './content.js';
export * from './state.js';
export * from './raw-key.js';
export * from './limits.js';
