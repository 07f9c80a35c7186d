"""Runner data: shipped math sets, GPQA from a user CSV, LCB loading and its restricted unpickler,
the synthetic generator and prompt overrides."""
from __future__ import annotations

import base64
import csv
import json
import pickle
import zlib
from pathlib import Path

import pytest

from evaluators import get_verifier
from evaluators.runner import datasets, synthetic
from evaluators.runner import lcb_dataset as lcb

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"
LCB_FILE = SHARED / "livecodebench_v5_2408_2501_publictests.jsonl"


def lcb_encode(obj) -> str:
    """LCB's private-test encoding: base64(zlib(pickle(json text)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(obj)))).decode()


@pytest.mark.parametrize("name,count", [("aime24", 30), ("aime25", 30), ("math500", 500)])
def test_shipped_math_sets(name, count):
    ds = datasets.load_suite(name)
    assert len(ds.problems) == count and ds.verifier == "math"
    assert ds.hash == datasets.load_suite(name).hash  # stable
    assert "\\boxed{}" in ds.problems[0].prompt
    if SHARED.is_dir():  # the shipped copy is byte-identical to the shared one
        assert (datasets.DATA_DIR / datasets.SHIPPED[name]).read_bytes() == \
            (SHARED / datasets.SHIPPED[name]).read_bytes()


def test_limit_and_template_change_the_hash(tmp_path):
    full = datasets.load_suite("aime24")
    part = datasets.load_suite("aime24", limit=3)
    assert len(part.problems) == 3 and part.hash != full.hash
    tpl = tmp_path / "m.txt"
    tpl.write_text("Solve: {problem}\nAnswer in \\boxed{{}}.")
    other = datasets.load_suite("aime24", limit=3, overrides={"math": tpl.read_text()})
    assert other.problems[0].prompt.startswith("Solve: ") and other.hash != part.hash
    tpl.write_text("{question}")
    from evaluators.runner.prompts import load_overrides
    with pytest.raises(ValueError, match="uses field"):
        datasets.load_suite("aime24", overrides=load_overrides([f"math={tpl}"]))
    with pytest.raises(ValueError, match="NAME=FILE"):
        load_overrides(["nosuch=x"])
    with pytest.raises(ValueError, match="unknown suite"):
        datasets.load_suite("aime2023")


def test_gpqa_from_user_csv(tmp_path, monkeypatch):
    path = tmp_path / "gpqa_diamond.csv"
    cols = ["Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
            "Incorrect Answer 3"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(6):
            w.writerow([f"rec{i}", f"Fake question {i}?", f"right{i}", f"wrong{i}a", f"wrong{i}b", f"wrong{i}c"])
    monkeypatch.delenv("RING_GPQA_CSV", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # without a CSV the hub is next: never contact it here
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(ValueError, match="--gpqa-csv"):
        datasets.load_suite("gpqa_diamond", source="local")
    with pytest.raises(ValueError, match="--gpqa-csv"):  # the hub's error names the local option too
        datasets.load_suite("gpqa_diamond")
    ds = datasets.load_suite("gpqa_diamond", gpqa_csv=str(path), seed=1)
    assert [p.id for p in ds.problems] == [f"rec{i}" for i in range(6)]
    for i, p in enumerate(ds.problems):
        # the correct choice sits under the reference letter
        assert f"{p.reference}) right{i}" in p.prompt
        assert get_verifier("gpqa").grade(f"Answer: {p.reference}", p.reference).correct
    assert len({p.reference for p in ds.problems}) > 1  # shuffled
    assert datasets.load_suite("gpqa_diamond", gpqa_csv=str(path), seed=2).hash != ds.hash
    monkeypatch.setenv("RING_GPQA_CSV", str(path))
    assert datasets.load_suite("gpqa_diamond", seed=1).hash == ds.hash


def test_lcb_private_tests_are_decoded(tmp_path):
    private = [{"input": "3\n", "output": "6\n", "testtype": "stdin"}]
    rows = [
        {"question_id": "p1", "question_content": "double it", "contest_date": "2024-08-10T00:00:00",
         "starter_code": "", "public_test_cases": json.dumps([{"input": "1\n", "output": "2\n",
                                                               "testtype": "stdin"}]),
         "private_test_cases": lcb_encode(private), "metadata": "{}"},
        {"question_id": "p2", "question_content": "late", "contest_date": "2025-02-01T00:00:00",
         "starter_code": "class Solution:\n    def f(self, x):\n        ", "public_test_cases": "[]",
         "private_test_cases": lcb_encode([{"input": "1", "output": "1", "testtype": "functional"}]),
         "metadata": json.dumps({"func_name": "f"})},
    ]
    path = tmp_path / "lcb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = lcb.load_jsonl(path)
    assert got[0]["tests"] == [{"input": "1\n", "output": "2\n", "testtype": "stdin"}] + private
    assert got[1]["func_name"] == "f"
    ds = datasets.load_suite("livecodebench", lcb_jsonl=str(path), since="2024-08", until="2025-01")
    assert [p.id for p in ds.problems] == ["p1"]  # p2 is in February
    assert ds.problems[0].meta["n_private"] == 1
    assert "Starter code" not in ds.problems[0].prompt
    ds2 = datasets.load_suite("livecodebench", lcb_jsonl=str(path), since="2025-02-01")
    assert [p.id for p in ds2.problems] == ["p2"] and "Starter code" in ds2.problems[0].prompt
    with pytest.raises(ValueError, match="YYYY-MM"):
        lcb.parse_bound("Aug 2024", upper=False)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_lcb_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Evil(marker))
    assert b"system" in blob
    with pytest.raises(lcb.UnsafePickle, match="refusing to load global"):
        lcb.restricted_loads(blob)
    raw = base64.b64encode(zlib.compress(blob)).decode()
    with pytest.raises(lcb.UnsafePickle):
        lcb.decode_tests(raw)
    assert not marker.exists()
    # plain data goes through; a set or bytes (not str/list/dict) is refused
    assert lcb.restricted_loads(pickle.dumps(["a", {"b": 1}])) == ["a", {"b": 1}]
    for bad in ({1, 2}, b"bytes"):
        with pytest.raises(lcb.UnsafePickle, match="only str/list/dict"):
            lcb.restricted_loads(pickle.dumps(bad))
    with pytest.raises(ValueError, match="neither JSON"):
        lcb.decode_tests("not base64 at all!!")


@pytest.mark.skipif(not LCB_FILE.is_file(), reason="shared LCB data not present")
def test_lcb_real_file_window():
    ds = datasets.load_suite("livecodebench", lcb_jsonl=str(LCB_FILE), since="2024-08", until="2025-01")
    assert len(ds.problems) == 279
    sept = datasets.load_suite("livecodebench", lcb_jsonl=str(LCB_FILE), since="2024-09", until="2024-09")
    assert 0 < len(sept.problems) < 279
    assert all(p.meta["contest_date"].startswith("2024-09") for p in sept.problems)


def test_synthetic_suite():
    a = synthetic.generate(12, difficulty=3, seed=5, target=42)
    assert a == synthetic.generate(12, difficulty=3, seed=5, target=42)
    assert a != synthetic.generate(12, difficulty=3, seed=6, target=42)
    assert [p["answer"] == "42" for p in a][::2] == [True] * 6
    for p in a:  # the stated answer is the value of the expression
        expr = p["problem"].removeprefix("Compute ").removesuffix(".")
        assert str(eval(expr)) == p["answer"]  # noqa: S307
    ds = datasets.load_suite("synthetic:n=4:kinds=code:difficulty=2")
    assert ds.verifier == "code" and all(len(p.reference["tests"]) == 4 for p in ds.problems)
    with pytest.raises(ValueError, match="unknown synthetic option"):
        datasets.load_suite("synthetic:bogus=1")
    with pytest.raises(ValueError, match="difficulty"):
        synthetic.generate(3, difficulty=9)
