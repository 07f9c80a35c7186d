"""Benchmarks from the Hugging Face hub, end to end against a hand-built hub cache (no network):
name resolution, cache lookup, revision pinning and recording, offline and gated errors,
`ring datasets list|pull` and `ring eval --source hub`."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import time

import pytest

from evaluators import get_verifier
from evaluators.runner import datasets, hub
from evaluators.runner.run import EvalConfig, EvalError, run_eval
from tests import hub_cache
from tests.conftest import ring_bin
from tests.test_runner_client import FlakyPeer

DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: a stray request fails at once, locally


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Offline, no token, hub cache at tmp/hf/hub (empty until a test builds it)."""
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    for var in ("HF_TOKEN", "HF_HUB_CACHE", "RING_GPQA_CSV", "RING_LCB_JSONL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", DEAD_ENDPOINT)
    monkeypatch.setenv("RING_HOME", str(tmp_path / "ring"))
    return cache


def cli(*args, timeout=120, **extra):
    proc = subprocess.run([ring_bin(), *args], env={**os.environ, **extra}, capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_names_resolve_to_repos_files_and_revisions():
    lcb = hub.resolve("livecodebench:release_v6")
    assert lcb.repo_id == "livecodebench/code_generation_lite" and lcb.revision == "main"
    assert lcb.files == ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")
    assert hub.resolve("livecodebench").files == lcb.files  # release_latest
    assert hub.resolve("livecodebench:v5").files == ("test5.jsonl",)
    assert hub.resolve("livecodebench:v1_v3").files == ("test.jsonl", "test2.jsonl", "test3.jsonl")
    gpqa = hub.resolve("gpqa_diamond")
    assert gpqa.repo_id == "Idavidrein/gpqa" and gpqa.gated and gpqa.files == ("gpqa_diamond.csv",)
    assert hub.resolve("aime24@0123abc").revision == "0123abc"
    assert hub.resolve("math500").repo_id == "HuggingFaceH4/MATH-500"
    for bad, match in (("livecodebench:release_x", "unknown LiveCodeBench release"),
                       ("livecodebench:v3_v2", "unknown LiveCodeBench release"),
                       ("aime24:extra", "not a hub suite"), ("synthetic", "not a hub suite"),
                       ("aime24@", "empty revision")):
        with pytest.raises(hub.HubError, match=match):
            hub.resolve(bad)


def test_cache_dir_follows_hf_variables_then_ring_home(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("RING_HOME", str(tmp_path / "ring"))
    assert hub.cache_dir() == tmp_path / "ring" / "hf-hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub.cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hub.cache_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("suite,repo,count,verifier", [
    ("aime24", "HuggingFaceH4/aime_2024", 3, "math"),
    ("aime25", "math-ai/aime25", 3, "math"),
    ("math500", "HuggingFaceH4/MATH-500", 5, "math"),
    ("gpqa_diamond", "Idavidrein/gpqa", 4, "gpqa"),
    ("livecodebench:release_v2", "livecodebench/code_generation_lite", 4, "code"),
])
def test_each_suite_loads_from_the_cache_offline(env, suite, repo, count, verifier):
    commits = hub_cache.build(env)
    ds = datasets.load_suite(suite, source="hub")
    assert len(ds.problems) == count and ds.verifier == verifier
    assert ds.revision == commits[repo] and commits[repo][:12] in ds.version
    assert ds.source == f"hf://datasets/{repo}@{commits[repo]}"
    assert ds.hash == datasets.load_suite(suite, source="hub").hash  # stable
    part = datasets.load_suite(suite, source="hub", limit=2)
    assert len(part.problems) == 2 and part.revision == ds.revision and part.hash != ds.hash
    first = ds.problems[0]
    if verifier == "math":
        assert "\\boxed{}" in first.prompt
        assert get_verifier("math").grade(f"\\boxed{{{first.reference}}}", first.reference).correct
    elif verifier == "gpqa":
        assert [p.id for p in ds.problems] == ["rec00", "rec01", "rec02", "rec03"]
        assert f"{first.reference}) electron0" in first.prompt
    else:
        assert [p.id for p in ds.problems] == ["1001", "1002", "2001", "2002"]
        assert first.meta["n_private"] == 2  # decoded by the restricted unpickler
        assert first.reference["tests"][1:] == [{"input": "5\n", "output": "10\n", "testtype": "stdin"},
                                                {"input": "0\n", "output": "0\n", "testtype": "stdin"}]
        assert ds.problems[1].reference["func_name"] == "double"


