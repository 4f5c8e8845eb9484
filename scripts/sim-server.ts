/**
 * Runs the simulated OpenAI-compatible server by hand: `npm run sim-server -- --port 8100 --decode-base-ms 5`.
 * `--tp 8 --pp 2` state the layout it simulates (its latency model and KV pool change with it; see
 * src/serve/sim/server.ts). `--engine vllm|sglang|tgi` sets the metric names of its /metrics and the info endpoint
 * through which it reports that layout (SGLang /get_server_info; vLLM /server_info only with --vllm-dev-mode;
 * TGI's /info says no shard count). Prints its URL, the latency model and the topology on stdout, serves until Ctrl-C.
 * Binds to 127.0.0.1 only.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_LATENCY_MODEL, DEFAULT_SIM_OPTIONS, DEFAULT_SIM_TOPOLOGY, SIM_ENGINES, SIM_FAULTS, SimServer, type SimEngine, type SimFault } from '../src/serve/sim/server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8100' },
    model: { type: 'string', default: 'sim-model' },
    engine: { type: 'string', default: 'vllm' },
    'vllm-dev-mode': { type: 'boolean', default: false },
    'max-model-len': { type: 'string', default: String(DEFAULT_SIM_OPTIONS.max_model_len) },
    'prefill-ms-per-token': { type: 'string', default: String(DEFAULT_LATENCY_MODEL.prefill_ms_per_token) },
    'decode-base-ms': { type: 'string', default: String(DEFAULT_LATENCY_MODEL.decode_base_ms) },
    'decode-per-seq-ms': { type: 'string', default: String(DEFAULT_LATENCY_MODEL.decode_per_seq_ms) },
    'max-batch': { type: 'string', default: String(DEFAULT_LATENCY_MODEL.max_batch) },
    'tokens-per-chunk': { type: 'string', default: '1' },
    tp: { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.tp) },
    pp: { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.pp) },
    layers: { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.layers) },
    'allreduce-ms': { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.allreduce_ms) },
    'stage-send-ms': { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.stage_send_ms) },
    'kv-tokens-per-gpu': { type: 'string', default: String(DEFAULT_SIM_TOPOLOGY.kv_tokens_per_gpu) },
    'api-key': { type: 'string' },
    fault: { type: 'string', default: 'none' },
    'fault-every': { type: 'string', default: '1' },
    'prefix-cache': { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof values): number => {
  const n = Number(values[k]);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`sim-server: --${k} must be a number ≥ 0\n`);
    process.exit(2);
  }
  return n;
};
if (!(SIM_ENGINES as readonly string[]).includes(values.engine as string)) {
  process.stderr.write(`sim-server: --engine must be one of ${SIM_ENGINES.join(', ')}\n`);
  process.exit(2);
}
if (!(SIM_FAULTS as readonly string[]).includes(values.fault as string)) {
  process.stderr.write(`sim-server: --fault must be one of ${SIM_FAULTS.join(', ')}\n`);
  process.exit(2);
}
const sim = new SimServer({
  model: values.model as string,
  engine: values.engine as SimEngine,
  vllm_dev_mode: values['vllm-dev-mode'] === true,
  max_model_len: Math.max(1, Math.floor(num('max-model-len'))),
  latency: { prefill_ms_per_token: num('prefill-ms-per-token'), decode_base_ms: num('decode-base-ms'), decode_per_seq_ms: num('decode-per-seq-ms'), max_batch: Math.max(1, Math.floor(num('max-batch'))) },
  tokens_per_chunk: Math.max(1, Math.floor(num('tokens-per-chunk'))),
  topology: {
    tp: Math.max(1, Math.floor(num('tp'))),
    pp: Math.max(1, Math.floor(num('pp'))),
    layers: Math.max(1, Math.floor(num('layers'))),
    allreduce_ms: num('allreduce-ms'),
    stage_send_ms: num('stage-send-ms'),
    kv_tokens_per_gpu: Math.max(1, Math.floor(num('kv-tokens-per-gpu'))),
  },
  api_key: values['api-key'] ?? null,
  fault: values.fault as SimFault,
  fault_every: Math.max(1, Math.floor(num('fault-every'))),
  prefix_cache: values['prefix-cache'] === true,
});
const url = await sim.listen(num('port'));
process.stdout.write(`${JSON.stringify({ url, model: sim.options.model, engine: sim.options.engine, latency: sim.options.latency, topology: sim.options.topology, tokens_per_chunk: sim.options.tokens_per_chunk })}\n`);
const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
