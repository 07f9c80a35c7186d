"""Session-wide fixtures: real `ring serve` processes (vLLM engine start is 30-100 s, so once)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from ring_core.service import Service, ServiceError, free_port

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCRIPT_ANSWER = "<think>add</think>The answer is \\boxed{42}"
API_KEY = "test-key-123"


class RunningServer(Service):
    """A `ring serve` child (``ring_core.service.Service``) plus what tests need to reach it."""

    def __init__(self, home: Path, model_dir: Path | None, name: str | None, api_key: str | None, log: Path):
        port = free_port()
        cmd = [ring_bin(), "serve", "--port", str(port), "--timeout", "900"]
        if model_dir is not None:
            cmd.insert(2, str(model_dir))
        if name:
            cmd += ["--served-model-name", name]
        env = {**os.environ, "RING_HOME": str(home)}
        env.pop("RING_API_KEY", None)
        if api_key:
            env["RING_API_KEY"] = api_key
        self.base_url = f"http://127.0.0.1:{port}"
        self.model = name or ("ring-tiny" if model_dir is None else model_dir.name)
        self.model_dir = model_dir or home / "models" / "ring-tiny"
        self.api_key, self.log = api_key, log
        super().__init__("ring serve", cmd, self.base_url + "/health", env=env, log_path=log)

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def client(self, **kw):
        from openai import OpenAI

        return OpenAI(base_url=self.v1, api_key=self.api_key or "none", max_retries=0, **kw)


def ring_bin() -> str:
    return str(Path(sys.executable).with_name("ring"))


def start_ring_serve(home: Path, model_dir: Path | None, name: str | None, api_key: str | None,
                     log: Path, timeout_s: float = 900) -> RunningServer:
    server = RunningServer(home, model_dir, name, api_key, log).spawn()
    try:
        server.wait_ready(timeout_s, poll_s=1.0)
    except ServiceError:
        stop(server.proc)
        raise
    return server


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM `ring serve` only; it must take its engine (own process group) down with it."""
    import psutil

    family = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(family, timeout=30)
    for p in alive:
        p.kill()
    assert not alive, f"`ring serve` left engine processes behind: {[p.pid for p in alive]}"


@contextmanager
def scratch_ring_home(tmp_path_factory):
    """A fresh RING_HOME (its own SQLite DB) for a module's tests; yields (home, monkeypatch)."""
    home = tmp_path_factory.mktemp("ring_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("RING_HOME", str(home))
    mp.delenv("RING_DB_URL", raising=False)
    try:
        yield home, mp
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def ring_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ring_home")


@pytest.fixture(scope="session")
def tiny_server(ring_home, tmp_path_factory):
    """`ring serve` with no MODEL: the random-weight tiny default, built into RING_HOME; key required."""
    log = tmp_path_factory.mktemp("logs") / "tiny_server.log"
    server = start_ring_serve(ring_home, None, None, API_KEY, log)
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def scripted_server(tmp_path_factory):
    """A tiny model that always answers SCRIPT_ANSWER (known output for end-to-end checks); no key."""
    from ring_serve.tiny_model import build_tiny_model

    home = tmp_path_factory.mktemp("ring_home_scripted")
    model_dir = build_tiny_model(home / "models" / "ring-scripted", script=SCRIPT_ANSWER)
    log = tmp_path_factory.mktemp("logs") / "scripted_server.log"
    server = start_ring_serve(home, model_dir, "ring-scripted", None, log)
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def rollout_server(tmp_path_factory):
    """The tiny model on a vLLM server in RL dev mode (pause/resume, /collective_rpc) with our
    weight-reload worker extension (``trainer.weight_sync.server_args``); no key. One per session."""
    from ring_serve.tiny_model import build_tiny_model
    from ring_serve.vllm_server import ServeOptions, VllmServer
    from trainer.weight_sync import SERVER_ENV, server_args

    model_dir = build_tiny_model(tmp_path_factory.mktemp("rollout_model") / "ring-tiny")
    log = tmp_path_factory.mktemp("logs") / "rollout_server.log"
    mp = pytest.MonkeyPatch()
    try:  # VllmServer copies os.environ when it is built
        for name, value in SERVER_ENV.items():
            mp.setenv(name, value)
        mp.delenv("RING_API_KEY", raising=False)
        server = VllmServer(ServeOptions(model=str(model_dir), port=free_port(), max_model_len=512, kv_cache_gb=0.5,
                                         extra_args=server_args()), log_path=log)
    finally:
        mp.undo()
    server.model_dir = model_dir
    server.start(timeout_s=900)
    yield server
    server.stop()
