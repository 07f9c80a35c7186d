"""sandbox.run / sandbox.run_tests behaviour on the real default backend (bwrap)."""
from __future__ import annotations

import json
import shutil
import textwrap
import threading
from pathlib import Path

import pytest

import sandbox
from evaluators.code import judge, reference
from sandbox.backends import resolve_backend
from sandbox.pool import WorkerPool

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap not installed: run scripts/install_sandbox_deps.sh")


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool("bwrap", size=2)
    yield p
    p.close()


def test_stdin_stdout_and_binary_buffers(pool):
    code = textwrap.dedent("""
        import sys
        data = sys.stdin.buffer.read()
        sys.stdout.buffer.write(data[::-1])
        sys.stdout.buffer.flush()
        print()
        print('err', file=sys.stderr)
        """)
    res = sandbox.run(code, stdin="abc", backend=pool)
    assert (res.status, res.exit_code, res.stdout, res.stderr) == ("ok", 0, "cba\n", "err\n")
    assert res.backend == "bwrap" and res.wall_s > 0 and res.max_rss_mb > 0


def test_open_zero_reads_stdin(pool):
    res = sandbox.run("print(sum(map(int, open(0).read().split())))", stdin="1 2\n3\n", backend=pool)
    assert res.stdout == "6\n"


def test_exit_codes_and_runtime_errors(pool):
    assert sandbox.run("import sys; sys.exit(3)", backend=pool).exit_code == 3
    assert sandbox.run("exit(0)", backend=pool).status == "ok"
    res = sandbox.run("raise ValueError('boom')", backend=pool)
    assert res.status == "runtime_error" and "ValueError: boom" in res.stderr
    assert "worker" not in res.stderr  # the traceback shows only the program's frames


def test_lcb_prelude_names_and_big_ints(pool):
    res = sandbox.run("print(len(str(10 ** 5000)), gcd(12, 18), deque([1]).pop())", backend=pool)
    assert res.stdout == "5001 6 1\n"  # set_int_max_str_digits raised; LCB's imports present


def test_files_land_in_work_dir(pool):
    res = sandbox.run("print(open('data/in.txt').read())", files={"data/in.txt": "hello"}, backend=pool)
    assert res.stdout == "hello\n"


def test_stderr_is_capped(pool):
    res = sandbox.run("import sys\nsys.stderr.write('e' * 1000000)", backend=pool)
    assert res.status == "ok" and len(res.stderr) == sandbox.Limits().stderr_cap


@pytest.mark.parametrize("kwargs, error", [
    ({"language": "cobol"}, ValueError),
    ({"stdin": 5}, TypeError),
    ({"timeout_s": -1}, ValueError),
    ({"timeout_s": float("nan")}, ValueError),
    ({"memory_mb": 1}, ValueError),
    ({"files": {"../x": "y"}}, ValueError),
    ({"files": {"/etc/x": "y"}}, ValueError),
    ({"files": ["x"]}, TypeError),
])
def test_bad_input_is_refused_clearly(pool, kwargs, error):
    with pytest.raises(error):
        sandbox.run("print(1)", backend=pool, **kwargs)


def test_code_must_be_text(pool):
    with pytest.raises(TypeError):
        sandbox.run(b"print(1)", backend=pool)


def test_unknown_and_unsafe_backends():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        resolve_backend("chroot")
    assert resolve_backend("process") == "process"  # only when named explicitly


def test_process_backend_runs_when_chosen():
    p = WorkerPool("process", size=1)
    try:
        res = sandbox.run("import os; print(os.getuid() != 0)", backend=p)
        assert (res.status, res.backend) == ("ok", "process")
        assert res.stdout == "True\n"  # even unsafe, it never runs programs as root
        res = sandbox.run("while True: pass", timeout_s=0.5, backend=p)
        assert res.status == "timeout"
    finally:
        p.close()


