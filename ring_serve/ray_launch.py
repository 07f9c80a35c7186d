"""`ring train rl --async --ray ADDRESS`: the rollout servers and the trainer as Ray actors.

One placement group holds a bundle per rollout server and one for the trainer, sized by
``RayPlacement`` (CPU-only bundles here, GPU bundles on a cluster). Its strategy is STRICT_PACK:
the weight sync (``trainer.weight_sync.ShmReloadSync``) hands the servers a file on the node's
tmpfs and the servers listen on loopback, so the trainer and its servers share one node. Each
``RolloutServerActor`` starts one ``rollout_server`` (a vLLM child process of the actor) and
returns its URL; the ``TrainerActor`` runs ``trainer.rl.run_rl`` on those URLs and returns the
history. Every server and actor is stopped in a ``finally``; an actor's failure comes back as a
``RayLaunchError`` carrying the actor's own error message.

``ray`` is imported inside the functions: ``--ray local`` must switch Ray to loopback-only before
Ray reads that switch (``_start_local``), and nothing else in Ring Lab needs Ray.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any

from ring_serve.ray_placement import LOCAL, RayPlacement
from trainer.config import RLConfig

FORWARDED_ENV = ("RING_HOME", "RING_DB_URL", "RING_API_KEY")  # what the trainer reads from its environment
LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray's single-machine mode: every Ray process on 127.0.0.1
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray reports usage to its vendor by default
}
STOP_TIMEOUT_S = 60.0


class RayLaunchError(RuntimeError):
    """An actor failed, died or could not be placed; the message says which and why."""


class RolloutServerActor:
    """One vLLM rollout server (``ring_serve.rollout_servers.rollout_server``) inside a Ray actor."""

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.server = None

    def start(self, timeout_s: float) -> str:
        """Start the server; its base URL once healthy (the vLLM log tail if it is not)."""
        from ring_serve.rollout_servers import rollout_server

        if not Path(self.model_dir).is_dir():  # a cluster node may not see the driver's files
            raise FileNotFoundError(f"no checkpoint directory {self.model_dir} on this Ray node")
        self.server = rollout_server(self.model_dir)
        self.server.start(timeout_s)
        return self.server.base_url

    def shutdown(self) -> int | None:
        """Stop the server (also while ``start`` still waits: the actor runs two calls at once)."""
        return self.server.stop() if self.server is not None else None

    def pids(self) -> list[int]:
        """This actor's process and the server's process-group leader (for checks after a run)."""
        proc = self.server.proc if self.server is not None else None
        return [os.getpid()] + ([proc.pid] if proc is not None else [])


class TrainerActor:
    """``trainer.rl.run_rl`` inside a Ray actor."""

    def __init__(self):
        import trainer.rl  # noqa: F401  torch and the model code load while the rollout servers start

    def run(self, cfg: RLConfig) -> list[dict]:
        from trainer.rl import run_rl

        return run_rl(cfg, progress=False)

    def pids(self) -> list[int]:
        return [os.getpid()]


def run_rl_on_ray(cfg: RLConfig, placement: RayPlacement) -> list[dict]:
    """Train ``cfg`` (``--async``) on ``placement.rollout_servers`` rollout servers; the history.

    The servers start from the policy (the newest checkpoint on ``--resume``). Connects to
    ``placement.ray_address`` (or starts the local cluster) unless Ray is already initialised in
    this process, and disconnects again only if it connected.
    """
    from ring_serve.rollout_servers import start_weights

    model_dir = start_weights(cfg.policy_dir, cfg.out_dir, cfg.resume)
    connected = connect(placement)
    try:
        return _run_placed(cfg, placement, model_dir)
    finally:
        if connected:
            import ray

            ray.shutdown()


def connect(placement: RayPlacement) -> bool:
    """Join the cluster at ``placement.ray_address`` ('local': start one here); False if already joined."""
    import ray

    if ray.is_initialized():
        return False
    if placement.ray_address == LOCAL:
        _start_local(placement)
    else:
        ray.init(address=placement.ray_address, log_to_driver=False, logging_level=logging.WARNING)
    return True


def _start_local(placement: RayPlacement, attempts: int = 2) -> None:
    """A single-node cluster on loopback with just the CPUs the bundles ask for."""
    os.environ.update(LOOPBACK_ENV)
    import ray
    from ray._private import ray_constants

    # Ray reads the switch when it is first imported, which may have been before the line above
    ray_constants.ENABLE_RAY_CLUSTER = False
    for attempt in range(attempts):
        try:
            ray.init(num_cpus=placement.local_cpus(), object_store_memory=placement.object_store_mb << 20,
                     include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            return
        except Exception as exc:
            # on a loaded machine the raylet may give up on its slow-starting agent: a second start
            # finds their modules in the page cache
            ray.shutdown()
            if attempt == attempts - 1 or "timed out during startup" not in str(exc):
                raise RayLaunchError(f"could not start a local Ray cluster: {exc}") from exc


def _run_placed(cfg: RLConfig, placement: RayPlacement, model_dir: str) -> list[dict]:
    """Place, start and run every actor; stop them all, whatever happens."""
    from ray.util.placement_group import remove_placement_group

    pg = _placement_group(placement)
    actors: list[Any] = []
    try:
        servers = [_spawn(RolloutServerActor, pg, i, placement.rollout_bundle(), actors, model_dir,
                          max_concurrency=2) for i in range(placement.rollout_servers)]
        starts = [s.start.remote(placement.server_start_timeout_s) for s in servers]
        trainer = _spawn(TrainerActor, pg, placement.rollout_servers, placement.trainer_bundle(), actors)
        urls = [result(ref, f"rollout server {i}") for i, ref in enumerate(starts)]
        return result(trainer.run.remote(dataclasses.replace(cfg, rollout_urls=tuple(urls))), "trainer")
    finally:
        stop_actors(actors)
        remove_placement_group(pg)


def _placement_group(placement: RayPlacement):
    """The run's bundles, reserved on one node; a clear error when the cluster cannot hold them."""
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    bundles = placement.bundles()
    pg = placement_group(bundles, strategy="STRICT_PACK")
    try:
        ray.get(pg.ready(), timeout=placement.placement_timeout_s)
    except ray.exceptions.GetTimeoutError:
        remove_placement_group(pg)
        raise RayLaunchError(f"Ray could not place the bundles {bundles} on one node within "
                             f"{placement.placement_timeout_s:.0f}s; the cluster has "
                             f"{ray.cluster_resources()}") from None
    return pg


