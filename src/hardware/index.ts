/**
 * Hardware detection (OS, CPU features, RAM, NVIDIA GPUs through nvidia-smi), the table of known
 * accelerators, the memory-bandwidth probe, what-if overrides and the device an estimate runs on.
 */
export * from './accelerators.js';
export * from './cgroup.js';
export * from './cpu.js';
export * from './detect.js';
export * from './device.js';
export * from './platforms.js';
export * from './probe.js';
export type { CommandRunner, CommandResult } from './run-command.js';
export { runCommand } from './run-command.js';
