"""Sandbox throughput vs LiveCodeBench's reference harness, on the same problems and tests.

The peer is a faithful re-implementation of LCB's approach (lcb_runner/evaluation): a process
pool over problems; per problem a multiprocessing.Manager plus a multiprocessing.Process that
runs every test in-process with exec, signal.alarm timeouts, a patched stdin and a StringIO
stdout, under "reliability_guard" only (no isolation). Ours runs the same programs through
``sandbox.run_tests`` with isolation on (bwrap by default) and a warm pool.

Programs are generated per problem: a lookup table from each test input to its expected output,
so both harnesses execute every test and the figures measure harness cost, not solution speed.
Every fourth program is wrong on one test, so early stopping and verdict agreement are
exercised too. Data: ../shared/data/benchmarks/ (LCB public tests, LeetCodeDataset, APPS).

    python benchmarks/sandbox_throughput.py [--backend bwrap|docker|process] [--limit N]
"""
from __future__ import annotations

import argparse
import ast
import builtins
import faulthandler
import io
import json
import os
import random
import signal
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from unittest.mock import mock_open, patch

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402
from evaluators.code import judge, outputs, reference  # noqa: E402
from sandbox.pool import WorkerPool  # noqa: E402
from sandbox.worker import PRELUDE  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "benchmarks"
FILES = {"lcb_public": "livecodebench_v5_2408_2501_publictests.jsonl",
         "leetcodedataset": "leetcodedataset_v0.3.1_test_functional.jsonl",
         "apps_stdin": "apps_selected150_stdin.jsonl"}
IMPORT_STRING = PRELUDE + "sys.setrecursionlimit(50000)\n"


# ------------------------------------------------------------------ problems and programs
def load_problems(limit: int | None) -> list[dict]:
    problems = []
    for source, name in FILES.items():
        path = DATA / name
        if not path.exists():
            print(f"[skip] {path} missing")
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows[:limit]:
            cases, mode, func = reference.parse_reference(row)
            problems.append({"id": f"{source}/{row['question_id']}", "cases": cases, "mode": mode,
                             "func_name": func})
    if not problems:
        problems = generated_problems()
    return problems


def generated_problems(n: int = 60) -> list[dict]:
    rng = random.Random(0)
    out = []
    for p in range(n):
        cases = []
        for _ in range(rng.choice([3, 10, 50])):
            a = [rng.randint(-99, 99) for _ in range(rng.randint(1, 20))]
            cases.append(reference.Case(f"{len(a)}\n{' '.join(map(str, a))}\n", f"{sum(a)}\n"))
        out.append({"id": f"generated/{p}", "cases": cases, "mode": "stdin", "func_name": None})
    return out


def make_program(problem: dict, wrong_at: int | None) -> str:
    table = {}
    for i, case in enumerate(problem["cases"]):
        if problem["mode"] == "functional":
            key = json.dumps([json.loads(line) for line in case.input.split("\n")])
            value = case.output if i != wrong_at else json.dumps(["wrong"])
        else:
            key, value = case.input, case.output if i != wrong_at else "wrong\n"
        table[key] = value
    if problem["mode"] == "functional":
        return (f"TABLE = {table!r}\n\nclass Solution:\n"
                f"    def {problem['func_name']}(self, *args):\n"
                "        return json.loads(TABLE[json.dumps(list(args))])\n")
    return f"import sys\nTABLE = {table!r}\nsys.stdout.write(TABLE[sys.stdin.read()])\n"


# ------------------------------------------------------------------ LCB reference harness (peer)
class TimeoutException(Exception):
    pass


def _on_alarm(signum, frame):
    raise TimeoutException


class Capturing(list):
    def __enter__(self):
        self._saved = sys.stdout
        sys.stdout = self._buf = io.StringIO()
        self._buf.close = lambda: None
        return self

    def __exit__(self, *exc):
        self.append(self._buf.getvalue())
        sys.stdout = self._saved


def _clean_if_name(code: str) -> str:
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and "__name__" in ast.unparse(last.test):
            tree.body = tree.body[:-1] + last.body
            return ast.unparse(tree)
    except Exception:
        pass
    return code


