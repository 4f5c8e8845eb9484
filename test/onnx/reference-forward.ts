import { syntheticWeight } from '../../src/onnx/synth/weights.js';

/**
 * An independent forward pass of the synthetic decoders in plain TypeScript (float64), written from the
 * transformers modeling code (LlamaForCausalLM / Qwen2ForCausalLM / GPT2LMHeadModel), not from the ONNX
 * graph: one token at a time, explicit loops, no KV cache. The weights come from `syntheticWeight`
 * under their Hugging Face names and layouts, exactly as the checkpoints would hold them.
 */

export interface ReferenceConfig {
  family: 'llama' | 'gpt2';
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  eps: number;
  ropeTheta: number;
  tied: boolean;
  qkvBias: boolean;
  outputBias: boolean;
}

/** Reads a tiny config.json (the three shapes used in the tests) into the reference's terms. */
export function referenceConfig(config: Record<string, unknown>, layers: number): ReferenceConfig {
  const n = (k: string): number => config[k] as number;
  if (config.model_type === 'gpt2') {
    return {
      family: 'gpt2',
      hidden: n('n_embd'),
      layers,
      heads: n('n_head'),
      kvHeads: n('n_head'),
      headDim: n('n_embd') / n('n_head'),
      intermediate: (config.n_inner as number | null) ?? 4 * n('n_embd'),
      vocab: n('vocab_size'),
      maxPositions: n('n_positions'),
      eps: n('layer_norm_epsilon'),
      ropeTheta: 0,
      tied: true,
      qkvBias: true,
      outputBias: true,
    };
  }
  return {
    family: 'llama',
    hidden: n('hidden_size'),
    layers,
    heads: n('num_attention_heads'),
    kvHeads: n('num_key_value_heads'),
    headDim: (config.head_dim as number | undefined) ?? n('hidden_size') / n('num_attention_heads'),
    intermediate: n('intermediate_size'),
    vocab: n('vocab_size'),
    maxPositions: n('max_position_embeddings'),
    eps: n('rms_norm_eps'),
    ropeTheta: n('rope_theta'),
    tied: config.tie_word_embeddings === true,
    qkvBias: config.model_type === 'qwen2' || config.attention_bias === true,
    outputBias: config.model_type === 'llama' && config.attention_bias === true,
  };
}

type Vec = Float64Array;

class Weights {
  private readonly cache = new Map<string, Float64Array>();
  constructor(private readonly seed: number) {}
  get(name: string, shape: number[]): Float64Array {
    const key = `${name}|${shape.join('x')}`;
    let w = this.cache.get(key);
    if (!w) {
      w = Float64Array.from(syntheticWeight(this.seed, name, shape));
      this.cache.set(key, w);
    }
    return w;
  }
}

/** y = W x (+ b) for a torch nn.Linear weight [out, in]. */
function linear(w: Float64Array, x: Vec, out: number, bias?: Float64Array): Vec {
  const inF = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o]! : 0;
    const row = o * inF;
    for (let i = 0; i < inF; i++) s += w[row + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

/** y = x W (+ b) for a GPT-2 Conv1D weight [in, out]. */
function conv1d(w: Float64Array, x: Vec, out: number, bias: Float64Array): Vec {
  const y = Float64Array.from(bias);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const row = i * out;
    for (let o = 0; o < out; o++) y[o]! += xi * w[row + o]!;
  }
  return y;
}

function rmsNorm(x: Vec, w: Float64Array, eps: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  const inv = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

function layerNorm(x: Vec, w: Float64Array, b: Float64Array, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= x.length;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * w[i]! + b[i]!);
}

function applyRope(x: Vec, offset: number, headDim: number, position: number, theta: number): void {
  const half = headDim / 2;
  for (let j = 0; j < half; j++) {
    const angle = position * (1 / theta ** ((2 * j) / headDim));
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const a = x[offset + j]!;
    const b = x[offset + j + half]!;
    x[offset + j] = a * c - b * s;
    x[offset + j + half] = b * c + a * s;
  }
}

const silu = (v: number): number => v / (1 + Math.exp(-v));
const geluNew = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/**
 * Logits [seq][vocab] of one sequence. `mask[t]` 0 marks padding (never attended to); `positions[t]` are
 * the position ids. Rows of padding queries are returned as computed but carry no meaning.
 */
