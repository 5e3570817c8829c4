#!/usr/bin/env bash
# Device check for a CUDA machine: train and evaluate the embedded SmolLM2-135M-Instruct for a
# few steps (benchmarks/gpu-check.yaml) with bf16, then with QLoRA (4-bit base, gradient
# checkpointing), and on two or more GPUs also data-parallel in two processes; where ray is
# installed, also a two-run sweep on Ray (one GPU per run); print tokens/s, peak VRAM and the
# verdict of each. Installs nothing beyond `make install`.
#
#   benchmarks/gpu_check.sh            # from any folder; runs go to runs/gpu-check/
#
# Exits 1 at once when there is no CUDA device, and when a run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "gpu_check: $*" >&2; exit 1; }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  fail "no CUDA device: nvidia-smi is missing or lists no GPU. This check needs an NVIDIA GPU."
fi
GPUS=$(nvidia-smi -L | grep -c '^GPU')

echo "gpu_check: make install"
make install >/dev/null
PY=.venv/bin/python
GOALTUNE=.venv/bin/goaltune
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || fail "torch $("$PY" -c 'import torch; print(torch.__version__)') cannot use the GPU (a CPU-only build, or a driver too old for it)"
"$PY" -c 'import bitsandbytes' 2>/dev/null \
  || fail "bitsandbytes is not installed; make install adds it on machines with nvidia-smi (the gpu extra)"

CONFIG=benchmarks/gpu-check.yaml
OUT=runs/gpu-check
STARTED=$SECONDS

# run_case NAME [goaltune options...]: one run; its folder is the newest runs/gpu-check/gpu-check-NAME-*
run_case() {
  local name=$1; shift
  local log="$OUT/gpu-check-$name.log"
  mkdir -p "$OUT"
  echo "gpu_check: $name ..."
  if ! timeout 240 "$GOALTUNE" run "$CONFIG" --quiet --set "name=gpu-check-$name" "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "the $name run failed (log: $log)"
  fi
}

run_case bf16
run_case qlora --set model.load_in_4bit=true --set train.gradient_checkpointing=true
CASES="bf16 qlora"
if [ "$GPUS" -ge 2 ]; then
  run_case ddp2 --num-processes 2
  CASES="$CASES ddp2"
fi

# shellcheck disable=SC2086  # CASES is a list of words
"$PY" benchmarks/gpu_check_report.py "$OUT" $CASES || fail "a run did not use the GPU"

# Ray: a two-run sweep (lora.r 8, 16) as Ray tasks of one GPU each on a local Ray instance; the
# base model is evaluated once. Skipped where ray is not installed (it is not in make install).
if "$PY" -c 'import ray' 2>/dev/null; then
  SWEEP="$OUT/ray-sweep-$(date +%s)"
  echo "gpu_check: ray sweep ..."
  if ! timeout 600 "$GOALTUNE" sweep "$CONFIG" --grid lora.r=8,16 --backend ray --out "$SWEEP" \
      --quiet >"$SWEEP.log" 2>&1; then
    tail -n 40 "$SWEEP.log" >&2
    fail "the ray sweep failed (log: $SWEEP.log)"
  fi
  grep -q "1 computed, 1 reused" "$SWEEP.log" || fail "the ray sweep evaluated the base model more than once"
  "$PY" benchmarks/gpu_check_report.py "$SWEEP" r8 r16 || fail "a ray run did not use the GPU"
else
  echo "gpu_check: ray case skipped: ray is not installed (pip install 'goaltune[ray]')"
fi
echo "gpu_check: done in $((SECONDS - STARTED)) s (runs in $OUT)"
