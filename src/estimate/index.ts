/**
 * The estimator: pure functions from a `ModelSpec`, a weight format and a `DeviceTarget` to bytes, fits and
 * speeds. Every command that needs an estimate calls these; nothing here touches the system.
 */
export * from './units.js';
export * from './weights.js';
export * from './gguf.js';
export * from './kv-cache.js';
export * from './device.js';
export * from './fit.js';
export * from './cpu-rates.js';
export * from './speed.js';
export * from './finetune.js';
export * from './topology.js';
