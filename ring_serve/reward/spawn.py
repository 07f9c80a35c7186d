"""Start ``ring reward serve`` as a child service and wait until it answers (demo, tests, benchmarks)."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

from ring_core.service import Service, free_port


class RewardService(Service):
    """A running ``ring reward serve``; ``headers()`` carries its bearer key."""

    def __init__(self, args: Sequence[str] = (), *, api_key: str | None = None, host: str = "127.0.0.1",
                 port: int | None = None):
        port = port or free_port(host)
        self.base_url, self.api_key = f"http://{host}:{port}", api_key
        env = dict(os.environ)
        env.pop("RING_API_KEY", None)
        if api_key:
            env["RING_API_KEY"] = api_key
        cmd = [sys.executable, "-m", "ring_serve.cli", "reward", "serve", "--host", host, "--port", str(port),
               "--log-level", "warning", *args]
        super().__init__("reward service", cmd, self.base_url + "/health", env=env, keep_log=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@contextmanager
def reward_server(args: Sequence[str] = (), *, api_key: str | None = None, host: str = "127.0.0.1",
                  start_timeout_s: float = 120.0) -> Iterator[RewardService]:
    """A real uvicorn reward service on a free loopback port; its process group is stopped on exit."""
    service = RewardService(args, api_key=api_key, host=host)
    with service.start(start_timeout_s):
        yield service
