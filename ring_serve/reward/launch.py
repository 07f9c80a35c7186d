"""Start ``ring reward serve`` in a subprocess and wait until it answers (tests, benchmarks)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import httpx

from ring_serve.net import free_port


@dataclass
class RewardProcess:
    proc: subprocess.Popen
    base_url: str
    api_key: str | None
    log_path: Path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@contextmanager
def reward_server(args: Sequence[str] = (), *, api_key: str | None = None, host: str = "127.0.0.1",
                  start_timeout_s: float = 120.0) -> Iterator[RewardProcess]:
    """A real uvicorn reward service on a free loopback port; stopped (SIGTERM, then kill) on exit."""
    port = free_port(host)
    env = dict(os.environ)
    env.pop("RING_API_KEY", None)
    if api_key:
        env["RING_API_KEY"] = api_key
    log = Path(tempfile.mkstemp(prefix="ring-reward-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "ring_serve.cli", "reward", "serve", "--host", host, "--port", str(port),
           "--log-level", "warning", *args]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    server = RewardProcess(proc, f"http://{host}:{port}", api_key, log)
    try:
        _wait_ready(server, start_timeout_s)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.unlink(missing_ok=True)  # failures above already carry its tail


def _wait_ready(server: RewardProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"reward server exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.base_url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"reward server not ready after {timeout_s:g}s:\n{server.log_tail()}")
