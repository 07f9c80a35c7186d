"""Runner orchestration against a loopback HTTP peer (no vLLM): storage, resume, exact metrics,
rejected requests, fatal auth errors, bad options and the summary table."""
from __future__ import annotations

import sqlite3

import pytest

from evaluators.runner.datasets import load_suite
from evaluators.runner.run import EvalConfig, EvalError, render_table, run_eval
from tests.test_runner_client import FlakyPeer

ANSWER = "<think>six times seven</think>The answer is \\boxed{42}"


@pytest.fixture
def peer():
    p = FlakyPeer([], content=ANSWER)
    yield p
    p.close()


def cfg(peer, tmp_path, suites=("synthetic:n=4:target=42",), **kw) -> EvalConfig:
    base = dict(endpoint=peer.url, model="peer", suites=list(suites), k=3, concurrency=4, max_tokens=8,
                db_url=f"sqlite:///{tmp_path / 'r.db'}", progress=False, max_retries=3, backoff_base_s=0.01)
    base.update(kw)
    return EvalConfig(**base)


def rows(tmp_path, sql):
    con = sqlite3.connect(tmp_path / "r.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_stores_every_sample_and_resumes(peer, tmp_path):
    answers = [p.reference for p in load_suite("synthetic:n=4:target=42").problems]
    (r,) = run_eval(cfg(peer, tmp_path))
    assert len(peer.calls) == 12 and r.new == 12 and r.status == "done"
    assert r.metrics["avg@3"] == pytest.approx(sum(a == "42" for a in answers) / 4)
    body = peer.calls[0]
    assert body["temperature"] == 1.0 and body["top_p"] == 0.95 and body["max_tokens"] == 8
    got = rows(tmp_path, "select reasoning, answer, extracted, tokens from samples")
    assert len(got) == 12 and set(got) == {("six times seven", "The answer is \\boxed{42}", "42", 5)}
    (again,) = run_eval(cfg(peer, tmp_path))
    assert len(peer.calls) == 12 and again.new == 0 and again.run_id == r.run_id
    table = render_table(cfg(peer, tmp_path), [again])
    assert table.row_count == 1


def test_seed_is_per_sample_and_part_of_the_run(peer, tmp_path):
    (a,) = run_eval(cfg(peer, tmp_path, k=2, seed=7))
    seeds = sorted(c["seed"] for c in peer.calls)
    assert seeds == sorted([7 * 1_000_003, 7 * 1_000_003 + 1] * 4)
    (b,) = run_eval(cfg(peer, tmp_path, k=2))
    assert b.run_id != a.run_id and b.new == 8


def test_transient_errors_retry_and_rejections_are_recorded(peer, tmp_path):
    peer.script = [503, 429, 400]
    (r,) = run_eval(cfg(peer, tmp_path, suites=["synthetic:n=2"], k=2, concurrency=1))
    assert r.errors == 1 and r.metrics["samples"] == 4
    reasons = [x for (x,) in rows(tmp_path, "select reason from samples")]
    assert sum(x.startswith("request rejected: HTTP 400") for x in reasons) == 1


def test_bad_key_is_fatal_and_stops_early(peer, tmp_path):
    peer.script = [401] * 1000
    with pytest.raises(EvalError, match="API key"):
        run_eval(cfg(peer, tmp_path, suites=["math500"], k=4, concurrency=2))
    assert len(peer.calls) <= 4  # not 2000 requests
    assert rows(tmp_path, "select status from runs") == [("failed",)]


@pytest.mark.parametrize("changes,match", [
    ({"k": 0}, "--k"), ({"suites": ["nope"]}, "unknown suite"), ({"top_p": 0.0}, "top_p"),
    ({"endpoint": "localhost:8000"}, "http"), ({"suites": ["gpqa_diamond"], "gpqa_csv": "/nonexistent.csv"},
                                               "not found"),
    ({"suites": ["livecodebench"], "lcb_jsonl": None, "source": "local"}, "--lcb-jsonl"),
    ({"suites": ["livecodebench"], "lcb_jsonl": None}, "ring datasets pull livecodebench:release_latest"),
    ({"suites": ["aime24"], "source": "cloud"}, "source must be"),
])
def test_bad_options_are_clear_errors(peer, tmp_path, monkeypatch, changes, match):
    monkeypatch.delenv("RING_LCB_JSONL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub path reads an empty cache, never the network
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    with pytest.raises(EvalError, match=match):
        run_eval(cfg(peer, tmp_path, **changes))
    assert peer.calls == []


def test_cli_prints_table_and_reports_bad_input(peer, tmp_path):
    import os
    import subprocess

    from tests.conftest import ring_bin

    env = {**os.environ, "RING_DB_URL": f"sqlite:///{tmp_path / 'r.db'}", "RING_HOME": str(tmp_path)}
    base = [ring_bin(), "eval", "--endpoint", peer.url, "--model", "peer", "--k", "2", "--no-progress"]
    ok = subprocess.run(base + ["--suite", "synthetic:n=2:target=42"], env=env, capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "synthetic-arith" in ok.stdout and "avg@2" in ok.stdout and "done" in ok.stdout
    assert "50.0" in ok.stdout  # one of the two problems has answer 42
    bad = subprocess.run(base + ["--suite", "aime2023"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "unknown suite" in bad.stderr and "Traceback" not in bad.stderr
    assert len(peer.calls) == 4
