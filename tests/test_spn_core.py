"""spn core: level-order arrays, validation errors, upward and derivative passes, reduction."""
from __future__ import annotations

import numpy as np
import pytest

from spn import reference
from spn.generate import random_spn
from spn.network import SPNError, build
from spn.passes import derivatives, log_value
from spn.reduction import reduce

# Two variables: a mixture of two fully factorised components; X0's indicator leaves are shared.
TWO = [("leaf", 0, 0), ("leaf", 0, 1), ("leaf", 1, 0), ("leaf", 1, 1),
       ("sum", [0, 1], [0.3, 0.7]), ("sum", [2, 3], [0.6, 0.4]),
       ("sum", [0, 1], [0.9, 0.1]), ("sum", [2, 3], [0.2, 0.8]),
       ("product", [4, 5]), ("product", [6, 7]), ("sum", [8, 9], [0.5, 0.5])]


def test_values_match_hand_computation():
    spn = build(2, TWO)
    got = np.exp(log_value(spn, [[0, 0], [1, -1], [-1, -1]]))
    p00 = 0.5 * 0.3 * 0.6 + 0.5 * 0.9 * 0.2
    p1_ = 0.5 * 0.7 + 0.5 * 0.1
    assert np.allclose(got, [p00, p1_, 1.0])


def test_level_order_puts_leaves_first_and_root_last():
    spn = build(2, TWO)
    assert (spn.kind[:spn.n_leaves] == 0).all()
    assert (np.diff(spn.level) >= 0).all()
    assert (spn.level[spn.child] < spn.level[spn.parent]).all()
    assert spn.level[spn.root] == spn.level.max() and (spn.level == spn.level.max()).sum() == 1


@pytest.mark.parametrize("seed", range(4))
def test_passes_match_the_per_node_reference(seed):
    spn = random_spn(7, 150, seed=seed)
    rows = np.random.default_rng(seed).integers(-1, 2, (6, 7))
    assert np.allclose(np.exp(log_value(spn, rows)), [reference.value(spn, r) for r in rows])
    _, grads = derivatives(spn, rows)
    for b, row in enumerate(rows):
        assert np.allclose(np.exp(grads[:, :, b]), reference.indicator_derivatives(spn, row))


def test_derivatives_through_zero_valued_product_children():
    # X0 = 0 makes leaf "X0=1" zero; the product over (X0=1, X1) then has one zero child and
    # the derivative towards that child must still be the other child's value (not nan).
    nodes = [("leaf", 0, 0), ("leaf", 0, 1), ("leaf", 1, 0), ("leaf", 1, 1),
             ("sum", [2, 3], [0.25, 0.75]), ("product", [1, 4]), ("product", [0, 4]),
             ("sum", [5, 6], [0.4, 0.6])]
    spn = build(2, nodes)
    value, grads = derivatives(spn, [[0, 1]])
    assert np.isfinite(grads[~np.isneginf(grads)]).all() and not np.isnan(grads).any()
    assert np.allclose(np.exp(grads[:, :, 0]), reference.indicator_derivatives(spn, [0, 1]))
    # A joint table: at x = (0, 0) the product [X0=1][X1=1] has two zero children.
    table = [("leaf", 0, 0), ("leaf", 0, 1), ("leaf", 1, 0), ("leaf", 1, 1),
             ("product", [0, 2]), ("product", [0, 3]), ("product", [1, 2]), ("product", [1, 3]),
             ("sum", [4, 5, 6, 7], [0.1, 0.2, 0.3, 0.4])]
    _, grads = derivatives(build(2, table), [[0, 0]])
    assert np.allclose(np.exp(grads[:, :, 0]), [[0.1, 0.3], [0.1, 0.2]])


