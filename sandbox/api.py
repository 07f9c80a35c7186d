"""The sandbox's public calls: ``run`` one program, ``execute_group`` a program over many inputs.

Grading what comes back (LiveCodeBench's test verdicts) is the code verifier's job
(``evaluators.code.judge``); this layer only executes and reports.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

from sandbox.backends.base import WorkerGone
from sandbox.limits import Limits
from sandbox.pool import CLEAN_STATUSES, WorkerPool, get_pool
from sandbox.results import ExecResult

MAX_CODE_BYTES = 1 << 20
MAX_STDIN_BYTES = 64 << 20
HOST_GRACE_S = 10.0  # beyond the program's own timeout, for the worker to kill and report


def check_inputs(code: Any, language: str, stdin: Any, files: Any) -> bytes:
    if language not in ("python", "python3"):
        raise ValueError(f"unsupported language {language!r}; only python is supported")
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    if len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        raise ValueError(f"code is larger than {MAX_CODE_BYTES} bytes")
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8", "surrogatepass")
    elif not isinstance(stdin, (bytes, bytearray)):
        raise TypeError(f"stdin must be str or bytes, got {type(stdin).__name__}")
    if len(stdin) > MAX_STDIN_BYTES:
        raise ValueError(f"stdin is larger than {MAX_STDIN_BYTES} bytes")
    if files is not None:
        if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise TypeError("files must map relative file names to str contents")
        for name in files:
            if not name or name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"bad file name {name!r}: must be relative, without '..'")
    return bytes(stdin)


def pool_for(backend: str | WorkerPool | None) -> WorkerPool:
    return backend if isinstance(backend, WorkerPool) else get_pool(backend)


def execute(pool: WorkerPool, job: dict, stdin: bytes, limits: Limits) -> ExecResult:
    """Run one job on a pooled worker; never raises for anything the program does."""
    header = {"op": "run", **job, **limits.job_fields()}
    with pool.worker() as lease:
        ooms = lease.handle.oom_kills()
        try:
            reply, blobs = lease.handle.call(header, [stdin], limits.timeout_s + HOST_GRACE_S)
        except WorkerGone as exc:
            lease.recycle = True
            # The sandbox died under the program (e.g. its PID 1 was OOM-killed): "killed".
            status = "killed" if isinstance(exc.__cause__, EOFError) else "sandbox_error"
            return ExecResult(status, None, "", "", 0.0, 0.0, 0.0, pool.backend, error=str(exc))
        status = reply.get("status", "sandbox_error")
        if status in ("killed", "runtime_error") and lease.handle.oom_kills() > ooms:
            reply["status"] = status = "memory_limit"  # the whole-sandbox memory cap was hit
        if status not in CLEAN_STATUSES or reply.get("leftover_processes"):
            lease.recycle = True
    return _exec_result(reply, blobs, pool.backend)


def _exec_result(reply: dict, blobs: list[bytes], backend: str) -> ExecResult:
    out, err, res = (list(blobs) + [b"", b"", b""])[:3]
    result = ExecResult(
        status=reply.get("status", "sandbox_error"), exit_code=reply.get("exit_code"),
        signal=reply.get("signal"), stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"), wall_s=float(reply.get("wall_s") or 0.0),
        cpu_s=float(reply.get("cpu_s") or 0.0), max_rss_mb=float(reply.get("max_rss_mb") or 0.0),
        backend=backend, stdout_bytes=out, error=reply.get("error", ""))
    if res:
        try:
            result.return_value, result.has_return_value = json.loads(res), True
        except ValueError:
            result.error = "return value was not valid JSON"
    return result


def execute_group(pool: WorkerPool, job: dict, inputs: list[bytes], limits: Limits, on_result,
                  stop_on_failure: bool) -> str:
    """Run all inputs in one sandboxed process (tests stream back one by one).

    ``on_result(i, ExecResult) -> bool`` judges each test as it arrives; a False with
    ``stop_on_failure`` makes the worker kill the program at once. Returns "" or an error.
    """
    header = {"op": "group", **job, **limits.job_fields(), "stop_on_error": stop_on_failure}
    header["cpu_s"] = min(3600.0, limits.timeout_s * len(inputs) + 1)
    with pool.worker() as lease:
        handle, stopping, seen = lease.handle, False, 0
        try:
            handle.send(header, inputs)
            while True:
                frame, blobs = handle.recv(limits.timeout_s + HOST_GRACE_S)
                if frame.get("ev") == "end":
                    break
                if frame.get("ev") != "test":
                    lease.recycle = True
                    return f"sandbox_error: {frame.get('error') or frame}"
                res = _exec_result(frame, blobs, pool.backend)
                if res.status not in CLEAN_STATUSES:
                    lease.recycle = True
                if stopping:
                    continue  # finished before our stop arrived; LCB would not have run it
                if frame.get("i") != seen or seen >= len(inputs):
                    lease.recycle = True
                    return f"sandbox_error: out-of-order test result {frame.get('i')!r}"
                seen += 1
                if not on_result(frame["i"], res) and stop_on_failure:
                    handle.send({"op": "stop"})
                    stopping = True
        except WorkerGone as exc:
            lease.recycle = True
            return f"sandbox_error: {exc}"
        if frame.get("status") == "sandbox_error" or frame.get("leftover_processes"):
            lease.recycle = True
        return f"sandbox_error: {frame.get('error')}" if frame.get("status") == "sandbox_error" else ""


def run(code: str, *, language: str = "python", stdin: str | bytes = "", timeout_s: float = 6.0,
        memory_mb: int = 1024, files: dict[str, str] | None = None,
        backend: str | WorkerPool | None = None, limits: Limits | None = None) -> ExecResult:
    """Run ``code`` as a script in the sandbox, feeding ``stdin``; files land in its work dir."""
    data = check_inputs(code, language, stdin, files)
    limits = (limits or Limits()).with_(timeout_s=timeout_s, memory_mb=memory_mb)
    job = {"code": code, "mode": "script", "files": files or {}}
    return execute(pool_for(backend), job, data, limits)
