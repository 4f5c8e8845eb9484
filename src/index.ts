// Library entry: the core modules, usable without the CLI. Each is a namespace so names never collide.
export * from './errors.js';
export * as catalog from './catalog/index.js';
export * as estimate from './estimate/index.js';
export * as hardware from './hardware/index.js';
export * as quantize from './quantize/index.js';
export * as bench from './bench/index.js';
export * as synth from './onnx/synth/index.js';
export * as modelIo from './onnx/model-io.js';
export * as hub from './hub/pull.js';
export { recommend } from './recommend/recommend.js';
export type { Recommendation, Candidate } from './recommend/types.js';
export type { ModelSpec } from './catalog/model-spec.js';