def test_run_tests_stdin_codes(pool):
    tests = [{"input": f"{i} {i}\n", "output": f"{2 * i}\n"} for i in range(6)]
    good = "a, b = map(int, input().split())\nprint(a + b)"
    rep = judge.run_tests(good, tests, backend=pool)
    assert rep.passed and rep.n_passed == 6 and rep.lcb_results == [True] * 6
    wrong = "a, b = map(int, input().split())\nprint(a + b + (a == 3))"
    rep = judge.run_tests(wrong, tests, backend=pool)
    assert not rep.passed and rep.lcb_results == [True, True, True, judge.WRONG_ANSWER]
    crash = "a, b = map(int, input().split())\nprint(a + b if a != 2 else 1 // 0)"
    assert judge.run_tests(crash, tests, backend=pool).lcb_results == [True, True, judge.RUNTIME_ERROR]
    slow = "import time\na, b = map(int, input().split())\nif a == 1: time.sleep(60)\nprint(a + b)"
    rep = judge.run_tests(slow, tests, per_test_timeout_s=1, backend=pool)
    assert rep.lcb_results == [True, judge.TIME_LIMIT] and rep.tests[-1].status == "timeout"


def test_run_tests_keeps_going_when_asked(pool):
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(4)]
    rep = judge.run_tests("x = int(input())\nprint(x if x != 1 else -1)", tests,
                            stop_on_first_failure=False, backend=pool)
    assert [t.passed for t in rep.tests] == [True, False, True, True]
    assert rep.lcb_results == [True, judge.WRONG_ANSWER]  # the prefix LCB itself reports


def test_state_does_not_leak_between_tests(pool):
    code = "import sys\nseen = globals().setdefault('seen', [])\nseen.append(1)\nprint(len(seen))"
    tests = [{"input": "", "output": "1\n"}] * 3
    assert judge.run_tests(code, tests, backend=pool).passed
    assert judge.run_tests(code, tests, backend=pool, process_per_test=True).passed


def test_functional_mode(pool):
    code = textwrap.dedent("""
        class Solution:
            def twoSum(self, nums: List[int], target: int) -> List[int]:
                seen = {}
                for i, x in enumerate(nums):
                    if target - x in seen:
                        return (seen[target - x], i)
                    seen[x] = i
        """)
    tests = [{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]"},
             {"input": "[3, 2, 4]\n6", "output": "[1, 2]"}]
    for per_test in (False, True):
        rep = judge.run_tests(code, tests, mode="functional", func_name="twoSum", backend=pool,
                                process_per_test=per_test)
        assert rep.passed, rep
    missing = judge.run_tests(code, tests, mode="functional", func_name="threeSum", backend=pool)
    assert missing.lcb_results == [judge.RUNTIME_ERROR]


def test_functional_nested_tuple_is_not_a_list_as_in_lcb(pool):
    code = "class Solution:\n    def f(self, x):\n        return [(x, x)]"
    rep = judge.run_tests(code, [{"input": "1", "output": "[[1, 1]]"}], mode="functional",
                            func_name="f", backend=pool)
    assert rep.lcb_results == [judge.WRONG_ANSWER]


def test_functional_float_tolerance(pool):
    code = "class Solution:\n    def f(self, x):\n        return x / 3"
    tests = [{"input": "1", "output": "0.33333"}]
    assert not judge.run_tests(code, tests, mode="functional", func_name="f", backend=pool,
                                 float_tol=1e-6).passed
    assert judge.run_tests(code, tests, mode="functional", func_name="f", backend=pool,
                             float_tol=1e-4).passed


@pytest.mark.parametrize("kwargs", [
    {"mode": "interactive"}, {"mode": "functional"}, {"mode": "functional", "func_name": "a b"}])
def test_run_tests_rejects_bad_modes(pool, kwargs):
    with pytest.raises(ValueError):
        judge.run_tests("print(1)", [{"input": "", "output": "1"}], backend=pool, **kwargs)


def test_run_tests_rejects_bad_tests(pool):
    for tests in ([], [{"input": "1"}], [("1", 2)], ["x"]):
        with pytest.raises(ValueError):
            judge.run_tests("print(1)", tests, backend=pool)


