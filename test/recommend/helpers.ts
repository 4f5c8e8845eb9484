import { loadCatalog } from '../../src/catalog/index.js';
import { applyOverrides, type Hardware, type HardwareOverrides } from '../../src/hardware/detect.js';
import { recommend } from '../../src/recommend/recommend.js';
import { resolveRequirements, type RequirementInputs } from '../../src/recommend/requirements.js';
import type { Recommendation } from '../../src/recommend/types.js';
import { loadDefaultTree } from '../../src/tree/load.js';

const GiB = 1024 ** 3;

/** A machine described by hand, so ranking tests do not depend on the machine they run on. */
export function makeHardware(options: { ramGiB: number; bandwidthGBs: number; cpuTflops?: number; overrides?: HardwareOverrides }): Hardware {
  const base: Hardware = {
    os: { platform: 'linux', release: 'test', arch: 'x64' },
    cpu: { model: 'Test CPU', cores: 8, threads: 16, features: { avx2: true, avx512: false, vnni: false, amx: false, neon: false }, frequencyGHz: 3 },
    memory: { totalBytes: options.ramGiB * GiB, availableBytes: options.ramGiB * GiB, source: 'override' },
    gpus: [],
    bandwidth: { bytesPerSec: options.bandwidthGBs * 1e9, source: 'override', note: 'test' },
    peakFlops: { flopsPerSec: (options.cpuTflops ?? 0.5) * 1e12, source: 'known', basis: 'test' },
    notes: [],
  };
  return options.overrides ? applyOverrides(base, options.overrides) : base;
}

export function recommendOn(hardware: Hardware, inputs: RequirementInputs, top = 5): Recommendation {
  const tree = loadDefaultTree();
  return recommend({ tree, requirements: resolveRequirements(tree, inputs), hardware, catalog: loadCatalog(), top });
}

export { GiB };