def test_shipped_copies_stay_the_default_and_hub_files_win_only_when_asked(env):
    hub_cache.build(env)
    assert datasets.load_suite("aime24").revision == "" and len(datasets.load_suite("aime24").problems) == 30
    assert datasets.load_suite("aime24", source="hub").revision != ""
    # GPQA and LCB: the hub when no local file is given (auto), the file when it is
    assert datasets.load_suite("gpqa_diamond").revision != ""
    assert datasets.load_suite("livecodebench:release_v1").name == "livecodebench:release_v1"
    with pytest.raises(ValueError, match="--gpqa-csv"):
        datasets.load_suite("gpqa_diamond", source="local")
    with pytest.raises(ValueError, match="contradict"):
        datasets.load_suite("gpqa_diamond", source="hub", gpqa_csv="/x.csv")
    with pytest.raises(ValueError, match="release tag"):
        datasets.load_suite("livecodebench:release_v1", source="local")
    with pytest.raises(ValueError, match="source must be"):
        datasets.load_suite("aime24", source="web")


def test_since_until_filter_lcb_contest_dates(env):
    hub_cache.build(env)
    ds = datasets.load_suite("livecodebench:release_v2", since="2023-06", until="2024-01")
    assert [p.id for p in ds.problems] == ["1002", "2001"]
    assert "2023-06..2024-01" in ds.version
    assert ds.hash != datasets.load_suite("livecodebench:release_v2").hash
    only_v2 = datasets.load_suite("livecodebench:v2", until="2024-01-31")
    assert [p.id for p in only_v2.problems] == ["2001"]
    with pytest.raises(ValueError, match="no problems"):
        datasets.load_suite("livecodebench:release_v1", since="2025-01")


def test_revision_pin_and_a_new_upstream_commit(env):
    old = hub_cache.add_snapshot(env, "HuggingFaceH4/aime_2024", hub_cache.aime24_files(("42", "7", "42")))
    new = hub_cache.add_snapshot(env, "HuggingFaceH4/aime_2024", hub_cache.aime24_files(("42", "8", "42")))
    assert old != new
    assert datasets.load_suite("aime24", source="hub").revision == new  # refs/main moved
    pinned = datasets.load_suite(f"aime24@{old}", source="hub")
    assert pinned.revision == old and pinned.problems[1].reference == "7"
    with pytest.raises(hub.HubError, match="not in the local cache"):
        datasets.load_suite("aime24@v0.0-no-such-tag", source="hub")


def test_offline_without_cache_names_the_dataset_and_how_to_get_it(env):
    with pytest.raises(hub.HubError) as info:
        datasets.load_suite("livecodebench:release_v6")
    msg = str(info.value)
    assert "livecodebench:release_v6" in msg and "livecodebench/code_generation_lite" in msg
    assert "HF_HUB_OFFLINE=1" in msg and "ring datasets pull livecodebench:release_v6" in msg
    assert "--lcb-jsonl" in msg
    with pytest.raises(hub.HubError, match="HF_TOKEN"):  # gated: the hint says a token is needed
        datasets.load_suite("gpqa_diamond")


def test_incomplete_snapshot_is_an_error_not_a_short_benchmark(env):
    hub_cache.build(env, ["livecodebench/code_generation_lite"])
    with pytest.raises(hub.HubError, match="lacks some of"):
        datasets.load_suite("livecodebench:release_v6")  # the fixture has test.jsonl, test2.jsonl only
    repo = env / "datasets--livecodebench--code_generation_lite"
    for blob in (repo / "blobs").iterdir():  # an interrupted download: blobs gone, links dangling
        blob.unlink()
    with pytest.raises(hub.HubError, match="ring datasets pull"):
        datasets.load_suite("livecodebench:release_v1")


