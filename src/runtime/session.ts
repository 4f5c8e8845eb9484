/**
 * The one place that creates an onnxruntime-node InferenceSession (bench, generate, the decoder check and
 * quantization fidelity all come here): a session on a device (execution provider), with the intra-op
 * thread count and graph optimization level of the run, and ONNX Runtime's failures mapped to one error
 * vocabulary (a model that does not load: E_MODEL; a run that fails: E_RUNTIME). ONNX Runtime's default
 * thread spinning is kept: it is what a real application gets, and turning it off slows small decode steps.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelscoutError, errorMessage } from '../errors.js';
import { addNewKvOutputs } from '../onnx/fused/new-kv-outputs.js';
import { splitAttention } from '../onnx/fused/split-attention.js';
import { readModel } from '../onnx/model-io.js';
import { encodeModel } from '../onnx/proto.js';
import type { KvLayout } from './kv-cache.js';

export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

export const GRAPH_OPT_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptLevel = (typeof GRAPH_OPT_LEVELS)[number];

export interface SessionSettingsInput {
  device: Device;
  /** intra-op threads; 0 = ONNX Runtime's default. */
  threads: number;
  graphOptLevel: GraphOptLevel;
}

export const CUDA_INSTALL_HINT = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

/** What WebGPU needs on Linux (seen on an NVIDIA H200 with driver 580: the loader and GLVND were missing). */
export const WEBGPU_HINT = "Install the GPU driver and the Vulkan loader (Debian/Ubuntu: libvulkan1; NVIDIA's Vulkan driver also needs libglvnd0 libglx0 libegl1); `vulkaninfo --summary` should list the GPU.";

/** onnxruntime-node's version (the package that loads the native library). */
export function onnxruntimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
}

/** Directory of the native binding, where the optional CUDA provider library lands when installed. */
function bindingDirectory(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('onnxruntime-node/package.json'));
    const binRoot = join(pkgDir, 'bin');
    for (const napi of readdirSync(binRoot)) {
      const dir = join(binRoot, napi, process.platform, process.arch);
      if (existsSync(dir)) return dir;
    }
  } catch {
    // Unusual layout: fall back to trying the session itself.
  }
  return null;
}

/**
 * The execution provider a GPU benchmark uses here: CUDA when its provider library is installed, else
 * WebGPU when this onnxruntime-node build bundles it (Linux and Windows x64), else null. `assert` is
 * `assertDeviceAvailable` (injectable for tests).
 */
export function gpuBenchDevice(assert: (device: Device) => void = assertDeviceAvailable): 'cuda' | 'webgpu' | null {
  for (const device of ['cuda', 'webgpu'] as const) {
    try {
      assert(device);
      return device;
    } catch (error) {
      if (!(error instanceof ModelscoutError)) throw error;
    }
  }
  return null;
}

/**
 * Throws a usage error (exit 2) when `device` cannot work here, before any child process starts:
 * CUDA needs its execution provider library, which onnxruntime-node downloads only on request.
 */
export function assertDeviceAvailable(device: Device): void {
  if (device === 'cpu') return;
  const backends = ort.listSupportedBackends();
  const entry = backends.find((b) => b.name === device);
  if (!entry) {
    throw new ModelscoutError('E_UNSUPPORTED', `device ${device} is not supported by this onnxruntime-node build (${process.platform}-${process.arch}); available: ${backends.map((b) => b.name).join(', ')}`, {
      suggestions: ['Use --device cpu.'],
    });
  }
  if (device === 'cuda' && !entry.bundled) {
    const dir = bindingDirectory();
    const installed = dir !== null && existsSync(join(dir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
    if (!installed) {
      throw new ModelscoutError('E_UNSUPPORTED', 'device cuda needs the CUDA execution provider, which is not installed', {
        suggestions: [`Install it on a CUDA 12 machine: ${CUDA_INSTALL_HINT}`, 'Or use --device cpu.'],
      });
    }
  }
}

/**
 * `kvOnDevice`: the graph's output names; the `present.*` ones are then left on the device (WebGPU buffers)
 * and fed back as the next pasts, the rest (logits) come to the CPU. Without it onnxruntime-node downloads
 * every present after each step and uploads it again as the next past.
 */
export function sessionOptions(s: SessionSettingsInput, kvOnDevice?: readonly string[]): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [s.device],
    graphOptimizationLevel: s.graphOptLevel,
    // Errors only: ORT's warnings (e.g. about unused initializers) would clutter stderr on every run.
    logSeverityLevel: 3,
  };
  if (s.threads > 0) options.intraOpNumThreads = s.threads;
  if (kvOnDevice && keepsKvOnDevice(s.device)) {
    options.preferredOutputLocation = Object.fromEntries(kvOnDevice.map((name) => [name, name.startsWith('present.') ? 'gpu-buffer' : 'cpu'] as const));
  }
  return options;
}

