"""vLLM rollout servers for ``ring train rl --async``: started with `ring serve`'s launcher in RL dev mode.

Each server loads the policy the trainer starts from (the newest checkpoint on ``--resume``), has
vLLM's pause/resume and ``/collective_rpc`` routes (``VLLM_SERVER_DEV_MODE=1``) and our weight-reload
worker extension (``trainer.weight_sync``), so the trainer can push weights into it in place.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from ring_core.service import free_port
from ring_serve.vllm_server import ServeOptions, VllmServer

# one engine step takes a whole step's prefill: on CPU a seeded request whose prefill is split dies
BATCHED_TOKENS = ["--max-num-batched-tokens", "32768"]


def rollout_server(model_dir: str | Path, *, max_model_len: int = 512, kv_cache_gb: float = 1.0) -> VllmServer:
    """One not-yet-started rollout server for ``model_dir`` on a free loopback port."""
    from trainer.weight_sync import SERVER_ENV, server_args

    opts = ServeOptions(model=str(model_dir), port=free_port(), max_model_len=max_model_len,
                        kv_cache_gb=kv_cache_gb, extra_args=[*server_args(), *BATCHED_TOKENS])
    server = VllmServer(opts)
    server.env.update(SERVER_ENV)
    server.env.pop("RING_API_KEY", None)  # rollouts stay on loopback without a key
    return server


@contextlib.contextmanager
def rollout_servers(model_dir: str | Path, n: int = 1, timeout_s: float = 900.0) -> Iterator[list[str]]:
    """``n`` started rollout servers; yields their base URLs and stops every one on exit."""
    servers = [rollout_server(model_dir) for _ in range(n)]
    try:
        for server in servers:
            server.start(timeout_s)
        yield [s.base_url for s in servers]
    finally:
        for server in servers:
            server.stop()


def start_weights(policy_dir: str, out_dir: str, resume: bool) -> str:
    """The weights the servers start from: the newest checkpoint when resuming, else the policy."""
    from trainer.rl import latest_checkpoint

    newest = latest_checkpoint(Path(out_dir)) if resume else None
    return str(newest or policy_dir)