def test_global_timeout_marks_every_test(pool):
    tests = [{"input": "", "output": ""}] * 3
    rep = judge.run_tests("import time\ntime.sleep(0.4)", tests, global_timeout_s=0.5, backend=pool)
    assert not rep.passed and rep.lcb_results == [judge.GLOBAL_TIMEOUT] * 3


def test_group_mode_attack_then_pool_serves(pool):
    # Attacks inside a test group: output flood, daemon, endless loop; pool keeps working.
    tests = [{"input": "1\n", "output": "1\n"}] * 2
    flood = "import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * (1 << 20))"
    assert judge.run_tests(flood, tests, backend=pool).tests[0].status in ("output_limit", "runtime_error")
    daemon = "import os\nif os.fork() == 0:\n    os.setsid()\n    import time; time.sleep(300)\nprint(1)"
    assert judge.run_tests(daemon, tests, backend=pool).passed
    rep = judge.run_tests("while True: pass", tests, per_test_timeout_s=0.5, backend=pool)
    assert rep.lcb_results == [judge.TIME_LIMIT]
    res = sandbox.run("import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))", backend=pool)
    assert res.stdout == "2\n"


def test_pool_serves_threads_concurrently(pool):
    out, errors = {}, []

    def work(i):
        try:
            out[i] = sandbox.run(f"print({i} * {i})", backend=pool).stdout
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and out == {i: f"{i * i}\n" for i in range(12)}


def test_real_lcb_problems_from_shared_data(pool):
    path = SHARED / "livecodebench_v5_2408_2501_publictests.jsonl"
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path}")
    rows = {r["question_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    solutions = {
        "abc365_a": "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)",
        "abc365_b": "n = int(input())\na = list(map(int, input().split()))\n"
                    "print(sorted(range(n), key=lambda i: -a[i])[1] + 1)",
    }
    for qid, code in solutions.items():
        cases, mode, func = reference.parse_reference(rows[qid])
        rep = judge.run_tests(code, cases, mode=mode, func_name=func, backend=pool)
        assert rep.passed, (qid, rep)
        wrong = judge.run_tests("print(0)", cases, mode=mode, func_name=func, backend=pool)
        assert wrong.lcb_results == [judge.WRONG_ANSWER]


def test_forged_result_frames_gain_nothing(pool):
    # Group mode runs tests in the program's own process, so it can write to the result pipe.
    # Frames out of order are ignored; a frame for the current test is just its own output.
    code = textwrap.dedent(r'''
        import os, json, struct
        def frame(h, blobs=()):
            raw = json.dumps(dict(h, blobs=[len(b) for b in blobs])).encode()
            return struct.pack(">I", len(raw)) + raw + b"".join(blobs)
        for fd in range(3, 20):
            try:
                for i in range(1, 5):
                    os.write(fd, frame({"ev": "done", "i": i, "status": "ok", "exit_code": 0,
                                        "wall_s": 0, "cpu_s": 0, "max_rss_mb": 0}, [b"forged\n", b""]))
                    os.write(fd, frame({"ev": "start", "i": i + 7}))
            except OSError:
                pass
        print(int(input()) * 2)
        ''')
    tests = [{"input": f"{i}\n", "output": f"{2 * i}\n"} for i in range(5)]
    rep = judge.run_tests(code, tests, backend=pool)
    assert not rep.passed
    assert [t.index for t in rep.tests] == list(range(len(rep.tests)))
    assert rep.lcb_results[-1] in (judge.WRONG_ANSWER, judge.RUNTIME_ERROR)


def test_result_pipe_flood_is_contained(pool):
    code = textwrap.dedent('''
        import os
        junk = b"\\xff" * (1 << 20)
        for fd in range(3, 12):
            try:
                for _ in range(200):
                    os.write(fd, junk)
            except OSError:
                pass
        print(1)
        ''')
    rep = judge.run_tests(code, [{"input": "", "output": "1"}] * 3, backend=pool)
    assert not rep.passed and rep.lcb_results == [judge.RUNTIME_ERROR]
    assert judge.run_tests("print(1)", [{"input": "", "output": "1"}] * 3, backend=pool).passed
