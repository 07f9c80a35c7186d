"""Every child the demo starts, stopped on the way out: normal end, failure, Ctrl-C, SIGTERM, SIGHUP.

Children run in their own process groups (``ring_core.service``), so a terminal's Ctrl-C reaches
only the demo; the demo then stops each child's whole group. SIGTERM and SIGHUP are turned into
KeyboardInterrupt so they unwind through the same ``finally``.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator, TypeVar

from ring_core.service import Service

S = TypeVar("S", bound=Service)
FORWARDED = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class Children:
    def __init__(self) -> None:
        self.running: list[Service] = []

    def start(self, service: S, timeout_s: float = 600.0) -> S:
        """Start ``service`` and wait for its health; it is tracked before it is spawned."""
        self.running.append(service)
        service.start(timeout_s)
        return service

    def track(self, service: S) -> S:
        self.running.append(service)
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        if service in self.running:
            self.running.remove(service)

    def stop_all(self) -> None:
        # a second Ctrl-C must not cut the clean-up short
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self.running:
                self.running.pop().stop()
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextmanager
    def guard(self) -> Iterator["Children"]:
        """Within: SIGTERM/SIGHUP raise KeyboardInterrupt; on leaving, every child is stopped."""
        previous = {sig: signal.signal(sig, _interrupt) for sig in FORWARDED}
        try:
            yield self
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
