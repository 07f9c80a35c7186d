#!/usr/bin/env bash
# System setup for the code sandbox (CI calls this; safe to re-run):
#   bubblewrap  - the default namespace backend
#   docker.io   - the docker backend (dockerd is started in the background if not running)
#   debootstrap - builds the docker base image offline-from-registries (scripts/docker_base_image.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

need=()
for pair in bwrap:bubblewrap dockerd:docker.io debootstrap:debootstrap; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "[install_sandbox_deps] apt-get install ${need[*]}" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# The docker image is optional for the namespace backend: report, do not fail CI setup.
if ! "$here/docker_base_image.sh"; then
  echo "[install_sandbox_deps] docker backend unavailable (dockerd or image build failed);" \
       "docker sandbox tests will skip with a reason" >&2
fi
