"""Vectorised passes in log space over a batch of assignments.

An assignment row holds 0/1 per variable, or -1 for a marginalised variable (both of its
indicators are 1). Every pass walks the level blocks of :class:`spn.network.SPN`, so the Python
loop runs once per block, never once per node. Values are arrays (n_nodes, batch).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spn.network import PRODUCT, SPN, SPNError

NEG_INF = -np.inf


def _is_zero(log_values: np.ndarray) -> np.ndarray:
    """log value -inf, i.e. value 0 (a plain comparison: np.isneginf is slow on small arrays)."""
    return log_values == NEG_INF


def as_batch(spn: SPN, assignments) -> np.ndarray:
    """``assignments`` as an int array (batch, n_vars) of -1/0/1, or an SPNError."""
    x = np.asarray(assignments)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != spn.n_vars:
        raise SPNError(f"assignments must have shape (batch, {spn.n_vars}), got {np.shape(assignments)}")
    if (x.dtype.kind not in "iub" and not np.isin(x, (-1, 0, 1)).all()) or ((x < -1) | (x > 1)).any():
        raise SPNError("assignment values must be 0, 1 or -1 (marginalised)")
    return x.astype(np.int8, copy=False)


def leaf_log_values(spn: SPN, x: np.ndarray) -> np.ndarray:
    """log lambda for every leaf (n_leaves, batch): 0 where the leaf agrees or its variable is free."""
    leaves = slice(0, spn.n_leaves)
    got = x[:, spn.leaf_var[leaves]].T  # (n_leaves, batch)
    on = (got == -1) | (got == spn.leaf_val[leaves][:, None])
    return np.where(on, 0.0, NEG_INF)


@dataclass
class Upward:
    """Node values and, for products, what the derivative pass needs about zero children."""
    values: np.ndarray        # (n_nodes, batch) log S_n
    nonzero_sum: np.ndarray   # (n_nodes, batch) sum of finite child logs (products only)
    zero_count: np.ndarray    # (n_nodes, batch) number of children with value 0 (products only)


def upward(spn: SPN, leaf_logs: np.ndarray, maximise: bool = False, through: int | None = None) -> Upward:
    """Evaluate every node (up to node ``through`` if given); with ``maximise`` sums take the
    max (max-product) instead. Nodes above ``through`` are left unset."""
    batch = leaf_logs.shape[1]
    values = np.empty((spn.n_nodes, batch))
    values[:spn.n_leaves] = leaf_logs
    nonzero_sum = np.zeros((spn.n_nodes, batch))
    zero_count = np.zeros((spn.n_nodes, batch), np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in spn.blocks:
            if through is not None and b.start > through:
                break
            terms = values[spn.child[b.edge_start:b.edge_stop]]
            if b.kind == PRODUCT:
                zero = _is_zero(terms)
                nonzero_sum[b.start:b.stop] = np.add.reduceat(np.where(zero, 0.0, terms), b.offsets, axis=0)
                zero_count[b.start:b.stop] = np.add.reduceat(zero, b.offsets, axis=0)
                values[b.start:b.stop] = np.where(zero_count[b.start:b.stop] > 0, NEG_INF,
                                                  nonzero_sum[b.start:b.stop])
                continue
            terms = terms + spn.log_weight[b.edge_start:b.edge_stop, None]
            top = np.maximum.reduceat(terms, b.offsets, axis=0)
            if maximise:
                values[b.start:b.stop] = top
                continue
            safe = np.where(_is_zero(top), 0.0, top)
            total = np.add.reduceat(np.exp(terms - safe[b.owner]), b.offsets, axis=0)
            values[b.start:b.stop] = safe + np.log(total)
    return Upward(values, nonzero_sum, zero_count)


def log_value(spn: SPN, assignments) -> np.ndarray:
    """log S(x) for each row (batch,)."""
    x = as_batch(spn, assignments)
    return upward(spn, leaf_log_values(spn, x)).values[spn.root]


def node_derivatives(spn: SPN, up: Upward) -> np.ndarray:
    """log dS_root/dS_n for every node (n_nodes, batch), in one top-down pass.

    A product's derivative towards child c is the product of its *other* children. In log space
    that is nonzero_sum - log S_c when no child is zero, nonzero_sum for the only zero child, and
    -inf otherwise, so zero-valued children never produce inf - inf.
    """
    values = up.values
    grad = np.full(values.shape, NEG_INF)
    grad[spn.root] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for step in down_plan(spn):
            par, kid, edges = step.parent, step.child, step.edges
            zeros = up.zero_count[par]
            kid_zero = _is_zero(values[kid])
            others = np.where(zeros == 0, up.nonzero_sum[par] - values[kid],
                              np.where((zeros == 1) & kid_zero, up.nonzero_sum[par], NEG_INF))
            terms = grad[par] + np.where(step.is_product, others, spn.log_weight[edges, None])
            top = np.maximum.reduceat(terms, step.offsets, axis=0)
            safe = np.where(_is_zero(top), 0.0, top)
            total = np.add.reduceat(np.exp(terms - safe[step.owner]), step.offsets, axis=0)
            grad[step.targets] = safe + np.log(total)
    return grad


@dataclass
class DownStep:
    """One level of the downward pass: its nodes' parent edges, grouped by child."""
    targets: np.ndarray
    edges: np.ndarray
    parent: np.ndarray
    child: np.ndarray
    is_product: np.ndarray
    offsets: np.ndarray
    owner: np.ndarray


