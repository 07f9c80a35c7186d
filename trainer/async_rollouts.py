"""Asynchronous rollouts for ``ring train rl --async`` (AReaL): generation never waits for training.

A background thread runs one asyncio loop with a ``RolloutClient`` over the rollout servers.
Producers (``concurrency`` of them) each take the next prompt of the run's prompt stream once the
``StalenessGate`` admits it, generate its K responses, grade them and queue the group as ready.
The trainer ``take``s the oldest ``prompts_per_step`` ready groups per step and ``advance``s the
version after its update: with new weights it pushes them (in-flight requests are aborted, keep
their tokens and continue under the new weights), without (no policy signal) it only moves the
version on. Every token carries the version that sampled it.

The prompt stream is deterministic by position (seed, position -> task), and a checkpoint keeps
the next position and every position admitted but not yet trained (``state``): on resume those
are generated again first, so no prompt is lost or trained twice. Every wait has a timeout; a
producer's failure is raised in the trainer's thread by the next ``take``.
"""
from __future__ import annotations

import asyncio
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from trainer.rollout import Rollout
from trainer.rollout_client import Generation, RolloutClient, RolloutError
from trainer.staleness import StalenessGate
from trainer.weight_sync import ShmReloadSync

RewardFn = Callable[[list[Rollout], list[int]], list[float]]  # (rollouts, task indices) -> rewards


@dataclass
class Group:
    """One prompt's K responses, graded, as the trainer receives them."""
    position: int  # place in the run's prompt stream
    task: int  # index into the training tasks
    rolls: list[Rollout]
    versions: list[list[int]]  # per response, per token: the policy version that sampled it
    rewards: list[float]
    interrupted: int  # requests of this group cut by weight updates


@dataclass
class AsyncOptions:
    urls: Sequence[str]
    prompts_per_step: int  # B: groups per trainer step
    group_size: int
    max_new_tokens: int
    temperature: float
    eta: int  # max staleness (versions)
    seed: int
    eos_id: int
    concurrency: int = 16  # groups in flight at most
    timeout_s: float = 600.0  # the longest the trainer waits for a step's groups


def task_at(seed: int, position: int, n_tasks: int) -> int:
    """The training task at ``position`` of the prompt stream (the same after any resume)."""
    return random.Random(f"{seed}:prompt:{position}").randrange(n_tasks)


class AsyncRollouts:
    """Producers on a background asyncio loop; ``take`` / ``advance`` / ``state`` from the trainer."""

    def __init__(self, opts: AsyncOptions, prompt_ids: list[list[int]], reward_fn: RewardFn, *,
                 version: int = 0, state: dict | None = None):
        self.opts, self.prompt_ids, self.reward_fn = opts, prompt_ids, reward_fn
        state = state or {}
        self._cursor = int(state.get("cursor", 0))
        self._redo = sorted(state.get("pending", []))  # admitted before the checkpoint, never trained
        self._pending: set[int] = set()  # admitted and not yet handed to the trainer
        self._lock = threading.Lock()
        self._ready: queue.Queue[Group] = queue.Queue()
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self.version = version
        self.gate = StalenessGate(opts.prompts_per_step, opts.eta, opts.concurrency, version=version)
        self.sync = ShmReloadSync(opts.urls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rollouts", daemon=True)
        self._thread.start()
        self.client: RolloutClient = self._call(self._make_client(), 60)
        self._producers = [asyncio.run_coroutine_threadsafe(self._produce(), self._loop)
                           for _ in range(opts.concurrency)]

    # --- trainer side -------------------------------------------------------------------------

    def take(self, n: int) -> list[Group]:
        """The oldest ``n`` ready groups; waits at most ``timeout_s`` and re-raises a producer's failure."""
        deadline, out = time.monotonic() + self.opts.timeout_s, []
        while len(out) < n:
            self._raise_failure()
            try:
                out.append(self._ready.get(timeout=min(1.0, max(deadline - time.monotonic(), 0.01))))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise RolloutError(f"only {len(out)} of {n} rollout groups ready after "
                                       f"{self.opts.timeout_s:.0f}s (servers: {', '.join(self.opts.urls)})") from None
        with self._lock:
            self._pending.difference_update(g.position for g in out)
        return out

    def advance(self, version: int, state_dict: dict[str, torch.Tensor] | None) -> float:
        """Move to ``version``: push ``state_dict`` (new weights) or, when None, only retag; push seconds."""
        if state_dict is None:
            self._call(self._retag(version), 60)
            push_s = 0.0
        else:
            frozen = {k: v.detach().clone() for k, v in state_dict.items()}  # training goes on meanwhile
            push_s = self._call(self.client.update_weights(self.sync, frozen, version), self.opts.timeout_s)
        self.version = version
        self.gate.on_version(version)
        return push_s

    def state(self) -> dict:
        """For a checkpoint: the next stream position and every admitted, untrained one."""
        with self._lock:
            return {"cursor": self._cursor, "pending": sorted(self._pending | set(self._redo)),
                    "version": self.version}

    def client_metrics(self) -> dict[str, float]:
        return dict(self.client.metrics())

    def close(self) -> None:
        """Stop the producers (their requests are cancelled), the client and the loop's thread."""
        self._stop.set()
        try:
            self._call(self._shutdown(), 60)
        finally:
            self.sync.close()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            if not self._thread.is_alive():
                self._loop.close()

    # --- background loop ---------------------------------------------------------------------

    async def _shutdown(self) -> None:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self.client.aclose()

    async def _make_client(self) -> RolloutClient:
        return RolloutClient(self.opts.urls, version=self.version)

    async def _retag(self, version: int) -> None:
        self.client.version = version  # the weights did not change: new tokens carry the new version

    async def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.gate.try_admit():
                    await asyncio.sleep(0.02)  # a finish or a new version makes room; polling keeps threads free
                    continue
                try:
                    group = await self._one_group(self._next_position())
                except BaseException:
                    self.gate.on_finish(False)
                    raise
                self._ready.put(group)
                self.gate.on_finish(True)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the trainer's thread
            self._failure = self._failure or exc

    def _next_position(self) -> int:
        with self._lock:
            if self._redo:
                position = self._redo.pop(0)
            else:
                position, self._cursor = self._cursor, self._cursor + 1
            self._pending.add(position)
            return position

    async def _one_group(self, position: int) -> Group:
        o = self.opts
        task = task_at(o.seed, position, len(self.prompt_ids))
        gens: list[Generation] = await asyncio.gather(*(
            self.client.generate(self.prompt_ids[task], o.max_new_tokens, o.temperature,
                                 seed=o.seed * 1_000_003 + position * o.group_size + k, stop_token_ids=[o.eos_id])
            for k in range(o.group_size)))
        rolls = [g.to_rollout() for g in gens]
        rewards = await asyncio.to_thread(self.reward_fn, rolls, [task] * len(rolls))
        return Group(position, task, rolls, [list(g.versions) for g in gens], rewards,
                     sum(g.interrupted_count for g in gens))

    def _call(self, coro, timeout_s: float):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RolloutError(f"rollouts stopped: {self._failure}") from self._failure


def token_staleness(groups: list[Group], version: int) -> tuple[float, int]:
    """(mean, max) of trainer version minus the sampling version, over the groups' response tokens."""
    lags = [version - v for g in groups for per_response in g.versions for v in per_response]
    return (sum(lags) / len(lags), max(lags)) if lags else (0.0, 0)