def test_gated_without_token_says_so(env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # "online", but the check happens before any request
    with pytest.raises(hub.HubError) as info:
        datasets.load_suite("gpqa_diamond", source="hub")
    msg = str(info.value)
    assert "gated" in msg and "no Hugging Face token" in msg and "HF_TOKEN" in msg
    assert "https://huggingface.co/datasets/Idavidrein/gpqa" in msg and "--gpqa-csv" in msg
    hub_cache.build(env, ["Idavidrein/gpqa"])  # once cached (pulled with a token), no token is needed
    assert len(datasets.load_suite("gpqa_diamond", source="hub").problems) == 4


def test_evil_pickle_in_a_hub_file_is_refused(env, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import base64
    import pickle
    import zlib

    row = hub_cache.lcb_row("666", "2024-03-01")
    row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    hub_cache.add_snapshot(env, "livecodebench/code_generation_lite", {"test.jsonl": hub_cache.jsonl([row])})
    with pytest.raises(ValueError, match="refusing to load global"):
        datasets.load_suite("livecodebench:release_v1")
    assert not marker.exists()


def _bench_rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("select b.name, b.version, b.revision, b.source, b.dataset_hash, r.id "
                           "from runs r join benchmarks b on b.id = r.benchmark_id order by r.id").fetchall()
    finally:
        con.close()


def test_eval_records_the_revision_and_a_new_upstream_revision_is_a_new_run(env, tmp_path):
    repo = "HuggingFaceH4/aime_2024"
    old = hub_cache.add_snapshot(env, repo, hub_cache.aime24_files(("42", "7", "42")))
    peer = FlakyPeer([], content="<think>t</think>\\boxed{42}")
    try:
        cfg = dict(endpoint=peer.url, model="peer", suites=["aime24"], source="hub", k=2, concurrency=2,
                   max_tokens=8, db_url=f"sqlite:///{tmp_path / 'r.db'}", progress=False)
        (a,) = run_eval(EvalConfig(**cfg))
        assert a.status == "done" and a.metrics["avg@2"] == pytest.approx(2 / 3)
        (again,) = run_eval(EvalConfig(**cfg))  # same revision: the same run, resumed (nothing new)
        assert again.run_id == a.run_id and again.new == 0
        new = hub_cache.add_snapshot(env, repo, hub_cache.aime24_files(("42", "42", "42")))
        (b,) = run_eval(EvalConfig(**cfg))
        assert b.run_id != a.run_id and b.new == 6 and b.metrics["avg@2"] == 1.0
        calls = len(peer.calls)
    finally:
        peer.close()
    assert calls == 12
    rows = _bench_rows(tmp_path / "r.db")
    assert [(r[0], r[2], r[3]) for r in rows] == [("aime24", old, f"hf://datasets/{repo}@{old}"),
                                                  ("aime24", new, f"hf://datasets/{repo}@{new}")]
    assert rows[0][1] != rows[1][1] and rows[0][4] != rows[1][4]  # version and content hash differ


def test_eval_offline_without_cache_is_one_clear_error(env, tmp_path):
    with pytest.raises(EvalError, match="ring datasets pull math500"):
        run_eval(EvalConfig(endpoint=DEAD_ENDPOINT + "/v1", model="m", suites=["math500"], source="hub",
                            db_url=f"sqlite:///{tmp_path / 'r.db'}", progress=False))
    proc = cli("eval", "--endpoint", DEAD_ENDPOINT + "/v1", "--model", "m", "--suite", "gpqa_diamond",
               "--no-progress")
    assert proc.returncode == 1
    assert "gpqa_diamond (Idavidrein/gpqa@main)" in proc.stderr and "HF_TOKEN" in proc.stderr


def test_ring_datasets_list_and_pull(env):
    commits = hub_cache.build(env, ["HuggingFaceH4/MATH-500", "livecodebench/code_generation_lite"])
    listed = cli("datasets", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 2}
    assert commits["HuggingFaceH4/MATH-500"] in lines["math500"]
    assert "Idavidrein/gpqa" in lines["gpqa_diamond"] and "yes" in lines["gpqa_diamond"]
    assert lines["aime24"].rstrip(" │").endswith("-")  # not cached
    assert "livecodebench:release_latest" in lines  # lacks test3..6 in the fixture: shown uncached

    ok = cli("datasets", "pull", "math500", "livecodebench:release_v2", "--since", "2024-01")
    assert ok.returncode == 0, ok.stderr
    assert f"math500: 5 problems, revision {commits['HuggingFaceH4/MATH-500']}" in ok.stdout
    assert "livecodebench:release_v2: 2 problems" in ok.stdout

    bad = cli("datasets", "pull", "aime25", "math500")
    assert bad.returncode == 1 and "math500: 5 problems" in bad.stdout
    assert "aime25 (math-ai/aime25@main) is not in the local cache" in bad.stderr
    assert "ring datasets pull aime25" in bad.stderr
    assert cli("datasets", "pull", "livecodebench:nope").returncode == 1


@pytest.fixture
def fake_hub():
    from tests.fake_hub import FakeHub

    h = FakeHub()
    yield h
    h.close()


def _layout(repo_dir):
    """Relative paths under a cached repo, with what each symlink points at."""
    return sorted((p.relative_to(repo_dir).as_posix(), os.readlink(p) if p.is_symlink() else None)
                  for p in repo_dir.rglob("*") if p.is_file() or p.is_symlink())


def test_pull_downloads_through_the_hub_client_into_the_same_layout(env, tmp_path, fake_hub):
    online = {"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    first = fake_hub.add("HuggingFaceH4/aime_2024", hub_cache.aime24_files())
    fake_hub.add("livecodebench/code_generation_lite", hub_cache.lcb_files())
    fake_hub.add("Idavidrein/gpqa", hub_cache.gpqa_files(), tokens=("hf_granted",))
    ok = cli("datasets", "pull", "aime24", "livecodebench:release_v2", **online)
    assert ok.returncode == 0, ok.stderr
    assert f"aime24: 3 problems, revision {first}" in ok.stdout
    # only the files the suite needs were fetched (not README.md or the loading script)
    gets = [c for c in fake_hub.calls if c.startswith("GET /datasets/")]
    assert sorted(g.rsplit("/", 1)[1] for g in gets) == ["test.jsonl", "test2.jsonl",
                                                          "train-00000-of-00001.parquet"]
    # what the real client wrote is what tests/hub_cache.py builds by hand
    by_hand = tmp_path / "by_hand"
    parquet = {k: v for k, v in hub_cache.aime24_files().items() if k.endswith(".parquet")}
    hub_cache.add_snapshot(by_hand, "HuggingFaceH4/aime_2024", parquet, commit=first)
    name = "datasets--HuggingFaceH4--aime_2024"
    assert _layout(env / name) == _layout(by_hand / name)

    # offline afterwards: the cache is enough, and the same revision is recorded
    assert datasets.load_suite("aime24", source="hub").revision == first

    # gated: a token without access, then one with
    denied = cli("datasets", "pull", "gpqa_diamond", HF_TOKEN="hf_other", **online)
    assert denied.returncode == 1 and "gated and this token has no access" in denied.stderr
    granted = cli("datasets", "pull", "gpqa_diamond", HF_TOKEN="hf_granted", **online)
    assert granted.returncode == 0 and "gpqa_diamond: 4 problems" in granted.stdout, granted.stderr

    # upstream moves on: online picks the new commit, a pin keeps the old one
    second = fake_hub.add("HuggingFaceH4/aime_2024", hub_cache.aime24_files(("1", "2", "3")))
    moved = cli("datasets", "pull", "aime24", **online)
    assert f"revision {second}" in moved.stdout, moved.stderr
    assert datasets.load_suite("aime24", source="hub").revision == second
    assert datasets.load_suite(f"aime24@{first}", source="hub").revision == first
    missing = cli("datasets", "pull", "aime25", **online)
    assert missing.returncode == 1 and "not found on the hub" in missing.stderr


def test_unreachable_hub_fails_fast_with_the_same_advice(env):
    t0 = time.monotonic()
    proc = cli("datasets", "pull", "math500", HF_HUB_OFFLINE="0", HF_ENDPOINT=DEAD_ENDPOINT, timeout=90)
    assert proc.returncode == 1 and time.monotonic() - t0 < 60
    assert "math500 (HuggingFaceH4/MATH-500@main) is not in the local cache" in proc.stderr
    assert "the hub cannot be reached" in proc.stderr and "ring datasets pull math500" in proc.stderr
