/**
 * Known CPU platforms: the memory bandwidth a machine gets when it was never probed, from the CPU model
 * string (`/proc/cpuinfo` "model name"). Each entry is one socket's theoretical peak (memory channels × 8
 * bytes × transfer rate, from the vendor's specification) times a stated sustained fraction (what a
 * STREAM-like copy reaches on a full socket), scaled by the share of the socket's cores this machine sees:
 * a VM or container with a few vCPUs of a big socket does not get the socket's bandwidth. A model string
 * without a model number ("AMD EPYC") matches nothing. Pure functions.
 */
export interface CpuPlatform {
  key: string;
  /** The platform as people name it, e.g. `AMD EPYC 9004 (Genoa)`. */
  name: string;
  /** Patterns matching the CPU model string. */
  match: RegExp[];
  /** Cores per socket of the largest part (used when the model string does not state its core count). */
  coresPerSocket: number;
  /** The memory configuration the peak is computed from, e.g. `12-channel DDR5-4800`. */
  memory: string;
  /** Theoretical peak per socket, bytes/s. */
  peakBytesPerSec: number;
  source: string;
}

/** The share of the theoretical peak a STREAM-like copy sustains on a full socket (stated, not measured here). */
export const SUSTAINED_FRACTION = 0.8;

const GB = 1e9;

/** channels × 8 bytes × MT/s. */
function peak(channels: number, megaTransfers: number): number {
  return channels * 8 * megaTransfers * 1e6;
}

export const CPU_PLATFORMS: readonly CpuPlatform[] = [
  {
    key: 'epyc-turin',
    name: 'AMD EPYC 9005 (Turin)',
    // "AMD EPYC 9755 128-Core Processor"; model numbers 9xx5 (cloud variants use a letter: 9R45).
    match: [/\bEPYC\s+9[0-9A-Z]{2}5(?![0-9])/i],
    coresPerSocket: 192,
    memory: '12-channel DDR5-6000',
    peakBytesPerSec: peak(12, 6000),
    source: 'AMD EPYC 9005 series specifications (amd.com): 12 DDR5 channels, DDR5-6000',
  },
  {
    key: 'epyc-genoa',
    name: 'AMD EPYC 9004 (Genoa)',
    // "AMD EPYC 9654 96-Core Processor", "AMD EPYC 9R14 96-Core Processor" (AWS); Genoa-X and Bergamo too.
    match: [/\bEPYC\s+9[0-9A-Z]{2}4(?![0-9])/i],
    coresPerSocket: 96,
    memory: '12-channel DDR5-4800',
    peakBytesPerSec: peak(12, 4800),
    source: 'AMD EPYC 9004 series specifications (amd.com): 12 DDR5 channels, DDR5-4800',
  },
  {
    key: 'epyc-milan',
    name: 'AMD EPYC 7003 (Milan)',
    // "AMD EPYC 7763 64-Core Processor", "AMD EPYC 7R13 Processor" (AWS), "AMD EPYC 7B13" (Google Cloud).
    match: [/\bEPYC\s+7[0-9A-Z]{2}3(?![0-9])/i],
    coresPerSocket: 64,
    memory: '8-channel DDR4-3200',
    peakBytesPerSec: peak(8, 3200),
    source: 'AMD EPYC 7003 series specifications (amd.com): 8 DDR4 channels, DDR4-3200',
  },
  {
    key: 'epyc-rome',
    name: 'AMD EPYC 7002 (Rome)',
    match: [/\bEPYC\s+7[0-9A-Z]{2}2(?![0-9])/i],
    coresPerSocket: 64,
    memory: '8-channel DDR4-3200',
    peakBytesPerSec: peak(8, 3200),
    source: 'AMD EPYC 7002 series specifications (amd.com): 8 DDR4 channels, DDR4-3200',
  },
  {
    key: 'xeon-granite-rapids-ap',
    name: 'Intel Xeon 6 6900P (Granite Rapids)',
    // "Intel(R) Xeon(R) 6980P".
    match: [/\bXeon\b.*\b69\d\dP\b/i],
    coresPerSocket: 128,
    memory: '12-channel DDR5-6400',
    peakBytesPerSec: peak(12, 6400),
    source: 'Intel Xeon 6 6900P specifications (ark.intel.com): 12 memory channels, DDR5-6400',
  },
  {
    key: 'xeon-granite-rapids-sp',
    name: 'Intel Xeon 6 6700P (Granite Rapids)',
    match: [/\bXeon\b.*\b67\d\dP\b/i],
    coresPerSocket: 86,
    memory: '8-channel DDR5-6400',
    peakBytesPerSec: peak(8, 6400),
    source: 'Intel Xeon 6 6700P specifications (ark.intel.com): 8 memory channels, DDR5-6400',
  },
  {
    key: 'xeon-emerald-rapids',
    name: 'Intel Xeon 5th gen (Emerald Rapids)',
    // "Intel(R) Xeon(R) Platinum 8592+", "Gold 6548Y+".
    match: [/\bXeon\b.*\b(Platinum|Gold|Silver|Bronze)\s+[3-8]5\d\d/i],
    coresPerSocket: 64,
    memory: '8-channel DDR5-5600',
    peakBytesPerSec: peak(8, 5600),
    source: '5th Gen Intel Xeon Scalable specifications (ark.intel.com): 8 memory channels, DDR5-5600',
  },
  {
    key: 'xeon-sapphire-rapids',
    name: 'Intel Xeon 4th gen (Sapphire Rapids)',
    // "Intel(R) Xeon(R) Platinum 8480+", "Gold 6430", "Platinum 8488C" (AWS).
    match: [/\bXeon\b.*\b(Platinum|Gold|Silver|Bronze)\s+[3-8]4\d\d/i],
    coresPerSocket: 56,
    memory: '8-channel DDR5-4800',
    peakBytesPerSec: peak(8, 4800),
    source: '4th Gen Intel Xeon Scalable specifications (ark.intel.com): 8 memory channels, DDR5-4800',
  },
  {
    key: 'xeon-ice-lake',
    name: 'Intel Xeon 3rd gen (Ice Lake)',
    // "Intel(R) Xeon(R) Platinum 8375C"; the four-socket Cooper Lake parts (83xxH) have six DDR4 channels.
    match: [/\bXeon\b.*\b(Platinum|Gold|Silver)\s+[4-8]3\d\d(?!H)/i],
    coresPerSocket: 40,
    memory: '8-channel DDR4-3200',
    peakBytesPerSec: peak(8, 3200),
    source: '3rd Gen Intel Xeon Scalable (Ice Lake) specifications (ark.intel.com): 8 memory channels, DDR4-3200',
  },
  {
    key: 'graviton4',
    name: 'AWS Graviton4',
    match: [/\bGraviton\s*4\b/i],
    coresPerSocket: 96,
    memory: '12-channel DDR5-5600',
    peakBytesPerSec: peak(12, 5600),
    source: 'AWS Graviton4 announcement (aws.amazon.com): 96 Neoverse V2 cores, 12 DDR5-5600 channels',
  },
  {
    key: 'graviton3',
    name: 'AWS Graviton3',
    match: [/\bGraviton\s*3E?\b/i],
    coresPerSocket: 64,
    memory: '8-channel DDR5-4800',
    peakBytesPerSec: peak(8, 4800),
    source: 'AWS Graviton3 (aws.amazon.com/ec2/graviton): 64 Neoverse V1 cores, 8 DDR5-4800 channels',
  },
  {
    key: 'graviton2',
    name: 'AWS Graviton2',
    match: [/\bGraviton\s*2\b/i],
    coresPerSocket: 64,
    memory: '8-channel DDR4-3200',
    peakBytesPerSec: peak(8, 3200),
    source: 'AWS Graviton2 (aws.amazon.com/ec2/graviton): 64 Neoverse N1 cores, 8 DDR4-3200 channels',
  },
  {
    key: 'ampere-altra',
    name: 'Ampere Altra / Altra Max',
    // "Ampere(R) Altra(R) Processor Q80-30", "Ampere Altra Max M128-30".
    match: [/\bAmpere\b.*\bAltra\b/i],
    coresPerSocket: 128,
    memory: '8-channel DDR4-3200',
    peakBytesPerSec: peak(8, 3200),
    source: 'Ampere Altra and Altra Max product briefs (amperecomputing.com): 8 DDR4-3200 channels',
  },
];

