#!/usr/bin/env bash
# System setup for the code sandbox (CI calls this; safe to re-run):
#   bubblewrap  - the default namespace backend
#   docker.io   - the docker backend (dockerd is started in the background if not running)
#   debootstrap - builds the docker base image offline-from-registries (scripts/docker_base_image.sh)
#   docker compose v2 + buildx - the service images and their smoke test (tests/test_containers.py)
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

# `docker compose` (v2) and `docker buildx` (BuildKit for the image builds). Debian 13+ packages
# them as docker-compose and docker-buildx; bookworm's docker-compose is the retired v1 and it has
# no buildx, so there the two come from the next release's packages, which are Go binaries needing
# only libc6 >= 2.34. They are fetched with a private apt list: the system's sources stay as they are.
install_compose() {
  if docker compose version 2>/dev/null | grep -q 'version v\?2' && docker buildx version >/dev/null 2>&1; then
    return 0
  fi
  if apt-cache show docker-buildx >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose docker-buildx
    return
  fi
  local dir mirror
  dir=$(mktemp -d)
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
           /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 |
           sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
  echo "deb ${mirror:-http://deb.debian.org/debian} trixie main" > "$dir/sources.list"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  local apt_opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                  -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  echo "[install_sandbox_deps] docker compose v2 + buildx from Debian trixie's packages" >&2
  apt-get "${apt_opts[@]}" update -q >/dev/null
  (cd "$dir" && apt-get "${apt_opts[@]}" download docker-compose docker-buildx >/dev/null)
  DEBIAN_FRONTEND=noninteractive dpkg -i "$dir"/docker-compose_2*.deb "$dir"/docker-buildx_*.deb >/dev/null
  rm -rf "$dir"
}
install_compose || echo "[install_sandbox_deps] docker compose v2 / buildx unavailable: the container" \
                        "smoke test will fail (tests/test_containers.py)" >&2

# The docker image is optional for the namespace backend: report, do not fail CI setup.
if ! "$here/docker_base_image.sh"; then
  echo "[install_sandbox_deps] docker backend unavailable (dockerd or image build failed);" \
       "docker sandbox tests will skip with a reason" >&2
fi
