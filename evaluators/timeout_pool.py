"""A pool of worker processes that runs functions under a hard wall-clock limit.

Why processes: sympy can spin for minutes inside C-free Python code, and ``signal.alarm`` only
works in the main thread. A worker that overruns its deadline is SIGKILLed and dropped; the next
call forks a fresh one. Works from any thread and (via ``acall``) from asyncio. Each worker caps
its address space with RLIMIT_AS so a runaway computation dies with MemoryError instead of
taking the machine down.

Workers come from the multiprocessing *forkserver*: it is single-threaded (forking a threaded
parent is unsafe) and preloads the modules we name, so a replacement worker starts in
milliseconds rather than re-importing sympy.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import queue
import threading
import time
from typing import Any, Sequence


class PoolTimeout(Exception):
    """The call did not finish before its deadline (the worker, if any, was killed)."""


class WorkerError(Exception):
    """The function raised in the worker, or the worker died (e.g. out of memory)."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind  # "error", "memory" or "crash"


def _worker_main(conn, mem_limit_bytes: int | None, preload: Sequence[str]) -> None:
    if mem_limit_bytes:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (mem_limit_bytes, mem_limit_bytes))
        except (ImportError, ValueError, OSError):
            pass
    for name in preload:
        importlib.import_module(name)
    while True:
        try:
            module, func, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            fn = getattr(importlib.import_module(module), func)
            reply = ("ok", fn(*args, **kwargs))
        except MemoryError:
            reply = ("memory", "memory limit exceeded")
        except RecursionError:
            reply = ("memory", "recursion too deep")
        except BaseException as exc:  # report, never die on a bad input
            reply = ("error", f"{type(exc).__name__}: {exc}"[:500])
        try:
            conn.send(reply)
        except Exception as exc:  # unpicklable result
            conn.send(("error", f"cannot send result: {exc}"[:500]))


_patch_lock = threading.Lock()


@contextlib.contextmanager
def _without_main_reimport():
    """Start children without re-running the caller's ``__main__``.

    multiprocessing re-imports the main script in forkserver/spawn children, which breaks
    scripts without an ``if __name__ == "__main__"`` guard. Our worker lives in an importable
    module, so the main script is never needed there.
    """
    from multiprocessing import spawn

    with _patch_lock:
        original = spawn.get_preparation_data

        def no_main(name):
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = no_main
        try:
            yield
        finally:
            spawn.get_preparation_data = original


class _Worker:
    def __init__(self, ctx, mem_limit_bytes, preload):
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker_main, args=(child, mem_limit_bytes, tuple(preload)),
                                daemon=True)
        self.proc.start()
        child.close()

    def kill(self) -> None:
        try:
            self.proc.kill()
        except Exception:
            pass
        try:
            self.conn.close()
        except Exception:
            pass
        # reap without blocking the caller
        threading.Thread(target=self.proc.join, args=(2.0,), daemon=True).start()


class TimeoutPool:
    """``call(module, func, *args, timeout_s=...)`` runs ``module.func(*args)`` in a worker.

    The deadline covers waiting for a free worker as well as running, so no caller waits longer
    than ``timeout_s`` plus a few milliseconds, however many threads share the pool.
    """

    def __init__(self, size: int | None = None, mem_limit_mb: int | None = 2048,
                 preload: Sequence[str] = ()):
        self.size = size or max(2, os.cpu_count() or 2)
        self._mem = mem_limit_mb * 1024 * 1024 if mem_limit_mb else None
        self._preload = tuple(preload)
        self._ctx = multiprocessing.get_context("forkserver")
        try:
            self._ctx.set_forkserver_preload(list(self._preload))
        except Exception:
            pass
        self._slots = threading.BoundedSemaphore(self.size)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._start_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._workers = 0  # alive or starting; never more than size
        self._closed = False
        self.kills = 0  # how many workers were killed on timeout (for tests and metrics)

    def warm(self, n: int | None = None) -> None:
        """Start up to ``n`` workers now so the first calls do not pay for it."""
        want = min(n or self.size, self.size) - self._idle.qsize()
        for _ in range(max(0, want)):
            if not self._slots.acquire(blocking=False):
                break  # busy workers exist already
            try:
                if not self._reserve():
                    break
                self._add_worker()
            finally:
                self._slots.release()

    def warm_in_background(self) -> threading.Thread:
        t = threading.Thread(target=self.warm, name="timeout-pool-warm", daemon=True)
        t.start()
        return t

    def _new_worker(self) -> _Worker:
        with self._start_lock, _without_main_reimport():
            return _Worker(self._ctx, self._mem, self._preload)

    def _reserve(self) -> bool:
        """Count a worker about to start; False when alive + starting already fill the pool."""
        with self._count_lock:
            if self._workers >= self.size:
                return False
            self._workers += 1
            return True

    def _add_worker(self) -> None:
        try:
            self._idle.put(self._new_worker())
        except BaseException:
            with self._count_lock:
                self._workers -= 1
            raise

    def _start_in_background(self) -> None:
        """Start one worker off the caller's clock (a start can take long on a loaded machine)."""
        if self._reserve():
            threading.Thread(target=self._add_worker, name="timeout-pool-start", daemon=True).start()

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._count_lock:
            self._workers -= 1

    def call(self, module: str, func: str, *args: Any, timeout_s: float = 5.0, **kwargs: Any) -> Any:
        if self._closed:
            raise RuntimeError("pool is closed")
        deadline = time.monotonic() + timeout_s
        if not self._slots.acquire(timeout=max(0.0, timeout_s)):
            raise PoolTimeout("no free worker before the deadline")
        worker = None
        try:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                self._start_in_background()
                try:
                    worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise PoolTimeout("no worker started before the deadline") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolTimeout("deadline passed while waiting for a worker")
            try:
                worker.conn.send((module, func, args, kwargs))
                ready = worker.conn.poll(remaining)
                if not ready:
                    self.kills += 1
                    self._retire(worker)
                    worker = None
                    raise PoolTimeout(f"killed after {timeout_s:g}s")
                status, value = worker.conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._retire(worker)
                worker = None
                raise WorkerError("crash", f"worker died: {exc!r}") from None
            if status == "memory":
                # the worker may be left in a bad state; replace it
                self._retire(worker)
                worker = None
                raise WorkerError("memory", value)
            if status != "ok":
                raise WorkerError(status, value)
            return value
        finally:
            if worker is not None:
                if worker.proc.is_alive():
                    self._idle.put(worker)
                else:
                    self._retire(worker)
            self._slots.release()

    async def acall(self, module: str, func: str, *args: Any, timeout_s: float = 5.0, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.call, module, func, *args, timeout_s=timeout_s, **kwargs)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
