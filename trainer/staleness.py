"""AReaL's staleness gate (arXiv 2505.24298): how far rollouts may run ahead of the trainer.

The trainer consumes ``batch_size`` (B) samples per step; its version v is the number of steps
whose weights the rollout servers hold. With staleness bound eta, a new rollout may start only
while

    (eta + v + 1) * B > accepted + running    and    running < max_running

where ``accepted`` counts finished rollouts kept for training (consumed or waiting) and
``running`` those in flight. So no sample can be more than eta versions older than the step
that trains on it; eta = 0 is synchronous RL: the B samples of version v+1 start only after the
trainer finished step v and pushed its weights. A rejected rollout (filtered out) frees its slot.

In-flight rollouts do not survive a restart, so a checkpoint keeps only the configuration and
the version; ``from_state`` resets ``accepted`` to v * B (plus the ready samples restored with
the checkpoint), otherwise the formula would admit v * B rollouts at once. Thread-safe: rollout
workers call ``try_admit``/``on_finish``, the trainer calls ``on_version``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class GateSnapshot:
    version: int
    accepted: int
    running: int
    rejected: int
    capacity: int  # rollouts that may start right now


class StalenessGate:
    """Admission control for rollouts: ``try_admit`` before one starts, ``on_finish`` when it ends."""

    def __init__(self, batch_size: int, eta: int, max_running: int, version: int = 0, ready: int = 0):
        if batch_size < 1 or eta < 0 or max_running < 1 or version < 0 or ready < 0:
            raise ValueError(f"need batch_size >= 1, eta >= 0, max_running >= 1, version >= 0, ready >= 0; got "
                             f"{batch_size}, {eta}, {max_running}, {version}, {ready}")
        self.batch_size, self.eta, self.max_running = batch_size, eta, max_running
        self._version, self._accepted, self._running, self._rejected = version, version * batch_size + ready, 0, 0
        self._changed = threading.Condition()

    def try_admit(self) -> bool:
        """Start one rollout if the bound allows it now (then it counts as running)."""
        with self._changed:
            if self._capacity() <= 0:
                return False
            self._running += 1
            return True

    def wait_admit(self, timeout_s: float) -> bool:
        """``try_admit``, waiting up to ``timeout_s`` for a finish or a new version to make room."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._capacity() > 0, timeout=timeout_s):
                return False
            self._running += 1
            return True

    def on_finish(self, accepted: bool) -> None:
        """A running rollout ended; ``accepted``: kept for training (else its slot is freed)."""
        with self._changed:
            if self._running == 0:
                raise RuntimeError("on_finish without a running rollout (unbalanced try_admit/on_finish)")
            self._running -= 1
            if accepted:
                self._accepted += 1
            else:
                self._rejected += 1
            self._changed.notify_all()

    def on_version(self, version: int) -> None:
        """The trainer's weights of step ``version`` are on the servers (versions never go back)."""
        with self._changed:
            if version < self._version:
                raise ValueError(f"version went back from {self._version} to {version}")
            self._version = version
            self._changed.notify_all()

    def snapshot(self) -> GateSnapshot:
        with self._changed:
            return GateSnapshot(self._version, self._accepted, self._running, self._rejected, self._capacity())

    def state(self) -> dict:
        """What a checkpoint keeps (counts of in-flight work are not restorable, see ``from_state``)."""
        with self._changed:
            return {"batch_size": self.batch_size, "eta": self.eta, "max_running": self.max_running,
                    "version": self._version}

    @classmethod
    def from_state(cls, state: dict, ready: int = 0) -> "StalenessGate":
        """The gate after a resume: ``accepted`` = version * B + ``ready`` (samples restored unconsumed)."""
        return cls(state["batch_size"], state["eta"], state["max_running"], state["version"], ready)

    def _capacity(self) -> int:
        by_staleness = (self.eta + self._version + 1) * self.batch_size - self._accepted - self._running
        return max(0, min(by_staleness, self.max_running - self._running))


def sample_staleness(token_versions: list[int], trainer_version: int) -> int:
    """How many versions behind the trainer a sample is: judged by its oldest token."""
    return trainer_version - min(token_versions) if token_versions else 0
