"""The sandbox's public calls: ``run`` one program, ``run_tests`` against a test list."""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

from sandbox import lcb
from sandbox.backends.base import WorkerGone
from sandbox.limits import Limits
from sandbox.pool import CLEAN_STATUSES, WorkerPool, get_pool
from sandbox.results import ExecResult, TestReport, TestResult

MAX_CODE_BYTES = 1 << 20
MAX_STDIN_BYTES = 64 << 20
HOST_GRACE_S = 10.0  # beyond the program's own timeout, for the worker to kill and report


def _check_inputs(code: Any, language: str, stdin: Any, files: Any) -> bytes:
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


def _pool_for(backend: str | WorkerPool | None) -> WorkerPool:
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
    data = _check_inputs(code, language, stdin, files)
    limits = (limits or Limits()).with_(timeout_s=timeout_s, memory_mb=memory_mb)
    job = {"code": code, "mode": "script", "files": files or {}}
    return execute(_pool_for(backend), job, data, limits)


def _normalise_tests(tests: Iterable[Any]) -> list[lcb.Case]:
    cases = []
    for i, t in enumerate(tests):
        if isinstance(t, lcb.Case):
            cases.append(t)
        elif isinstance(t, dict) and "input" in t and "output" in t:
            cases.append(lcb.Case(t["input"], t["output"]))
        elif isinstance(t, (tuple, list)) and len(t) == 2:
            cases.append(lcb.Case(t[0], t[1]))
        else:
            raise ValueError(f"test {i}: expected {{'input', 'output'}} or an (input, output) pair")
        if not isinstance(cases[-1].input, str) or not isinstance(cases[-1].output, str):
            raise ValueError(f"test {i}: input and output must be strings")
    if not cases:
        raise ValueError("no tests given")
    return cases


def _lcb_code(status: str, passed: bool) -> bool | int:
    if passed:
        return lcb.PASS
    if status == "ok":
        return lcb.WRONG_ANSWER
    if status == "timeout":
        return lcb.TIME_LIMIT
    return lcb.RUNTIME_ERROR


def run_tests(code: str, tests: Iterable[Any], *, mode: str = "stdin", func_name: str | None = None,
              per_test_timeout_s: float = 6.0, memory_mb: int = 1024,
              stop_on_first_failure: bool = True, global_timeout_s: float | None = None,
              float_tol: float = lcb.DEFAULT_FLOAT_TOL, strict_lcb: bool = False,
              backend: str | WorkerPool | None = None, limits: Limits | None = None,
              process_per_test: bool = False) -> TestReport:
    """Run the tests in the sandbox and compare outputs as LiveCodeBench does.

    By default all tests of the program run in one fresh sandboxed process (as LCB runs them,
    minus LCB's lack of isolation), each with fresh globals or a fresh ``Solution()``, real
    stdin/stdout fds and its own deadline. ``process_per_test=True`` forks a new process per
    test instead (no state can carry between tests; slower). ``global_timeout_s`` defaults to
    LCB's (per_test + 1) * n_tests + 5; past it every test gets LCB's -1, as in LCB.
    """
    _check_inputs(code, "python", "", None)
    if mode not in ("stdin", "functional"):
        raise ValueError(f"mode must be 'stdin' or 'functional', got {mode!r}")
    if mode == "functional" and not (isinstance(func_name, str) and func_name.isidentifier()):
        raise ValueError(f"functional mode needs func_name, a Python identifier; got {func_name!r}")
    cases = _normalise_tests(tests)
    limits = (limits or Limits()).with_(timeout_s=per_test_timeout_s, memory_mb=memory_mb)
    if global_timeout_s is None:
        global_timeout_s = (per_test_timeout_s + 1) * len(cases) + 5
    pool = _pool_for(backend)
    t0 = time.monotonic()
    results: list[TestResult] = []
    if not process_per_test:
        def on_result(i: int, res: ExecResult) -> bool:
            results.append(_judge(i, cases[i], res, mode, float_tol, strict_lcb))
            return results[-1].passed

        job = {"code": code, "mode": "script" if mode == "stdin" else "functional",
               "func_name": func_name}
        error = execute_group(pool, job, [c.input.encode("utf-8", "surrogatepass") for c in cases],
                              limits, on_result, stop_on_first_failure)
        return _report(results, cases, pool, t0, global_timeout_s, stop_on_first_failure, error)
    for i, case in enumerate(cases):
        if time.monotonic() - t0 > global_timeout_s:
            return TestReport(False, results, len(cases), pool.backend, time.monotonic() - t0,
                              [lcb.GLOBAL_TIMEOUT] * len(cases), error="global timeout")
        if mode == "stdin":
            job = {"code": code, "mode": "script", "files": {}}
            res = execute(pool, job, case.input.encode("utf-8", "surrogatepass"), limits)
        else:
            job = {"code": code, "mode": "functional", "func_name": func_name, "input": case.input}
            res = execute(pool, job, b"", limits)
        results.append(_judge(i, case, res, mode, float_tol, strict_lcb))
        if not results[-1].passed and stop_on_first_failure:
            break
    return _report(results, cases, pool, t0, global_timeout_s, stop_on_first_failure, "")


def _report(results: list[TestResult], cases: list[lcb.Case], pool: WorkerPool, t0: float,
            global_timeout_s: float, stop: bool, error: str) -> TestReport:
    elapsed = time.monotonic() - t0
    if elapsed > global_timeout_s:
        return TestReport(False, results, len(cases), pool.backend, elapsed,
                          [lcb.GLOBAL_TIMEOUT] * len(cases), error="global timeout")
    passed = not error and len(results) == len(cases) and all(r.passed for r in results)
    lcb_results = [r.lcb_code for r in results]
    if error and (not results or results[-1].passed):
        lcb_results.append(lcb.RUNTIME_ERROR)  # the sandbox failed; count it against the run
    if not passed and not error:
        # LCB stops at the first failure; report the prefix it would have produced.
        first = next((i for i, r in enumerate(results) if not r.passed), len(results))
        lcb_results = lcb_results[:first + 1]
    return TestReport(passed, results, len(cases), pool.backend, elapsed, lcb_results, error=error)


def _judge(i: int, case: lcb.Case, res: ExecResult, mode: str, tol: float, strict: bool) -> TestResult:
    if res.status != "ok":
        detail = res.error or res.stderr.strip().splitlines()[-1:] or [""]
        reason = f"{res.status}: {detail if isinstance(detail, str) else detail[0]}"[:300]
        return TestResult(i, False, _lcb_code(res.status, False), res.status, reason, res.wall_s,
                          expected=case.output[:200], got=res.stdout[:200])
    if mode == "stdin":
        ok, reason = lcb.compare_stdout(res.stdout, case.output, float_tol=tol, strict=strict)
        got = res.stdout[:200]
    elif not res.has_return_value:
        return TestResult(i, False, lcb.RUNTIME_ERROR, "runtime_error",
                          "runtime_error: no return value", res.wall_s, case.output[:200], "")
    else:
        ok, reason = lcb.compare_functional(res.return_value, case.output, float_tol=tol, strict=strict)
        got = json.dumps(res.return_value)[:200]
    return TestResult(i, ok, _lcb_code("ok", ok), res.status, reason, res.wall_s, case.output[:200], got)
