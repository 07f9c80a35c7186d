"""`ring eval` end to end against the real tiny-model `ring serve` fixtures: stored samples, exact
metrics on the scripted model, resume after kill -9, new runs on changed settings, lm-eval path."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from evaluators.runner.datasets import load_suite
from evaluators.runner.run import EvalConfig, EvalError, run_eval
from tests.conftest import ring_bin

pytestmark = pytest.mark.vllm
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"
LCB_FILE = SHARED / "livecodebench_v5_2408_2501_publictests.jsonl"


def db_rows(path: Path, sql: str, *args):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def config(server, db: Path, suites, **kw) -> EvalConfig:
    base = dict(endpoint=server.v1, model=server.model, suites=suites, k=2, concurrency=4, max_tokens=24,
                api_key=server.api_key, db_url=f"sqlite:///{db}", progress=False, max_retries=2,
                backoff_base_s=0.1)
    base.update(kw)
    return EvalConfig(**base)


def test_scripted_model_exact_metrics_and_resume(scripted_server, tmp_path):
    db = tmp_path / "r.db"
    suite = "synthetic:n=5:target=42"
    answers = [p.reference for p in load_suite(suite).problems]
    expected = sum(a == "42" for a in answers) / len(answers)
    assert 0 < expected < 1
    (run,) = run_eval(config(scripted_server, db, [suite]))
    m = run.metrics
    assert run.status == "done" and run.new == 10 and m["samples"] == 10
    assert m["avg@2"] == pytest.approx(expected) and m["pass@2"] == pytest.approx(expected)
    assert m["maj@2"] == pytest.approx(expected) and m["tokens_mean"] > 0
    rows = db_rows(db, "select problem_id, reasoning, answer, extracted, correct from samples")
    assert len(rows) == 10
    for pid, reasoning, answer, extracted, correct in rows:
        assert reasoning == "add" and "\\boxed{42}" in answer and extracted == "42"
        assert bool(correct) == (answers[int(pid.rsplit("-", 1)[1])] == "42")
    stored = db_rows(db, "select status, metrics from runs")
    assert stored[0][0] == "done" and '"avg@2"' in stored[0][1]
    # same command again: nothing new generated, same run
    (again,) = run_eval(config(scripted_server, db, [suite]))
    assert again.new == 0 and again.run_id == run.run_id and again.metrics["samples"] == 10
    # a changed sampling parameter is a new run, never mixed into the old one
    (hot,) = run_eval(config(scripted_server, db, [suite], temperature=0.5, k=1))
    assert hot.run_id != run.run_id and hot.new == 5
    assert db_rows(db, "select run_id, count(*) from samples group by run_id order by run_id") == \
        [(run.run_id, 10), (hot.run_id, 5)]


def test_tiny_model_slice_every_suite(tiny_server, tmp_path):
    if not LCB_FILE.is_file():
        pytest.skip("shared LCB data not present")
    db = tmp_path / "r.db"
    gpqa = tmp_path / "gpqa.csv"  # a made-up question in the official column layout
    gpqa.write_text("Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,"
                    "Incorrect Answer 3\nr1,Which is a noble gas?,Neon,Iron,Carbon,Sodium\n")
    suites = ["aime24", "aime25", "math500", "gpqa_diamond", "livecodebench", "synthetic:n=2"]
    runs = run_eval(config(tiny_server, db, suites, limit=1, lcb_jsonl=str(LCB_FILE), since="2024-08",
                           until="2025-01", max_tokens=16, gpqa_csv=str(gpqa)))
    assert [r.dataset.name for r in runs] == ["aime24", "aime25", "math500", "gpqa_diamond",
                                              "livecodebench", "synthetic-arith"]
    for r in runs:
        assert r.status == "done" and r.errors == 0
        assert r.metrics["samples"] == 2 * len(r.dataset.problems)
        assert 0.0 <= r.metrics["avg@2"] <= 1.0
    counts = dict(db_rows(db, "select run_id, count(*) from samples group by run_id"))
    assert counts == {r.run_id: 2 * len(r.dataset.problems) for r in runs}
    reasons = [x for (x,) in db_rows(db, "select reason from samples")]
    assert all(reasons)
    # a wrong key is fatal and clear, not retried forever
    with pytest.raises(EvalError, match="API key"):
        run_eval(config(tiny_server, tmp_path / "bad.db", ["synthetic:n=1"], api_key="wrong"))


def _count(db: Path) -> int:
    try:
        return db_rows(db, "select count(*) from samples")[0][0]
    except sqlite3.OperationalError:  # file or tables not created yet
        return 0


def _start_and_wait(cmd, env, db: Path, at_least: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and _count(db) < at_least:
        time.sleep(0.05)
    assert proc.poll() is None, f"runner ended too early:\n{proc.stdout.read().decode()[-2000:]}"
    return proc


def test_ctrl_c_then_kill_9_then_resume(scripted_server, tmp_path):
    db = tmp_path / "k.db"
    n, k = 50, 2
    cmd = [ring_bin(), "eval", "--endpoint", scripted_server.v1, "--model", scripted_server.model,
           "--suite", f"synthetic:n={n}:target=42", "--k", str(k), "--concurrency", "2",
           "--max-tokens", "24", "--no-progress"]
    env = {**os.environ, "RING_DB_URL": f"sqlite:///{db}", "RING_HOME": str(tmp_path)}
    # Ctrl-C: exits 130, keeps finished samples, marks the run cancelled
    proc = _start_and_wait(cmd, env, db, 4)
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, out[-2000:]
    assert "resume" in out
    after_int = _count(db)
    assert 4 <= after_int < n * k
    assert db_rows(db, "select status from runs") == [("cancelled",)]
    # kill -9: no chance to clean up; committed rows stay
    proc = _start_and_wait(cmd, env, db, after_int + 4)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    before = _count(db)
    assert after_int + 4 <= before < n * k
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = db_rows(db, "select run_id, problem_id, sample_index from samples")
    assert len(rows) == n * k
    assert len(set(rows)) == n * k and len({r[0] for r in rows}) == 1
    assert {(p, i) for _, p, i in rows} == {(f"syn-arith-{j}", i) for j in range(n) for i in range(k)}
    assert db_rows(db, "select status from runs") == [("done",)]


@pytest.mark.slow
def test_lm_eval_harness_results_are_stored(scripted_server, tmp_path):
    pytest.importorskip("lm_eval")
    from evaluators.runner.lm_eval_bridge import LmEvalError, run_lm_eval

    db = tmp_path / "l.db"
    out = run_lm_eval(endpoint=scripted_server.v1, model=scripted_server.model, tasks=["ring_synthetic"],
                      limit=4, max_tokens=24, concurrency=2, db_url=f"sqlite:///{db}")
    answers = [p.reference for p in load_suite("synthetic:n=8:target=42").problems[:4]]
    expected = sum(a == "42" for a in answers) / 4
    info = out["ring_synthetic"]
    assert info["samples"] == 4 and info["metrics"]["exact_match,none"] == pytest.approx(expected)
    rows = db_rows(db, "select problem_id, sample_index, answer, score from samples order by problem_id")
    assert len(rows) == 4 and all("\\boxed{42}" in r[2] for r in rows)
    assert sum(r[3] for r in rows) == pytest.approx(4 * expected)
    assert db_rows(db, "select b.name, b.suite, r.started_at is not null, r.started_at <= r.finished_at "
                       "from runs r join benchmarks b on b.id = r.benchmark_id") == \
        [("lm-eval:ring_synthetic", "math", 1, 1)]
    with pytest.raises(LmEvalError, match="no lm-eval tasks"):
        run_lm_eval(endpoint=scripted_server.v1, model=scripted_server.model, tasks=[" "],
                    db_url=f"sqlite:///{db}")


@pytest.mark.slow
def test_max_tokens_is_capped_at_what_the_server_context_leaves(scripted_server, tmp_path):
    """The default --max-tokens 32768 against a 2048-token server: capped, said once, no errors."""
    db = tmp_path / "c.db"
    env = {**os.environ, "RING_DB_URL": f"sqlite:///{db}"}
    cmd = [ring_bin(), "eval", "--endpoint", scripted_server.v1, "--model", scripted_server.model,
           "--suite", "synthetic:n=3", "--k", "2", "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.count("does not fit") == 1 and "2048" in done.stderr, done.stderr
    assert db_rows(db, "select count(*), sum(reason like 'request rejected%') from samples") == [(6, 0)]
    # under the context, but not beside the prompt: the server's refusal is met by one resend
    (run,) = run_eval(config(scripted_server, db, ["synthetic:n=2"], k=1, max_tokens=2047))
    assert run.status == "done" and run.errors == 0 and run.new == 2


@pytest.mark.slow
def test_lm_eval_cli_runs_our_tasks_against_ring_serve(scripted_server, tmp_path):
    """lm-eval's own CLI, as its users run it, on our task YAMLs with their default max_gen_toks."""
    import json

    lm_eval = Path(ring_bin()).with_name("lm_eval")
    out = tmp_path / "out"
    cmd = [str(lm_eval), "--model", "local-chat-completions", "--model_args",
           f"base_url={scripted_server.v1}/chat/completions,model={scripted_server.model},num_concurrent=2",
           "--apply_chat_template", "--include_path", str(Path(__file__).resolve().parents[1] /
                                                             "evaluators" / "lm_eval_tasks"),
           "--tasks", "ring_synthetic", "--limit", "3", "--output_path", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OPENAI_API_KEY": "none"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = list(out.rglob("results_*.json"))
    metrics = json.loads(result.read_text())["results"]["ring_synthetic"]
    answers = [p.reference for p in load_suite("synthetic:n=8:target=42").problems[:3]]
    assert metrics["exact_match,none"] == pytest.approx(sum(a == "42" for a in answers) / 3)


def test_lm_eval_bridge_names_the_servers_reason(scripted_server, tmp_path):
    pytest.importorskip("lm_eval")
    from evaluators.runner.lm_eval_bridge import LmEvalError, fit_max_tokens, run_lm_eval

    assert fit_max_tokens(32768, 2048) == 1024 and fit_max_tokens(30000, 32768) == 30000
    assert fit_max_tokens(40000, 32768) == 31744 and fit_max_tokens(500, None) == 500
    with pytest.raises(LmEvalError, match="the server said: .*does not exist"):
        run_lm_eval(endpoint=scripted_server.v1, model="no-such-model", tasks=["ring_synthetic"], limit=1,
                    max_tokens=8, db_url=f"sqlite:///{tmp_path / 'x.db'}")


def test_own_jsonl_suite_with_raw_question_prompt(scripted_server, tmp_path):
    """`--suite jsonl:PATH` with a `{problem}` template (how `ring train eval` scores checkpoints)."""
    import json

    path = tmp_path / "mine.jsonl"
    rows = [{"id": f"q{i}", "problem": f"What is {i} + {42 - i}?", "answer": str(42 if i % 2 else 41)}
            for i in range(6)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    template = tmp_path / "raw.txt"
    template.write_text("{problem}")
    db = tmp_path / "r.db"
    (run,) = run_eval(config(scripted_server, db, [f"jsonl:{path}"], k=1, prompt_overrides=[f"math={template}"]))
    assert run.status == "done" and run.dataset.name == "mine"
    assert [p.prompt for p in run.dataset.problems] == [r["problem"] for r in rows]
    assert run.metrics["avg@1"] == pytest.approx(0.5)
    stored = dict(db_rows(db, "select problem_id, correct from samples"))
    assert stored == {f"q{i}": i % 2 for i in range(6)}
    with pytest.raises(EvalError, match="not found"):
        run_eval(config(scripted_server, db, [f"jsonl:{tmp_path / 'missing.jsonl'}"]))
