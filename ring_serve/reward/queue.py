"""Bounded admission and deadline-limited grading off the event loop.

``Admission`` counts items admitted and not yet answered; past its size a request is refused at
once (the route answers 429) instead of waiting. ``GradingRunner`` runs one blocking grading call
(an item, or a chunk of fast items) in a thread under ``asyncio.wait_for``: when the deadline
passes its items are answered with ``reason: timeout`` and its concurrency slot is freed even if
the grader thread is still stuck, so a hung grader never holds a slot. Such threads are counted
as abandoned.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class Admission:
    """A non-blocking counter of admitted items (the queue: waiting plus grading)."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("queue size must be >= 1")
        self.size = size
        self.depth = 0

    def try_acquire(self, n: int) -> bool:
        # runs on the event loop thread only, so no lock is needed
        if self.depth + n > self.size:
            return False
        self.depth += n
        return True

    def release(self, n: int) -> None:
        self.depth = max(0, self.depth - n)


class Timeout(Exception):
    """The item's deadline passed before its grade came back."""


class GradingRunner:
    """Runs blocking grading calls with at most ``workers`` in progress at a time."""

    def __init__(self, workers: int, spare_threads: int | None = None):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        # spare threads let new work start while abandoned (hung) calls still occupy threads
        self._executor = ThreadPoolExecutor(workers + (spare_threads if spare_threads is not None else workers),
                                            thread_name_prefix="reward-grade")
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self.abandoned = 0  # grader threads still running after their item timed out

    async def run(self, fn: Callable[..., Any], *args: Any, deadline: float, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a thread; Timeout if ``deadline`` (monotonic) passes first."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout()
        try:
            await asyncio.wait_for(self._slots.acquire(), remaining)
        except asyncio.TimeoutError:
            raise Timeout() from None
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout()
            job = self._executor.submit(fn, *args, **kwargs)
            waiter = asyncio.wrap_future(job)
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), remaining)
            except asyncio.TimeoutError:
                # nobody awaits it any more: fetch its outcome so asyncio does not log it as lost
                waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
                if not job.cancel():  # already running: let it finish on its own, count it
                    with self._lock:
                        self.abandoned += 1
                    job.add_done_callback(self._done_abandoned)
                raise Timeout() from None
        finally:
            self._slots.release()

    def _done_abandoned(self, job) -> None:
        # runs in the grader thread when an abandoned call finally returns
        with self._lock:
            self.abandoned -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
