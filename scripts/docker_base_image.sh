#!/usr/bin/env bash
# Build the local Docker base image for the sandbox's docker backend, only if it is missing.
# No image registry is reachable, so the root filesystem comes from debootstrap (a minimal
# Debian with python3) and is loaded with `docker import`. Starts dockerd first if needed.
# Idempotent: re-running with the image present does nothing; the rootfs tarball is cached.
set -euo pipefail

IMAGE="${RINGLAB_SANDBOX_IMAGE:-ringlab-sandbox:py3}"
CACHE_DIR="${RINGLAB_SANDBOX_CACHE:-/var/cache/ringlab-sandbox}"
SUITE="${RINGLAB_SANDBOX_SUITE:-bookworm}"
DOCKERD_LOG="${RINGLAB_DOCKERD_LOG:-/var/log/ringlab-dockerd.log}"

log() { echo "[docker_base_image] $*" >&2; }

apt_mirror() {
  # Use the same Debian mirror apt already uses (it is the package registry we can reach).
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 |
        sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
  echo "${uri:-http://deb.debian.org/debian}"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || { log "dockerd not installed (apt-get install docker.io)"; return 1; }
  log "starting dockerd (log: $DOCKERD_LOG)"
  # The sandbox only uses --network none, so dockerd may fall back to no bridge/iptables.
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 $! 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    log "plain dockerd did not come up; retrying without bridge/iptables"
    pkill_pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    [ -n "$pkill_pid" ] && kill "$pkill_pid" 2>/dev/null || true
    rm -f /var/run/docker.pid
    setsid nohup dockerd --bridge=none --iptables=false --ip6tables=false >>"$DOCKERD_LOG" 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && return 0
      sleep 0.5
    done
  fi
  docker info >/dev/null 2>&1 || { log "dockerd failed to start; see $DOCKERD_LOG"; tail -n 20 "$DOCKERD_LOG" >&2; return 1; }
}

build_rootfs_tar() {
  local tar="$1" root
  command -v debootstrap >/dev/null || { log "debootstrap not installed (apt-get install debootstrap)"; return 1; }
  root=$(mktemp -d /var/tmp/ringlab-rootfs.XXXXXX)
  log "debootstrap $SUITE from $(apt_mirror) into $root (a few minutes, once)"
  debootstrap --variant=minbase --include=python3 "$SUITE" "$root" "$(apt_mirror)" >&2
  # Trim what a sandboxed python3 never needs; keeps the image small and import fast.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
         "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
         "$root"/var/log/* "$root"/tmp/*
  mkdir -p "$(dirname "$tar")"
  tar --numeric-owner -C "$root" -cf "$tar.partial" .
  mv "$tar.partial" "$tar"
  rm -rf "$root"
}

main() {
  start_dockerd
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE present"
    return 0
  fi
  local tar="$CACHE_DIR/rootfs-$SUITE-py3.tar"
  [ -s "$tar" ] || build_rootfs_tar "$tar"
  log "docker import $tar as $IMAGE"
  docker import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'ENV LANG=C.UTF-8' "$tar" "$IMAGE" >/dev/null
  docker run --rm --network none "$IMAGE" python3 -c 'import sys; print("python", sys.version.split()[0])' >&2
  log "image $IMAGE ready"
}

main "$@"