/** The platform a CPU model string names, or null. */
export function matchCpuPlatform(model: string): CpuPlatform | null {
  return CPU_PLATFORMS.find((p) => p.match.some((re) => re.test(model))) ?? null;
}

/** "… 96-Core Processor" (AMD's model strings state the part's core count). */
function statedCores(model: string): number | null {
  const match = /\b(\d{1,3})-Core\b/i.exec(model);
  return match ? Number(match[1]) : null;
}

/**
 * The bandwidth this machine gets on a known platform: peak × sustained fraction × the share of a socket's
 * cores it sees (threads visible ÷ cores per socket, at most 1: one socket's worth). The socket's cores are
 * the model string's "N-Core" where it says so, else the platform's largest part.
 */
export function knownPlatformBandwidth(platform: CpuPlatform, model: string, visibleThreads: number): { bytesPerSec: number; share: number; socketCores: number; note: string } {
  const socketCores = statedCores(model) ?? platform.coresPerSocket;
  const share = Math.min(1, Math.max(0, visibleThreads) / socketCores);
  const bytesPerSec = platform.peakBytesPerSec * SUSTAINED_FRACTION * share;
  const gb = (v: number): string => `${Number((v / GB).toFixed(1))} GB/s`;
  const scaled =
    share < 1
      ? ` × ${visibleThreads} of the socket's ${socketCores} cores visible (a VM or container gets its share, not the socket's)`
      : ` (${visibleThreads} threads see the whole socket; one socket's bandwidth)`;
  const note = `known platform ${platform.name}: ${platform.memory}, ${gb(platform.peakBytesPerSec)} per socket theoretical (${platform.source}) × ${SUSTAINED_FRACTION} sustained${scaled} = ${gb(bytesPerSec)}; run with --probe to measure`;
  return { bytesPerSec, share, socketCores, note };
}