def _spawn(cls, pg, index: int, bundle: dict[str, float], actors: list, *args, max_concurrency: int = 1):
    """One actor of ``cls`` in bundle ``index`` of ``pg``, recorded in ``actors`` before it can fail."""
    import ray
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    options: dict[str, Any] = dict(
        num_cpus=bundle.get("CPU", 0.0), num_gpus=bundle.get("GPU", 0.0), max_concurrency=max_concurrency,
        max_restarts=0, scheduling_strategy=PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=index))
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    if env:  # a cluster started elsewhere does not have this shell's environment
        options["runtime_env"] = {"env_vars": env}
    actor = _remote(cls).options(**options).remote(*args)
    actors.append(actor)
    return actor


@functools.cache
def _remote(cls):
    import ray

    return ray.remote(cls)


def result(ref, what: str, timeout_s: float | None = None):
    """``ray.get(ref)``; an actor's error is raised as ``RayLaunchError`` with its own message."""
    import ray

    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if exc.cause is not None else exc
        raise RayLaunchError(f"{what} failed: {type(cause).__name__}: {cause}") from exc
    except ray.exceptions.RayActorError as exc:
        raise RayLaunchError(f"{what} died: {exc}") from exc
    except ray.exceptions.GetTimeoutError as exc:
        raise RayLaunchError(f"{what} did not answer within {timeout_s:.0f}s") from exc


def stop_actors(actors: list) -> None:
    """Stop every rollout server (``shutdown``), then kill every actor; failures to stop are ignored."""
    import ray

    stops = [a.shutdown.remote() for a in actors if hasattr(a, "shutdown")]
    for ref in stops:
        try:
            ray.get(ref, timeout=STOP_TIMEOUT_S)
        except Exception:  # noqa: BLE001  a dead actor cannot answer; Ray kills a dead worker's children
            pass
    for actor in actors:
        ray.kill(actor, no_restart=True)