def down_plan(spn: SPN) -> list[DownStep]:
    """The levels below the root, top first, each with its edges sorted by child (cached)."""
    plan = getattr(spn, "_down_plan", None)
    if plan is not None:
        return plan
    order = spn.child_order
    bounds = np.searchsorted(spn.child[order], np.arange(spn.n_nodes + 1))
    level_start = np.searchsorted(spn.level, np.arange(int(spn.level[spn.root]) + 2))
    plan = []
    for lev in range(int(spn.level[spn.root]) - 1, -1, -1):
        a, b = int(level_start[lev]), int(level_start[lev + 1])
        ea, eb = int(bounds[a]), int(bounds[b])
        if ea == eb:
            continue
        edges = order[ea:eb]
        counts = np.diff(bounds[a:b + 1])
        has = counts > 0  # validated SPNs give every non-root node a parent; reduced ones too
        plan.append(DownStep(np.arange(a, b)[has], edges, spn.parent[edges], spn.child[edges],
                             (spn.kind[spn.parent[edges]] == PRODUCT)[:, None],
                             (bounds[a:b] - ea)[has], np.repeat(np.arange(int(has.sum())), counts[has])))
    spn._down_plan = plan
    return plan


def derivatives(spn: SPN, assignments) -> tuple[np.ndarray, np.ndarray]:
    """(log S(x) (batch,), log dS/dlambda[var, value] (n_vars, 2, batch)).

    Duplicate leaves of one indicator are summed; an indicator no leaf uses gets -inf. By
    multilinearity, for a variable that is free or set in x, dS/dlambda[i, v] = S(x with X_i = v).
    """
    x = as_batch(spn, assignments)
    up = upward(spn, leaf_log_values(spn, x))
    grad = node_derivatives(spn, up)[:spn.n_leaves]
    return up.values[spn.root], combine_leaves(spn, grad)


def combine_leaves(spn: SPN, leaf_grad: np.ndarray) -> np.ndarray:
    """Log-sum the rows of ``leaf_grad`` per indicator: (n_vars, 2, batch)."""
    order, slots, first, owner = _leaf_slots(spn)
    rows = leaf_grad[order]
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.maximum.reduceat(rows, first, axis=0)
        safe = np.where(_is_zero(top), 0.0, top)
        total = safe + np.log(np.add.reduceat(np.exp(rows - safe[owner]), first, axis=0))
    out = np.full((spn.n_vars * 2, leaf_grad.shape[1]), NEG_INF)
    out[slots] = total
    return out.reshape(spn.n_vars, 2, -1)


def _leaf_slots(spn: SPN):
    """Leaves grouped by indicator (var * 2 + value): order, slot ids, group starts, owners (cached)."""
    cached = getattr(spn, "_leaf_slots", None)
    if cached is None:
        slot = spn.leaf_var[:spn.n_leaves] * 2 + spn.leaf_val[:spn.n_leaves]
        order = np.argsort(slot, kind="stable")
        slots, first = np.unique(slot[order], return_index=True)
        owner = np.repeat(np.arange(len(first)), np.diff(np.append(first, len(order))))
        cached = spn._leaf_slots = (order, slots, first, owner)
    return cached