def test_duplicate_leaves_are_combined():
    nodes = [("leaf", 0, 0), ("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0, 1, 2], [1.0, 2.0, 3.0])]
    _, grads = derivatives(build(1, nodes), [[-1]])
    assert np.allclose(np.exp(grads[0, :, 0]), [3.0, 3.0])


def test_all_ones_is_one_for_normalised_weights_and_dag_sharing_is_present():
    spn = random_spn(20, 2000, seed=5, share=0.5)
    assert np.isclose(np.exp(log_value(spn, -np.ones(20, int)))[0], 1.0)
    assert (np.bincount(spn.child, minlength=spn.n_nodes)[spn.n_leaves:] > 1).any()


def test_generator_hits_the_target_size_and_is_seeded():
    a, b = random_spn(50, 4000, seed=9), random_spn(50, 4000, seed=9)
    assert abs(a.n_edges - 4000) <= 0.25 * 4000
    assert np.array_equal(a.child, b.child) and np.array_equal(a.log_weight, b.log_weight)
    assert not np.array_equal(a.child, random_spn(50, 4000, seed=10).child)


@pytest.mark.parametrize("nodes, message", [
    ([("leaf", 0, 0), ("leaf", 0, 1), ("product", [0, 1])], "not decomposable"),
    ([("leaf", 0, 0), ("leaf", 1, 0), ("sum", [0, 1], [1, 1])], "not complete"),
    ([("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0, 1], [1, 0])], "weight 0"),
    ([("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0, 1], [1, float("nan")])], "weight nan"),
    ([("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0, 1], [1])], "2 children but 1 weights"),
    ([("leaf", 0, 2)], "not 0 or 1"),
    ([("leaf", 5, 0)], "not in 0..1"),
    ([("leaf", 0, 0), ("sum", [1], [1])], "not an earlier node"),
    ([("leaf", 0, 0), ("leaf", 0, 1), ("sum", [0], [1])], "node 1 has no parent"),
    ([("leaf", 0, 0), ("product", [])], "at least one child"),
    ([("leaf", 0, 0), ("sum", [0, 0], [1, 1])], "listed twice"),
    ([("max", [0])], "unknown kind"),
])
def test_invalid_spns_say_what_is_wrong(nodes, message):
    with pytest.raises(SPNError, match=message):
        build(2, nodes)


def test_bad_assignments_are_rejected():
    spn = build(2, TWO)
    with pytest.raises(SPNError, match="shape"):
        log_value(spn, [[0, 1, 0]])
    with pytest.raises(SPNError, match="0, 1 or -1"):
        log_value(spn, [[0, 2]])


@pytest.mark.parametrize("seed", range(6))
def test_reduction_preserves_values(seed):
    rng = np.random.default_rng(seed)
    spn = random_spn(9, 300, seed=seed)
    perm = rng.permutation(9)
    query, hidden = perm[:3], perm[6:]
    evidence = {int(v): int(rng.integers(2)) for v in perm[3:6]}
    reduced = reduce(spn, query, evidence)
    assert reduced.spn.n_nodes <= spn.n_nodes + 1
    assert set(reduced.spn.scope_vars.tolist()) == set(query.tolist())
    full = np.full((8, 9), -1)
    full[:, query] = (np.arange(8)[:, None] >> np.arange(3)) & 1
    for v, x in evidence.items():
        full[:, v] = x
    only_q = np.full((8, 9), -1)
    only_q[:, query] = full[:, query]
    assert (full[:, hidden] == -1).all()
    assert np.allclose(reduced.log_value(only_q), log_value(spn, full))


def test_reduction_without_query_is_a_constant():
    spn = build(2, TWO)
    reduced = reduce(spn, [], {0: 1})
    assert reduced.spn is None and np.isclose(np.exp(reduced.log_constant), 0.5 * 0.7 + 0.5 * 0.1)


@pytest.mark.parametrize("query, evidence, message", [
    ([0], {0: 1}, "both a query and an evidence"),
    ([7], {}, "not in 0..1"),
    ([0], {1: 3}, "not 0 or 1"),
    ([0, 0], {}, "listed twice"),
])
def test_bad_queries_are_rejected(query, evidence, message):
    with pytest.raises(SPNError, match=message):
        reduce(build(2, TWO), query, evidence)


def test_node_derivatives_match_the_per_node_backprop():
    from spn.passes import leaf_log_values, node_derivatives, upward

    spn = random_spn(8, 250, seed=12)
    row = np.array([0, -1, 1, -1, 0, 0, -1, 1])
    _, expected = reference.node_derivatives(spn, row)
    up = upward(spn, leaf_log_values(spn, row[None, :]))
    assert np.allclose(np.exp(node_derivatives(spn, up)[:, 0]), expected)
