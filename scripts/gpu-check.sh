#!/usr/bin/env bash
# The GPU path end to end through the CLI, on a machine with a GPU: what `hardware` detects, `bench
# --device webgpu` on fused int4 (q4) and float16 models with the KV cache kept on the GPU and GPU memory
# sampled, the same tests on the CPU beside it, and `recommend --confirm` measuring on the GPU.
#
#   npm ci && npm run build
#   bash scripts/gpu-check.sh [OUT_DIR]        (default ./gpu-check; reports and logs land there)
#
# Environment: DEVICE (default webgpu; `cpu` rehearses the script on a machine without a GPU),
# MODEL (default smollm2-135m), TESTS (default pp512,tg128,tg128@d512), REPS (default 3),
# STEP_TIMEOUT (seconds per step, default 300). Every step runs even when one before it failed; the
# summary at the end says which failed, and the exit code is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-./gpu-check}
DEVICE=${DEVICE:-webgpu}
MODEL=${MODEL:-smollm2-135m}
TESTS=${TESTS:-pp512,tg128,tg128@d512}
REPS=${REPS:-3}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/modelscout-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILED=()

step() {
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name: $*"
  timeout --kill-after=10 "$STEP_TIMEOUT" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "== $name: exit $rc, $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || FAILED+=("$name (exit $rc)")
  return "$rc"
}

echo "== machine"
uptime
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 | head -5
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
ldconfig -p 2>/dev/null | grep -E 'libvulkan|libEGL|libGLX' | head -5
node --version

step hardware node bin/run.js hardware
step hardware-json bash -c 'node bin/run.js hardware --json > "$0"' "$OUT/hardware.json"

M="$WORK/$MODEL-fused"
step synth-fp32 node bin/run.js synth "$MODEL" --graph fused --seed 7 --out "$M"
step synth-fp16 node bin/run.js synth "$MODEL" --graph fused --dtype fp16 --seed 7 --out "$M"
step quantize node bin/run.js quantize "$M" --no-fidelity

# Each bench's table (with GPU memory beside peak RSS when it was sampled) goes to a .txt for the summary.
step bench-"$DEVICE" bash -c 'node bin/run.js bench "$1" --device "$2" --variant q4,fp16 --tests "$3" --repetitions "$4" --out "$5.json" --html "$5.html" > "$5.txt"' \
  _ "$M" "$DEVICE" "$TESTS" "$REPS" "$OUT/bench-$DEVICE"
if [ "$DEVICE" != cpu ]; then
  step bench-cpu bash -c 'node bin/run.js bench "$1" --device cpu --variant q4 --tests "$2" --repetitions "$3" --out "$4.json" > "$4.txt"' \
    _ "$M" "$TESTS" "$REPS" "$OUT/bench-cpu"
fi

# The recommendation measured on the GPU: two small candidates, so that it fits one step.
GPU_FLAG=gpu
[ "$DEVICE" = cpu ] && GPU_FLAG=cpu
step recommend node bin/run.js recommend --customization no --latency relaxed --device "$GPU_FLAG" --model smollm2-135m --model qwen2.5-0.5b \
  --candidates-from models --confirm --candidates 2 --quick --work-dir "$WORK/recommend" \
  --calibration "$WORK/calibration.json" --out "$OUT/recommend.json"

echo "== summary"
for f in "$OUT"/bench-*.txt; do
  [ -f "$f" ] && { echo "-- $(basename "$f" .txt)"; cat "$f"; }
done
echo "reports and logs: $OUT"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "failed steps: ${FAILED[*]}"
  exit "${#FAILED[@]}"
fi
echo "every step passed"
