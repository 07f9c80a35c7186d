"""Runner metrics: unbiased pass@k against brute force, maj@k, standard error and the 95% CI."""
from __future__ import annotations

import itertools
import math

import pytest

from evaluators.runner.scoring import ci95, majority_correct, pass_at_k, standard_error, summarize


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of all k-subsets of n samples (c correct) containing at least one correct."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_1_is_accuracy_and_large_n_is_stable():
    assert pass_at_k(16, 5, 1) == pytest.approx(5 / 16)
    # closed form with exact binomials at a size where naive floats would overflow
    n, c, k = 1024, 3, 64
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("args", [(0, 0, 1), (4, 5, 1), (4, 1, 0), (4, 1, 5), (4, -1, 1)])
def test_pass_at_k_rejects_bad_input(args):
    with pytest.raises(ValueError):
        pass_at_k(*args)


def test_majority_vote():
    assert majority_correct([("1", False), ("2", True), ("2", True)])
    assert not majority_correct([("1", False), ("1", False), ("2", True)])
    assert not majority_correct([(None, False), (None, False)])
    # tie: the answer seen first wins, and unanswered samples do not vote
    assert majority_correct([(None, False), ("7", True), ("8", False), (None, False)])
    assert not majority_correct([("8", False), ("7", True)])


def test_standard_error_and_ci():
    values = [0.0, 1.0] * 50
    se = standard_error(values)
    assert se == pytest.approx(math.sqrt(0.25 * 100 / 99) / 10, rel=1e-9)
    lo, hi = ci95(values)
    assert lo < 0.5 < hi
    assert 0.3 < lo and hi < 0.7
    assert ci95(values) == (lo, hi)  # deterministic
    assert standard_error([1.0]) == 0.0
    assert ci95([1.0, 1.0]) == (1.0, 1.0)


def test_summarize_known_values():
    rows = []
    # problem a: 2/4 correct, b: 0/4, c: 4/4
    for pid, correct in (("a", [1, 0, 1, 0]), ("b", [0, 0, 0, 0]), ("c", [1, 1, 1, 1])):
        for i, ok in enumerate(correct):
            rows.append({"problem_id": pid, "correct": bool(ok), "extracted": "x" if ok else f"w{i}",
                         "tokens": 10 * (i + 1), "latency_s": 0.5})
    m = summarize(rows, k=4)
    assert m["problems"] == 3 and m["samples"] == 12 and m["complete"]
    assert m["avg@4"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["pass@1"] == pytest.approx(m["avg@4"])
    assert m["pass@4"] == pytest.approx(2 / 3)
    assert m["pass@2"] == pytest.approx((brute_pass_at_k(4, 2, 2) + 0 + 1) / 3)
    assert m["maj@4"] == pytest.approx(2 / 3)  # a: "x" twice beats singletons
    assert m["tokens_total"] == 3 * (10 + 20 + 30 + 40)
    assert m["per_problem"]["b"]["correct"] == 0
    assert summarize([], k=4) == {"problems": 0, "samples": 0}
