#!/usr/bin/env bash
# Build Ring Lab's images: scripts/build_images.sh [--force] [TARGET...]   (default: cpu db)
#   cpu, gpu, db are Dockerfile targets, tagged $RING_IMAGE:TARGET (default ringlab:cpu, ...).
# Base: $RING_IMAGE_BASE, else the Dockerfile's public python base when it can be pulled, else the
# local debootstrap base (scripts/docker_base_image.sh builds it). Builder: BuildKit (buildx, or
# an older docker CLI's builtin one) with a pip cache mount; otherwise the legacy builder with the
# cache mounts stripped (RING_BUILDER=buildkit|legacy forces one). An image whose label says it was built from the same inputs (context
# files, Dockerfile, base image id, build args) is reused, so CI and tests build once.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${RING_IMAGE:-ringlab}"
PUBLIC_BASE="python:3.11-slim-bookworm"
TORCH_VERSION="${RING_TORCH_VERSION:-2.13.0+cpu}"
force=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    cpu|gpu|db) targets+=("$arg") ;;
    *) echo "usage: $0 [--force] [cpu|gpu|db ...]" >&2; exit 2 ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=(cpu db)
log() { echo "[build_images] $*" >&2; }

docker info >/dev/null 2>&1 || bash scripts/docker_base_image.sh >/dev/null  # starts dockerd

pick_base() {
  if [ -n "${RING_IMAGE_BASE:-}" ]; then echo "$RING_IMAGE_BASE"; return; fi
  if docker image inspect "$PUBLIC_BASE" >/dev/null 2>&1 || timeout 120 docker pull -q "$PUBLIC_BASE" >/dev/null 2>&1; then
    echo "$PUBLIC_BASE"; return
  fi
  log "cannot pull $PUBLIC_BASE (no registry?): using the local debootstrap base"
  bash scripts/docker_base_image.sh >&2
  echo "${RINGLAB_SANDBOX_IMAGE:-ringlab-sandbox:py3}"
}

# BuildKit when this docker CLI has it: buildx, or a pre-23 CLI (builtin BuildKit client).
builder=legacy
if [ -n "${RING_BUILDER:-}" ]; then  # buildkit or legacy, to force one
  builder="$RING_BUILDER"
elif docker buildx version >/dev/null 2>&1; then
  builder=buildkit
elif [ "$(docker version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)" -lt 23 ] 2>/dev/null; then
  builder=buildkit
fi

BASE=$(pick_base)
base_id=$(docker image inspect -f '{{.Id}}' "$BASE")
build_args=(--build-arg "BASE=$BASE")
if [[ " ${targets[*]} " == *" cpu "* ]]; then
  # The CPU torch wheel: take it from the host's pip (its indexes or find-links) when it has it,
  # so the build needs no torch index; otherwise the Dockerfile's TORCH_INDEX is used.
  if ! ls docker/wheels/torch-"${TORCH_VERSION%%+*}"*.whl >/dev/null 2>&1; then
    python3 -m pip download -q --no-deps --only-binary :all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 -d docker/wheels "torch==$TORCH_VERSION" >/dev/null 2>&1 \
      || log "host pip has no torch==$TORCH_VERSION wheel: the build fetches it from TORCH_INDEX"
  fi
  build_args+=(--build-arg "TORCH_VERSION=$TORCH_VERSION")
  ls docker/wheels/torch-"${TORCH_VERSION%%+*}"*.whl >/dev/null 2>&1 && build_args+=(--build-arg "TORCH_INDEX=")
fi
# Locally added CAs (e.g. a proxy's): the build stages must trust what the host trusts to reach
# the package index. Refreshed every build; only .crt files count (update-ca-certificates).
find docker/certs -name '*.crt' -delete 2>/dev/null || true
for crt in ${RING_BUILD_CA_CERTS:-/usr/local/share/ca-certificates/*.crt}; do
  [ -f "$crt" ] && cp "$crt" docker/certs/
done
net=()
# dockerd started without its bridge (scripts/docker_base_image.sh's fallback): build on the host network
docker network inspect bridge >/dev/null 2>&1 || net=(--network host)

# The build context is what .dockerignore allows; hash exactly that, plus how we build it.
mapfile -t allowed < <(sed -n 's/^!//p' .dockerignore)
context_hash=$( { find "${allowed[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
                  | sort -z | xargs -0 sha256sum; sha256sum Dockerfile .dockerignore;
                  echo "$base_id ${build_args[*]}"; } | sha256sum | cut -c1-16)

# The legacy builder runs every stage before the target, needed or not: give it a Dockerfile
# with only the target's stages, and without the cache mounts it cannot parse.
legacy_dockerfile() {
  local keep
  case "$1" in
    cpu) keep=" os build deps-cpu src runtime cpu " ;;
    gpu) keep=" os build deps-gpu src runtime gpu " ;;
    db) keep=" db " ;;
  esac
  sed -E 's/--mount=type=cache,[^ ]+ //' Dockerfile | awk -v keep="$keep" '
    /^FROM / { stage = $NF; on = index(keep, " " stage " ") > 0 }
    !seen_from && !/^FROM / { print; next }
    /^FROM / { seen_from = 1 }
    on { print }'
}
if [ "$builder" = legacy ]; then
  log "no BuildKit in this docker CLI: legacy builder, without the pip cache mount"
fi

for target in "${targets[@]}"; do
  tag="$IMAGE:$target"
  inputs="$context_hash-$target"
  if [ "$force" = 0 ] && [ "$(docker image inspect -f '{{index .Config.Labels "org.ringlab.inputs"}}' "$tag" 2>/dev/null)" = "$inputs" ]; then
    log "$tag is up to date (inputs $inputs): reused"
    continue
  fi
  dockerfile=Dockerfile
  if [ "$builder" = legacy ]; then
    dockerfile=$(mktemp)
    legacy_dockerfile "$target" > "$dockerfile"
  fi
  log "building $tag from $BASE ($builder)"
  start=$(date +%s)
  if [ "$builder" = buildkit ]; then
    DOCKER_BUILDKIT=1 docker build --progress plain "${net[@]}" "${build_args[@]}" --target "$target" \
      --label "org.ringlab.inputs=$inputs" -t "$tag" -f "$dockerfile" . > "${RING_BUILD_LOG:-/tmp/ringlab-build-$target.log}" 2>&1 \
      || { tail -n 40 "${RING_BUILD_LOG:-/tmp/ringlab-build-$target.log}" >&2; log "build of $tag failed"; exit 1; }
  else
    DOCKER_BUILDKIT=0 docker build "${net[@]}" "${build_args[@]}" --target "$target" \
      --label "org.ringlab.inputs=$inputs" -t "$tag" -f "$dockerfile" . > "${RING_BUILD_LOG:-/tmp/ringlab-build-$target.log}" 2>&1 \
      || { tail -n 40 "${RING_BUILD_LOG:-/tmp/ringlab-build-$target.log}" >&2; log "build of $tag failed"; exit 1; }
  fi
  [ "$dockerfile" = Dockerfile ] || rm -f "$dockerfile"
  log "built $tag in $(( $(date +%s) - start ))s"
done
for target in "${targets[@]}"; do
  size=$(docker image inspect -f '{{.Size}}' "$IMAGE:$target")
  log "$IMAGE:$target $(( size / 1000000 )) MB"
done
