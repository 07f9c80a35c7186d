"""The shared worker pool used for sympy comparisons (created lazily, one per process)."""
from __future__ import annotations

import atexit
import os
import threading

from evaluators.timeout_pool import TimeoutPool

_pool: TimeoutPool | None = None
_lock = threading.Lock()
MEM_LIMIT_MB = int(os.environ.get("RING_GRADER_MEM_MB", "2048"))


def get_pool() -> TimeoutPool:
    global _pool
    with _lock:
        if _pool is None:
            size = int(os.environ.get("RING_GRADER_WORKERS", "0")) or max(2, os.cpu_count() or 2)
            _pool = TimeoutPool(size=size, mem_limit_mb=MEM_LIMIT_MB,
                                preload=["evaluators.math.symbolic"])
            atexit.register(_pool.close)
            # the first fork server start imports sympy (seconds on a busy machine); do it now
            # rather than inside the first caller's deadline
            _pool.warm_in_background()
        return _pool


def warm() -> None:
    """Start the workers now (imports sympy once in the fork server)."""
    get_pool().warm()
