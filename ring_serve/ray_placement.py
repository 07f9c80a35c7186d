"""Where `ring train rl --async` runs its rollout servers and trainer: plain processes or Ray actors.

``RayPlacement`` declares the options ``ring train rl`` adds to ``trainer.config.RLConfig``'s (only
there: the torchrun entry has no launcher to place); ``ring_serve.ray_launch`` acts on them. Ray
itself is not imported here, so ``ring --help`` stays fast and works without the ``ray`` extra.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from trainer.options import option

PANEL = "Rollout placement (ring train rl only)"
LOCAL = "local"  # --ray local: start a single-node Ray cluster in this process


@dataclass
class RayPlacement:
    ray_address: str | None = field(default=None, metadata=option(
        "With --async: run the rollout servers and the trainer as Ray actors on the cluster at this "
        "ray.init address (e.g. auto); 'local' starts a single-node cluster here. Default: plain processes.",
        "--ray", panel=PANEL))
    rollout_servers: int = field(default=1, metadata=option(
        "With --async and no --rollout-url: vLLM rollout servers to start.", panel=PANEL))
    ray_rollout_cpus: float = field(default=1.0, metadata=option("With --ray: CPUs per rollout server.", panel=PANEL))
    ray_rollout_gpus: float = field(default=0.0, metadata=option("With --ray: GPUs per rollout server.", panel=PANEL))
    ray_trainer_cpus: float = field(default=1.0, metadata=option("With --ray: CPUs of the trainer.", panel=PANEL))
    ray_trainer_gpus: float = field(default=0.0, metadata=option("With --ray: GPUs of the trainer.", panel=PANEL))
    server_start_timeout_s: float = 900.0  # one vLLM start is 30-100 s on 2 busy cores
    placement_timeout_s: float = 300.0  # the cluster must find the bundles' resources by then
    object_store_mb: int = 200  # --ray local: the actors pass only configs, URLs and metrics

    def __post_init__(self) -> None:
        if self.rollout_servers < 1:
            raise ValueError("rollout_servers must be >= 1")
        amounts = (self.ray_rollout_cpus, self.ray_rollout_gpus, self.ray_trainer_cpus, self.ray_trainer_gpus)
        if min(amounts) < 0:
            raise ValueError("--ray-*-cpus and --ray-*-gpus must be >= 0")
        if not (self.ray_rollout_cpus or self.ray_rollout_gpus) or not (self.ray_trainer_cpus or self.ray_trainer_gpus):
            raise ValueError("each Ray actor needs some CPUs or GPUs")

    @property
    def on_ray(self) -> bool:
        return self.ray_address is not None

    def rollout_bundle(self) -> dict[str, float]:
        return _bundle(self.ray_rollout_cpus, self.ray_rollout_gpus)

    def trainer_bundle(self) -> dict[str, float]:
        return _bundle(self.ray_trainer_cpus, self.ray_trainer_gpus)

    def bundles(self) -> list[dict[str, float]]:
        """The placement group: one bundle per rollout server (indices 0..n-1), then the trainer's."""
        return [self.rollout_bundle() for _ in range(self.rollout_servers)] + [self.trainer_bundle()]

    def local_cpus(self) -> int:
        """CPUs a ``--ray local`` cluster declares: exactly what the bundles ask for."""
        return max(1, math.ceil(sum(b.get("CPU", 0.0) for b in self.bundles())))


def _bundle(cpus: float, gpus: float) -> dict[str, float]:
    # Ray refuses zero-valued resources in a bundle
    return {k: v for k, v in (("CPU", cpus), ("GPU", gpus)) if v > 0}
