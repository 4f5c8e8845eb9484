/**
 * Number formatting shared by every command, so a byte count or a rate reads the same everywhere.
 * Memory uses binary units (GiB: what `free` and nvidia-smi's MiB mean); bandwidth and FLOP/s use decimal
 * units (GB/s, TFLOP/s: how vendors publish them). Pure functions, no terminal access.
 */

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** `1536` → `1.5 KiB`; `16_106_127_360` → `15.0 GiB`. Negative and non-finite values are shown as they are. */
export function formatBytes(bytes: number, digits = 1): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${sign}${value} B` : `${sign}${value.toFixed(digits)} ${BINARY_UNITS[unit]}`;
}

/** Decimal SI prefix: `3.35e12` → `3.35 T`. */
function siScale(value: number): { scaled: number; prefix: string } {
  const prefixes: [number, string][] = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [factor, prefix] of prefixes) {
    if (Math.abs(value) >= factor) return { scaled: value / factor, prefix };
  }
  return { scaled: value, prefix: '' };
}

/** Bytes per second in decimal units: `3.35e12` → `3.35 TB/s`, `2.5e10` → `25.0 GB/s`. */
export function formatBandwidth(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec)) return String(bytesPerSec);
  const { scaled, prefix } = siScale(bytesPerSec);
  return `${toSignificant(scaled, 3)} ${prefix}B/s`;
}

/** FLOP/s in decimal units: `9.895e14` → `990 TFLOP/s`. */
export function formatFlops(flopsPerSec: number): string {
  if (!Number.isFinite(flopsPerSec)) return String(flopsPerSec);
  const { scaled, prefix } = siScale(flopsPerSec);
  return `${toSignificant(scaled, 3)} ${prefix}FLOP/s`;
}

/** Parameter counts the way model cards write them: `134_515_008` → `135M`, `8_030_261_248` → `8.03B`. */
export function formatParams(count: number): string {
  if (!Number.isFinite(count)) return String(count);
  if (count >= 1e12) return `${toSignificant(count / 1e12, 3)}T`;
  if (count >= 1e9) return `${toSignificant(count / 1e9, 3)}B`;
  if (count >= 1e6) return `${toSignificant(count / 1e6, 3)}M`;
  if (count >= 1e3) return `${toSignificant(count / 1e3, 3)}K`;
  return String(Math.round(count));
}

/** Tokens per second: three significant digits, at most one decimal for large values. */
export function formatRate(tokensPerSec: number, unit = 'tok/s'): string {
  if (!Number.isFinite(tokensPerSec)) return String(tokensPerSec);
  return `${toSignificant(tokensPerSec, 3)} ${unit}`;
}

/** Seconds, rounded for long spans: `30 s`, `10 min`, `3 h`, `10 days`, `2 years` (how long fine-tuning takes). */
export function formatCoarseDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Number((seconds / 3600).toPrecision(2))} h`;
  if (seconds < 365 * 86400) return `${Number((seconds / 86400).toPrecision(2))} days`;
  return `${Number((seconds / (365 * 86400)).toPrecision(2))} years`;
}

/** Milliseconds → `850 ms`, `2.40 s`, `3 min 12 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) < 1) return `${toSignificant(ms, 2)} ms`;
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds - minutes * 60);
  if (minutes < 60) return `${minutes} min ${rest} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes - hours * 60} min`;
}

/** Thousands separators: `131072` → `131,072`. */
export function formatInteger(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.round(value).toLocaleString('en-US');
}

/** A fraction as a percentage: `0.123` → `12.3%`. */
export function formatPercent(fraction: number, digits = 1): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A token count the way context lengths are spoken: `131072` → `128K`, `4096` → `4K`, `1000` → `1000`. */
export function formatTokens(tokens: number): string {
  if (tokens >= 1024 && tokens % 1024 === 0) return `${tokens / 1024}K`;
  return formatInteger(tokens);
}

/** Three significant digits without trailing zeros past the decimal point that carry no information. */
export function toSignificant(value: number, digits: number): string {
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return value.toFixed(decimals);
}
