// Feature spec, pure computation and batched loading (see python-export/features.json).
export * from './spec.js';
export * from './compute.js';
export * from './load.js';
