"""MAP solvers: exact == brute force, approximations never above it, the KBT invariants,
the time limit, and clear errors for bad options."""
from __future__ import annotations

import numpy as np
import pytest

from spn.generate import random_spn
from spn.network import SPNError, build
from spn.passes import log_value
from spn.solvers import METHODS, solve
from spn.solvers.kbest import k_best_pairs, k_way_merge

APPROXIMATE = [m for m in METHODS if m not in ("brute", "exact")]


def random_query(rng, n_vars):
    perm = rng.permutation(n_vars)
    n_q = int(rng.integers(1, n_vars + 1))
    n_e = int(rng.integers(0, n_vars - n_q + 1))
    return perm[:n_q], {int(v): int(rng.integers(2)) for v in perm[n_q:n_q + n_e]}


def cases(count, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(count):
        n_vars = int(rng.integers(3, 13))
        yield random_spn(n_vars, int(rng.integers(20 * n_vars, 60 * n_vars)), seed=i), *random_query(rng, n_vars)


@pytest.mark.parametrize("spn, query, evidence", list(cases(12)))
def test_exact_equals_brute_force_and_bounds_every_approximation(spn, query, evidence):
    brute = solve(spn, query, evidence, "brute")
    exact = solve(spn, query, evidence, "exact")
    assert exact.optimal and np.isclose(exact.log_value, brute.log_value, rtol=0, atol=1e-9)
    for name in APPROXIMATE:
        assert solve(spn, query, evidence, name).log_value <= exact.log_value + 1e-9, name


@pytest.mark.parametrize("spn, query, evidence", list(cases(8, seed=1)))
def test_reported_value_is_the_value_of_the_reported_assignment(spn, query, evidence):
    for name in METHODS:
        result = solve(spn, query, evidence, name)
        row = np.full(spn.n_vars, -1)
        for v, x in {**evidence, **result.assignment}.items():
            row[v] = x
        assert sorted(result.assignment) == sorted(int(v) for v in query)
        assert np.isclose(log_value(spn, row)[0], result.log_value), name


@pytest.mark.parametrize("spn, query, evidence", list(cases(8, seed=2)))
def test_kbt_invariants_and_all_ones_upper_bound(spn, query, evidence):
    best_tree = solve(spn, query, evidence, "best_tree")
    assert np.isclose(solve(spn, query, evidence, "kbt", k=1).log_value, best_tree.log_value)
    assert solve(spn, query, evidence, "kbt", k=20).log_value >= best_tree.log_value - 1e-12
    # S'(all ones) sums over every query assignment, so it bounds the MAP value from above.
    marginal = np.full(spn.n_vars, -1)
    for v, x in evidence.items():
        marginal[v] = x
    assert log_value(spn, marginal)[0] >= solve(spn, query, evidence, "exact").log_value - 1e-12


def test_kbt_finds_more_than_best_tree_somewhere():
    gains = [solve(s, q, e, "kbt", k=10).log_value - solve(s, q, e, "best_tree").log_value
             for s, q, e in cases(12, seed=3)]
    assert max(gains) > 1e-6


def test_heap_merges_return_the_k_largest():
    a, b = [5.0, 3.0, 1.0], [4.0, 0.0]
    assert [v for v, _, _ in k_best_pairs(a, b, 4)] == sorted((x + y for x in a for y in b), reverse=True)[:4]
    merged = k_way_merge([[2.0, 1.0], [3.0, -1.0]], [0.0, -0.5], 3)
    assert [(v, c, r) for v, c, r in merged] == [(2.5, 1, 0), (2.0, 0, 0), (1.0, 0, 1)]


@pytest.fixture(scope="module")
def big():
    """An SPN whose 150-variable queries take far longer than the time limits below."""
    return random_spn(300, 30000, seed=4)


def test_time_limit_returns_best_so_far_not_proven(big):
    spn, query = big, np.arange(0, 300, 2)
    result = solve(spn, query, {}, "exact", time_limit=0.3)
    assert not result.optimal and result.stats["timed_out"]
    assert result.log_value >= solve(spn, query, {}, "best_tree").log_value - 1e-12
    assert result.seconds < 10


def test_staging_does_not_change_the_answer():
    spn = random_spn(11, 500, seed=11)
    query = np.arange(11)
    plain = solve(spn, query, {}, "exact", stage_fraction=1.0)
    staged = solve(spn, query, {}, "exact", stage_fraction=0.2)
    assert staged.stats["stages"] > 0
    assert np.isclose(staged.log_value, plain.log_value)
    assert np.isclose(staged.log_value, solve(spn, query, {}, "brute").log_value)


def test_constant_reduced_network_answers_without_search():
    nodes = [("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0, 1], [0.25, 0.75])]
    result = solve(build(2, nodes), [1], {0: 1}, "exact")
    assert result.optimal and result.assignment == {1: 0} and np.isclose(result.log_value, np.log(0.75))


@pytest.mark.parametrize("method, options, message", [
    ("nope", {}, "unknown MAP method"),
    ("kbt", {"k": 0}, "K must be a positive integer"),
    ("beam", {"width": -1}, "beam width"),
    ("exact", {"time_limit": 0}, "time limit must be > 0"),
    ("exact", {"stage_fraction": 2}, "stage fraction"),
    ("exact", {"seed": "magic"}, "seed must be one of"),
])
def test_bad_options_are_rejected(method, options, message):
    with pytest.raises(SPNError, match=message):
        solve(random_spn(4, 80, seed=0), [0, 1], {}, method, **options)


def test_brute_force_refuses_large_queries():
    with pytest.raises(SPNError, match="at most 20"):
        solve(random_spn(25, 600, seed=0), list(range(21)), {}, "brute")


@pytest.mark.parametrize("seed", ["kbt", "best_tree", "none"])
def test_exact_is_exact_whatever_the_seed(seed):
    spn = random_spn(12, 500, seed=21)
    query, evidence = np.arange(9), {10: 1}
    got = solve(spn, query, evidence, "exact", seed=seed)
    assert got.optimal and np.isclose(got.log_value, solve(spn, query, evidence, "brute").log_value)


def test_timed_out_exact_is_never_below_its_kbt_seed(big):
    spn, query = big, np.arange(0, 300, 2)
    result = solve(spn, query, {}, "exact", time_limit=0.3)
    assert result.log_value >= result.stats["seed_log_value"]
    assert np.isclose(result.stats["seed_log_value"], solve(spn, query, {}, "kbt").log_value)