/** Whether the growing cache can stay on the device for this execution provider (WebGPU buffers). */
export function keepsKvOnDevice(device: Device): boolean {
  return device === 'webgpu';
}

export interface CreatedSession {
  session: ort.InferenceSession;
  createMs: number;
}

export interface CreateSessionOptions {
  /**
   * The KV layout the loop will use. `appended`: the graph is loaded with the extra `present_new.*` outputs
   * (src/onnx/fused/new-kv-outputs.ts) — read, extended in memory and handed to ONNX Runtime as bytes, its
   * external data still read from the model's folder. `growing` on WebGPU: the `present.*` outputs stay on
   * the GPU (see `sessionOptions`).
   */
  kvLayout?: KvLayout;
  /** `direct` layout: the depth from which decode steps read the cache in place (default `DIRECT_MIN_DEPTH`). */
  directMinDepth?: number;
}

/** Creates the session and times it (`load.session_create_ms`). */
export async function createSession(modelPath: string, s: SessionSettingsInput, create: CreateSessionOptions = {}): Promise<CreatedSession> {
  const t0 = process.hrtime.bigint();
  try {
    // What ONNX Runtime is handed: the file, or (appended layout) the graph extended in memory.
    let source: string | Uint8Array = modelPath;
    let options = sessionOptions(s);
    if (create.kvLayout === 'appended' || create.kvLayout === 'direct') {
      const loaded = await readModel(modelPath);
      if (create.kvLayout === 'direct') splitAttention(loaded.model, create.directMinDepth);
      else addNewKvOutputs(loaded.model);
      source = encodeModel(loaded.model);
      options = { ...options, extra: { session: { model_external_initializers_file_folder_path: loaded.dir } } };
    } else if (create.kvLayout === 'growing' && keepsKvOnDevice(s.device)) {
      const outputs = ((await readModel(modelPath)).model.graph?.output ?? []).map((o) => o.name ?? '');
      options = sessionOptions(s, outputs);
    }
    const session = await openSession(source, options);
    const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { session, createMs };
  } catch (error) {
    throw loadFailure(modelPath, s.device, error);
  }
}

/** A session on a model built in memory (the CPU kernel probe's one-operator graphs); `label` names it in errors. */
export async function createSessionFromBytes(bytes: Uint8Array, s: SessionSettingsInput, label: string): Promise<CreatedSession> {
  const t0 = process.hrtime.bigint();
  try {
    const session = await openSession(bytes, sessionOptions(s));
    return { session, createMs: Number(process.hrtime.bigint() - t0) / 1e6 };
  } catch (error) {
    throw loadFailure(label, s.device, error);
  }
}

/** The one call that makes an ONNX Runtime session. */
function openSession(source: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}

/** A model ONNX Runtime would not load, as one line with what to do next (E_MODEL; E_UNSUPPORTED for a missing provider). */
export function loadFailure(modelPath: string, device: Device, error: unknown): ModelscoutError {
  if (error instanceof ModelscoutError) return error;
  const first = errorMessage(error).split('\n')[0] ?? '';
  if (device === 'webgpu' && /WebGPU adapter|No supported adapters/i.test(first)) {
    return new ModelscoutError('E_UNSUPPORTED', 'no WebGPU adapter on this machine: onnxruntime-node runs WebGPU on Linux through Vulkan, and found no Vulkan GPU', {
      suggestions: [WEBGPU_HINT, 'Or use --device cpu.'],
      cause: error,
    });
  }
  const suggestions = device === 'cuda' ? [`Install the CUDA provider: ${CUDA_INSTALL_HINT}`] : ['Check that the file is a complete ONNX model and its external data sits beside it (re-download or re-export it).'];
  return new ModelscoutError('E_MODEL', `onnxruntime could not load ${modelPath} on ${device}: ${first}`, { suggestions, cause: error });
}

/** A run of a loaded model that failed (E_RUNTIME), naming the model and what was being run. */
export function runFailure(modelPath: string, what: string, error: unknown): ModelscoutError {
  if (error instanceof ModelscoutError) return error;
  return new ModelscoutError('E_RUNTIME', `onnxruntime failed to run ${what} of ${modelPath}: ${errorMessage(error).split('\n')[0] ?? ''}`, { cause: error });
}

export { ort };