def _make_function(code: str) -> str:
    tree = ast.parse(code)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    func = ast.FunctionDef(name="wrapped_function", args=ast.arguments(
        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=rest or [ast.Pass()], decorator_list=[], lineno=-1)
    return IMPORT_STRING + "\n" + ast.unparse(imports) + "\n" + ast.unparse(func)


def _call_with_stdin(method, inputs: str):
    inputs = "\n".join(inputs) if isinstance(inputs, list) else inputs
    it = iter(inputs.split("\n"))

    @patch("builtins.open", mock_open(read_data=inputs))
    @patch("sys.stdin", io.StringIO(inputs))
    @patch("sys.stdin.readline", lambda *a: next(it))
    @patch("sys.stdin.readlines", lambda *a: inputs.split("\n"))
    @patch("sys.stdin.read", lambda *a: inputs)
    def call():
        try:
            return method()
        except SystemExit:
            pass
    return call()


def _reliability_guard() -> None:
    # LCB disables destructive calls in the child; it is not isolation.
    faulthandler.disable()
    builtins.exit = builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    import shutil
    import subprocess
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None


def lcb_run_test(cases: list[tuple[str, str]], mode: str, func_name: str | None, code: str,
                 timeout: int) -> list:
    signal.signal(signal.SIGALRM, _on_alarm)
    _reliability_guard()
    results: list = []
    if mode == "functional":
        src = IMPORT_STRING + "\n\n" + code
    else:
        src = _make_function(_clean_if_name(code))
    signal.alarm(timeout)
    try:
        module = type(sys)("tmp_sol")
        exec(src, module.__dict__)
        target = module.Solution() if "class Solution" in code else module
        method = getattr(target, func_name if mode == "functional" else "wrapped_function")
    except Exception:
        signal.alarm(0)
        return [-4]
    signal.alarm(0)
    for inp, out in cases:
        signal.alarm(timeout)
        faulthandler.enable()
        try:
            if mode == "functional":
                args = [json.loads(line) for line in inp.split("\n")]
                pred = method(*args)
                signal.alarm(0)
                if isinstance(pred, tuple):
                    pred = list(pred)
                ok = pred == json.loads(out)
                results.append(True if ok else -2)
                if not ok:
                    return results
                continue
            with Capturing() as captured:
                _call_with_stdin(method, inp)
                signal.alarm(0)
            ok, _ = outputs.compare_stdout(captured[0], out, strict=True)
            results.append(True if ok else -2)
            if not ok:
                return results
        except Exception as exc:
            signal.alarm(0)
            results.append(-3 if isinstance(exc, TimeoutException) else -4)
            return results
        finally:
            signal.alarm(0)
            faulthandler.disable()
    return results


def _lcb_child(cases, mode, func_name, code, timeout, result):
    result.append(lcb_run_test(cases, mode, func_name, code, timeout))


def lcb_check_correctness(args) -> tuple[list, float]:
    import multiprocessing

    cases, mode, func_name, code, timeout = args
    t0 = time.perf_counter()
    manager = multiprocessing.Manager()
    result = manager.list()
    proc = multiprocessing.Process(target=_lcb_child, args=(cases, mode, func_name, code, timeout, result))
    proc.start()
    proc.join(timeout=(timeout + 1) * len(cases) + 5)
    if proc.is_alive():
        proc.kill()
    out = list(result[0]) if result else [-1] * len(cases)
    manager.shutdown()
    return out, time.perf_counter() - t0


# ------------------------------------------------------------------ runs
def run_lcb(jobs: list[tuple], workers: int, timeout: int) -> tuple[list, float, list[float]]:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex:
        args = [([(c.input, c.output) for c in j["cases"]], j["mode"], j["func_name"], j["code"],
                 timeout) for j in jobs]
        outs = list(tqdm(ex.map(lcb_check_correctness, args), total=len(jobs), desc="LCB harness"))
    return [o[0] for o in outs], time.perf_counter() - t0, [o[1] for o in outs]


def run_ours(jobs: list[dict], pool: WorkerPool, timeout: int) -> tuple[list, float, list[float], list]:
    def one(job):
        t = time.perf_counter()
        rep = judge.run_tests(job["code"], job["cases"], mode=job["mode"], func_name=job["func_name"],
                                per_test_timeout_s=timeout, backend=pool)
        return rep, time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(pool.size) as ex:
        outs = list(tqdm(ex.map(one, jobs), total=len(jobs), desc=f"sandbox ({pool.backend})"))
    return [o[0].lcb_results for o in outs], time.perf_counter() - t0, [o[1] for o in outs], [o[0] for o in outs]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default=None, help="bwrap (default), docker or process")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=int, default=None, help="problems per data file")
    ap.add_argument("--timeout", type=int, default=6)
    ap.add_argument("--single-runs", type=int, default=200, help="sandbox.run calls for latency")
    args = ap.parse_args()

    problems = load_problems(args.limit)
    rng = random.Random(1)
    jobs = []
    for k, p in enumerate(problems):
        wrong = rng.randrange(len(p["cases"])) if k % 4 == 3 else None
        jobs.append(dict(p, code=make_program(p, wrong)))
    n_tests = sum(len(j["cases"]) for j in jobs)
    print(f"{len(jobs)} problems, {n_tests} tests, {args.workers} workers")

    pool = WorkerPool(args.backend, size=args.workers).warm()
    try:
        lcb_res, lcb_wall, lcb_times = run_lcb(jobs, args.workers, args.timeout)
        our_res, our_wall, our_times, reports = run_ours(jobs, pool, args.timeout)
        # per-run latency of sandbox.run (fresh process per run) on a trivial program
        lat = []
        for i in tqdm(range(args.single_runs), desc="sandbox.run latency"):
            t = time.perf_counter()
            r = sandbox.run("print(int(input()) * 2)", stdin=f"{i}\n", backend=pool)
            lat.append(time.perf_counter() - t)
            assert r.stdout == f"{2 * i}\n", r
    finally:
        pool.close()

    lcb_tests = sum(len(r) for r in lcb_res)
    our_tests = sum(len(rep.tests) for rep in reports)
    agree = sum(a == b for a, b in zip(lcb_res, our_res))
    lcb_per_test = [t / max(1, len(r)) for t, r in zip(lcb_times, lcb_res)]
    our_per_test = [t / max(1, len(rep.tests)) for t, rep in zip(our_times, reports)]
    our_overhead = [(t - sum(x.wall_s for x in rep.tests)) / max(1, len(rep.tests))
                    for t, rep in zip(our_times, reports)]
    lcb_rate, our_rate = lcb_tests / lcb_wall, our_tests / our_wall
    print()
    print(f"LCB reference harness (no isolation): {lcb_tests} tests in {lcb_wall:.2f}s = {lcb_rate:.0f} tests/s")
    print(f"ring-lab sandbox ({pool.backend}, isolated): {our_tests} tests in {our_wall:.2f}s = {our_rate:.0f} tests/s")
    print(f"throughput ratio sandbox/LCB: {our_rate / lcb_rate:.2f}x  (goal >= 2x)")
    print(f"programs per second: LCB {len(jobs) / lcb_wall:.1f}, sandbox {len(jobs) / our_wall:.1f}")
    print(f"verdict agreement with LCB (per-test code lists): {agree}/{len(jobs)}")
    print(f"per-test host time, p50/p99 ms: LCB {1e3 * statistics.median(lcb_per_test):.2f}/"
          f"{1e3 * pct(lcb_per_test, 0.99):.2f}, sandbox {1e3 * statistics.median(our_per_test):.2f}/"
          f"{1e3 * pct(our_per_test, 0.99):.2f}")
    print(f"sandbox per-test overhead (host time minus program time), p50/p99 ms: "
          f"{1e3 * statistics.median(our_overhead):.2f}/{1e3 * pct(our_overhead, 0.99):.2f}  (goal p50 <= 20)")
    print(f"sandbox.run single-program latency (fresh process), p50/p99 ms: "
          f"{1e3 * statistics.median(lat):.2f}/{1e3 * pct(lat, 0.99):.2f}")
    if agree != len(jobs):
        for j, a, b in zip(jobs, lcb_res, our_res):
            if a != b:
                print(f"  disagreement {j['id']}: LCB {a[:8]} ours {b[:8]}")


if __name__ == "__main__":
    main()
