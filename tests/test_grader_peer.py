"""Math-Verify 0.9.0 as a peer on the issue-16 groups of our labelled math corpus."""
from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from evaluators.math import grade_batch
from evaluators.math.extract import reference_answer

math_verify = pytest.importorskip("math_verify")

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "math_cases.jsonl").read_text().splitlines()]
GROUPED = [c for c in CASES if "group" in c]


def _peer(response: str, reference: str) -> bool:
    gold = reference if reference_answer(reference)[1] != "bare" else f"${reference}$"
    try:
        return bool(math_verify.verify(math_verify.parse(gold), math_verify.parse(response)))
    except Exception:  # the peer may raise on odd input; count it as not accepted
        return False


@pytest.fixture(scope="module")
def both():
    ours = [v.correct for v in grade_batch([(c["response"], c["reference"]) for c in GROUPED])]
    peer = [_peer(c["response"], c["reference"]) for c in GROUPED]
    return ours, peer


def test_peer_is_the_current_release():
    assert version("math-verify") == "0.9.0"


def test_no_false_positive_in_the_groups(both):
    ours, _ = both
    assert [c["rule"] for c, o in zip(GROUPED, ours) if o and not c["expected"]] == []


@pytest.mark.parametrize("group", sorted({c["group"] for c in GROUPED}))
def test_at_least_as_many_right_as_the_peer(group, both):
    ours, peer = both
    idx = [i for i, c in enumerate(GROUPED) if c["group"] == group]
    right_ours = sum(ours[i] == GROUPED[i]["expected"] for i in idx)
    right_peer = sum(peer[i] == GROUPED[i]["expected"] for i in idx)
    assert right_ours >= right_peer and right_ours == len(idx)