export function referenceLogits(cfg: ReferenceConfig, seed: number, tokens: number[], mask: number[], positions: number[]): Float64Array[] {
  const W = new Weights(seed);
  const { hidden: H, heads: nH, kvHeads: nKV, headDim: D, intermediate: I, vocab: V } = cfg;
  const S = tokens.length;
  const gpt2 = cfg.family === 'gpt2';
  const embedName = gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
  const embed = W.get(embedName, [V, H]);
  let x: Vec[] = tokens.map((tok, t) => {
    const v = embed.slice(tok * H, tok * H + H);
    if (gpt2) {
      const wpe = W.get('transformer.wpe.weight', [cfg.maxPositions, H]);
      const p = positions[t]!;
      for (let i = 0; i < H; i++) v[i]! += wpe[p * H + i]!;
    }
    return v;
  });

  for (let l = 0; l < cfg.layers; l++) {
    const p = gpt2 ? `transformer.h.${l}` : `model.layers.${l}`;
    const qs: Vec[] = [];
    const ks: Vec[] = [];
    const vs: Vec[] = [];
    for (let t = 0; t < S; t++) {
      if (gpt2) {
        const xn = layerNorm(x[t]!, W.get(`${p}.ln_1.weight`, [H]), W.get(`${p}.ln_1.bias`, [H]), cfg.eps);
        const qkv = conv1d(W.get(`${p}.attn.c_attn.weight`, [H, 3 * H]), xn, 3 * H, W.get(`${p}.attn.c_attn.bias`, [3 * H]));
        qs.push(qkv.slice(0, H));
        ks.push(qkv.slice(H, 2 * H));
        vs.push(qkv.slice(2 * H));
      } else {
        const xn = rmsNorm(x[t]!, W.get(`${p}.input_layernorm.weight`, [H]), cfg.eps);
        const bias = (name: string, n: number): Float64Array | undefined => (cfg.qkvBias ? W.get(`${p}.self_attn.${name}.bias`, [n]) : undefined);
        const q = linear(W.get(`${p}.self_attn.q_proj.weight`, [nH * D, H]), xn, nH * D, bias('q_proj', nH * D));
        const k = linear(W.get(`${p}.self_attn.k_proj.weight`, [nKV * D, H]), xn, nKV * D, bias('k_proj', nKV * D));
        const v = linear(W.get(`${p}.self_attn.v_proj.weight`, [nKV * D, H]), xn, nKV * D, bias('v_proj', nKV * D));
        for (let h = 0; h < nH; h++) applyRope(q, h * D, D, positions[t]!, cfg.ropeTheta);
        for (let h = 0; h < nKV; h++) applyRope(k, h * D, D, positions[t]!, cfg.ropeTheta);
        qs.push(q);
        ks.push(k);
        vs.push(v);
      }
    }
    const next: Vec[] = [];
    for (let t = 0; t < S; t++) {
      const ctx = new Float64Array(nH * D);
      for (let h = 0; h < nH; h++) {
        const g = Math.floor(h / (nH / nKV));
        const scores: number[] = [];
        const keys: number[] = [];
        for (let s = 0; s <= t; s++) {
          if (mask[s] === 0) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qs[t]![h * D + d]! * ks[s]![g * D + d]!;
          scores.push(dot / Math.sqrt(D));
          keys.push(s);
        }
        if (keys.length === 0) continue;
        const max = Math.max(...scores);
        const e = scores.map((z) => Math.exp(z - max));
        const sum = e.reduce((a, b) => a + b, 0);
        keys.forEach((s, idx) => {
          for (let d = 0; d < D; d++) ctx[h * D + d]! += (e[idx]! / sum) * vs[s]![g * D + d]!;
        });
      }
      let attnOut: Vec;
      let residual: Vec;
      if (gpt2) {
        attnOut = conv1d(W.get(`${p}.attn.c_proj.weight`, [H, H]), ctx, H, W.get(`${p}.attn.c_proj.bias`, [H]));
        residual = x[t]!.map((v, i) => v + attnOut[i]!);
        const yn = layerNorm(residual, W.get(`${p}.ln_2.weight`, [H]), W.get(`${p}.ln_2.bias`, [H]), cfg.eps);
        const fc = conv1d(W.get(`${p}.mlp.c_fc.weight`, [H, I]), yn, I, W.get(`${p}.mlp.c_fc.bias`, [I])).map(geluNew);
        const out = conv1d(W.get(`${p}.mlp.c_proj.weight`, [I, H]), fc, H, W.get(`${p}.mlp.c_proj.bias`, [H]));
        next.push(residual.map((v, i) => v + out[i]!));
      } else {
        const oBias = cfg.outputBias ? W.get(`${p}.self_attn.o_proj.bias`, [H]) : undefined;
        attnOut = linear(W.get(`${p}.self_attn.o_proj.weight`, [H, nH * D]), ctx, H, oBias);
        residual = x[t]!.map((v, i) => v + attnOut[i]!);
        const yn = rmsNorm(residual, W.get(`${p}.post_attention_layernorm.weight`, [H]), cfg.eps);
        const gate = linear(W.get(`${p}.mlp.gate_proj.weight`, [I, H]), yn, I);
        const up = linear(W.get(`${p}.mlp.up_proj.weight`, [I, H]), yn, I);
        const act = gate.map((g, i) => silu(g) * up[i]!);
        const down = linear(W.get(`${p}.mlp.down_proj.weight`, [H, I]), act, H);
        next.push(residual.map((v, i) => v + down[i]!));
      }
    }
    x = next;
  }

  const head = gpt2 || cfg.tied ? embed : W.get('lm_head.weight', [V, H]);
  return x.map((v) => {
    const xn = gpt2
      ? layerNorm(v, W.get('transformer.ln_f.weight', [H]), W.get('transformer.ln_f.bias', [H]), cfg.eps)
      : rmsNorm(v, W.get('model.norm.weight', [H]), cfg.eps);
    return linear(head, xn, V);
  });
}
