#!/usr/bin/env bash
# Create .venv-verl: verl 0.9.1's reward path next to Ring Lab, for tests/test_verl_real.py.
#
# verl 0.9.1 pins transformers<5.11 while vLLM needs a newer one, so verl gets its own venv. It is
# installed with --no-deps plus only what its reward loading imports; the heavy packages (torch,
# numpy, ray, aiohttp, pandas ...) come from the main venv through a .pth file that APPENDS that
# venv's site-packages, so the few packages installed here (transformers<5.11 first) win.
#   scripts/setup_verl_env.sh     RING_BASE_VENV=/path/to/venv to reuse another venv (default .venv)
# Idempotent: a second run only checks (a fraction of a second); 25-50 s the first time (2 cores).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
base="${RING_BASE_VENV:-$repo/.venv}"
venv="${RING_VERL_VENV:-$repo/.venv-verl}"
base_py="$base/bin/python"
[ -x "$base_py" ] || { echo "[verl-env] no base venv at $base (run scripts/setup.sh --dev)" >&2; exit 1; }

# What verl 0.9.1's reward path (verl.trainer.ppo.reward, verl.experimental.reward_loop) imports
# that the main venv lacks or has at a version verl refuses; hydra-core composes verl's own config.
reqs=(
  "transformers>=5.5.3,<5.11,!=5.6.0"
  "tensordict>=0.8,<=0.10,!=0.9.0"
  "omegaconf>=2.3"
  "hydra-core>=1.3"
  "codetiming"
)
base_site="$("$base_py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
stamp="$venv/.ring-verl-$(printf '%s\n' "verl==0.9.1" "${reqs[@]}" "$base_site" | sha256sum | cut -c1-12)"

check() {
  "$venv/bin/python" - <<'EOF'
import transformers, verl
from packaging.version import Version
from verl.trainer.ppo.reward import load_reward_manager  # noqa: F401
assert verl.__version__ == "0.9.1", verl.__version__
assert Version(transformers.__version__) < Version("5.11"), transformers.__version__
EOF
}

quick_check() {  # installed versions only (the full check imports torch: seconds)
  "$venv/bin/python" -c 'from importlib.metadata import version as v; assert v("verl") == "0.9.1"' 2>/dev/null
}

if [ -f "$stamp" ] && quick_check; then
  echo "[verl-env] ready: $venv"
  exit 0
fi

echo "[verl-env] creating $venv (verl 0.9.1, reusing $base_site)"
[ -x "$venv/bin/python" ] || "$base_py" -m venv --without-pip "$venv"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
# appended after this venv's own site-packages, so what is installed here shadows the base venv
echo "$base_site" > "$site/_ring_base_venv.pth"

log="$venv/setup.log"
pip() {  # the base venv's pip, acting on this venv; quiet unless it fails
  "$base_py" -m pip --disable-pip-version-check --python "$venv/bin/python" "$@" >"$log" 2>&1 \
    || { grep -v "^WARNING: Location" "$log" | tail -40 >&2; exit 1; }
}
pip install -q --no-deps "verl==0.9.1"
# with deps: pip sees the base venv's packages through the .pth and installs only what is missing
pip install -q "${reqs[@]}"
check || { echo "[verl-env] install check failed: import verl / transformers<5.11" >&2; exit 1; }
rm -f "$venv"/.ring-verl-*
touch "$stamp"
echo "[verl-env] ready: $venv"
