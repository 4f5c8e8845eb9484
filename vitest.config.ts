import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CLI tests run the built bin/run.js; build once before any test file runs.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The machines this runs on have few cores; ONNX Runtime sessions use their own threads.
    pool: 'forks',
    maxWorkers: 2,
    // Fixed figures: no CLI subprocess probes this machine on its first estimate (the one test of the
    // automatic probe removes this variable for its own run).
    env: { MODELSCOUT_NO_PROBE: '1' },
  },
});
