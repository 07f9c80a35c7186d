"""Warm worker pools: pre-started sandboxed interpreters, one job at a time per worker.

A worker that saw anything abnormal (timeout, memory or output limit, a kill, leftover processes,
a broken channel) is discarded and a fresh one started in its place, so an attack costs one
worker start and never reaches the next program.
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sandbox.backends import resolve_backend, worker_class
from sandbox.backends.base import WorkerGone, WorkerHandle

CLEAN_STATUSES = {"ok", "runtime_error"}


def default_size() -> int:
    env = os.environ.get("RINGLAB_SANDBOX_WORKERS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"RINGLAB_SANDBOX_WORKERS must be a positive integer, got {env!r}")
        return int(env)
    return max(1, os.cpu_count() or 1)


class WorkerPool:
    def __init__(self, backend: str | None = None, size: int | None = None, **options):
        self.backend = resolve_backend(backend)
        self.size = size or default_size()
        if self.size < 1:
            raise ValueError("pool size must be >= 1")
        self.options = options
        self._cls = worker_class(self.backend)
        self._idle: queue.LifoQueue[WorkerHandle | None] = queue.LifoQueue()
        for _ in range(self.size):
            self._idle.put(None)  # started on first use
        self._all: set[WorkerHandle] = set()
        self._lock = threading.Lock()
        self.started = 0  # workers started over the pool's life (recycling shows here)
        self.closed = False

    def _start(self) -> WorkerHandle:
        handle = self._cls(**self.options).start()
        with self._lock:
            self._all.add(handle)
            self.started += 1
        return handle

    def warm(self) -> "WorkerPool":
        """Start every idle slot now (in parallel) instead of on first use."""
        slots = [self._idle.get() for _ in range(self.size)]
        todo = [i for i, h in enumerate(slots) if h is None or not h.alive]
        with ThreadPoolExecutor(max(1, len(todo))) as ex:
            for i, handle in zip(todo, ex.map(lambda _: self._start(), todo)):
                slots[i] = handle
        for handle in slots:
            self._idle.put(handle)
        return self

    @contextmanager
    def worker(self, timeout: float | None = None):
        """Borrow a live worker. The body sets ``lease.recycle = True`` to have it replaced."""
        if self.closed:
            raise RuntimeError("sandbox pool is closed")
        try:
            handle = self._idle.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no sandbox worker became free in time") from None
        lease = _Lease()
        try:
            if handle is None or not handle.alive:
                handle = self._start()
            lease.handle = handle
            yield lease
        except BaseException:
            lease.recycle = True
            raise
        finally:
            handle = lease.handle
            if handle is not None and (lease.recycle or not handle.alive):
                self._discard(handle)
                handle = None
            self._idle.put(handle)

    def _discard(self, handle: WorkerHandle) -> None:
        with self._lock:
            self._all.discard(handle)
        handle.close()

    def close(self) -> None:
        self.closed = True
        with self._lock:
            handles = list(self._all)
            self._all.clear()
        for handle in handles:
            handle.close()


class _Lease:
    handle: WorkerHandle | None = None
    recycle = False


_POOLS: dict[str, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(backend: str | None = None) -> WorkerPool:
    """The process-wide pool for a backend (created on first use, closed at exit)."""
    name = resolve_backend(backend)
    with _POOLS_LOCK:
        pool = _POOLS.get(name)
        if pool is None or pool.closed:
            pool = _POOLS[name] = WorkerPool(name)
        return pool


@atexit.register
def close_all() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


__all__ = ["WorkerPool", "WorkerGone", "get_pool", "close_all", "CLEAN_STATUSES"]
