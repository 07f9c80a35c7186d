"""Checks that make an SPN valid: well-formed nodes, one root, positive weights, and scopes that
are complete (a sum's children share one scope) and decomposable (a product's children have
disjoint scopes). Every failure raises :class:`SPNError` naming the node."""
from __future__ import annotations

import math

import numpy as np

from spn.network import LEAF, PRODUCT, SUM, SPNError

KINDS = {"leaf": LEAF, "product": PRODUCT, "sum": SUM}


def check_structure(n_vars: int, nodes: list[tuple]):
    """Arrays (kind, var, val, parent, child, log_weight) for ``nodes``, or an SPNError."""
    if not isinstance(n_vars, int) or n_vars < 1:
        raise SPNError(f"n_vars must be a positive integer, got {n_vars!r}")
    if not nodes:
        raise SPNError("an SPN needs at least one node")
    kind = np.empty(len(nodes), np.int8)
    var = np.full(len(nodes), -1, np.int64)
    val = np.full(len(nodes), -1, np.int64)
    parents, children, logw = [], [], []
    for i, node in enumerate(nodes):
        name = node[0] if node else None
        if name not in KINDS:
            raise SPNError(f"node {i}: unknown kind {name!r} (leaf, product or sum)")
        kind[i] = KINDS[name]
        if name == "leaf":
            _, v, x = node
            if not (isinstance(v, (int, np.integer)) and 0 <= v < n_vars):
                raise SPNError(f"node {i}: leaf variable {v!r} is not in 0..{n_vars - 1}")
            if x not in (0, 1):
                raise SPNError(f"node {i}: leaf value {x!r} is not 0 or 1 (variables are binary)")
            var[i], val[i] = v, x
            continue
        kids = list(node[1])
        if not kids:
            raise SPNError(f"node {i}: a {name} node needs at least one child")
        for c in kids:
            if not (isinstance(c, (int, np.integer)) and 0 <= c < i):
                raise SPNError(f"node {i}: child {c!r} is not an earlier node (nodes go children first)")
        if len(set(kids)) != len(kids):
            raise SPNError(f"node {i}: a child is listed twice")
        if name == "sum":
            weights = list(node[2])
            if len(weights) != len(kids):
                raise SPNError(f"node {i}: {len(kids)} children but {len(weights)} weights")
            for w in weights:
                if not (isinstance(w, (int, float, np.floating, np.integer)) and math.isfinite(w) and w > 0):
                    raise SPNError(f"node {i}: weight {w!r} is not a finite number > 0")
            logw += [math.log(w) for w in weights]
        else:
            logw += [0.0] * len(kids)
        parents += [i] * len(kids)
        children += kids
    parent, child = np.asarray(parents, np.int64), np.asarray(children, np.int64)
    has_parent = np.zeros(len(nodes), bool)
    has_parent[child] = True
    orphans = np.flatnonzero(~has_parent[:-1])
    if len(orphans):
        raise SPNError(f"node {int(orphans[0])} has no parent: the root must be the last node and "
                       f"the only one without a parent")
    return kind, var, val, parent, child, np.asarray(logw, float)


def check_scopes(n_vars: int, kind, var, parent, child) -> None:
    """Completeness and decomposability, with scopes as Python int bitsets (children first)."""
    n = len(kind)
    order = np.argsort(parent, kind="stable")
    p, c = parent[order], child[order]
    start = np.searchsorted(p, np.arange(n + 1))
    scope = [0] * n
    for i in range(n):
        if kind[i] == LEAF:
            scope[i] = 1 << int(var[i])
            continue
        kids = c[start[i]:start[i + 1]].tolist()
        scopes = [scope[k] for k in kids]
        union = 0
        for s in scopes:
            union |= s
        if kind[i] == SUM and any(s != union for s in scopes):
            raise SPNError(f"node {i}: sum is not complete (its children have different scopes)")
        if kind[i] == PRODUCT and sum(s.bit_count() for s in scopes) != union.bit_count():
            raise SPNError(f"node {i}: product is not decomposable (children share a variable)")
        scope[i] = union
