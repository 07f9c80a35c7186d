"""Plain per-node passes in linear space: the yardstick for the vectorised ones (tests, benchmark)."""
from __future__ import annotations

import numpy as np

from spn.network import LEAF, PRODUCT, SPN


def value(spn: SPN, x) -> float:
    """S(x) for one assignment (entries 0, 1, or -1 for marginalised), one node at a time."""
    start = spn.children_start
    out = [0.0] * spn.n_nodes
    for n in range(spn.n_nodes):
        if spn.kind[n] == LEAF:
            v = x[spn.leaf_var[n]]
            out[n] = 1.0 if v == -1 or v == spn.leaf_val[n] else 0.0
            continue
        kids = spn.child[start[n]:start[n + 1]]
        if spn.kind[n] == PRODUCT:
            prod = 1.0
            for c in kids:
                prod *= out[c]
            out[n] = prod
        else:
            w = np.exp(spn.log_weight[start[n]:start[n + 1]])
            out[n] = float(sum(wi * out[c] for wi, c in zip(w, kids)))
    return out[spn.root]


def node_derivatives(spn: SPN, x) -> tuple[float, list[float]]:
    """(S(x), dS/dS_n for every node): one upward and one downward sweep, node by node."""
    start = spn.children_start
    up = [0.0] * spn.n_nodes
    for n in range(spn.n_nodes):  # the upward sweep again, keeping every node's value
        kids = spn.child[start[n]:start[n + 1]]
        if spn.kind[n] == LEAF:
            v = x[spn.leaf_var[n]]
            up[n] = 1.0 if v == -1 or v == spn.leaf_val[n] else 0.0
        elif spn.kind[n] == PRODUCT:
            up[n] = float(np.prod([up[c] for c in kids]))
        else:
            up[n] = float(sum(w * up[c] for w, c in zip(np.exp(spn.log_weight[start[n]:start[n + 1]]), kids)))
    down = [0.0] * spn.n_nodes
    down[spn.root] = 1.0
    for n in range(spn.n_nodes - 1, -1, -1):
        kids = spn.child[start[n]:start[n + 1]]
        if spn.kind[n] == PRODUCT:
            for c in kids:  # product of the other children, without dividing by a zero
                down[c] += down[n] * float(np.prod([up[o] for o in kids if o != c]))
        elif spn.kind[n] != LEAF:
            for w, c in zip(np.exp(spn.log_weight[start[n]:start[n + 1]]), kids):
                down[c] += down[n] * w
    return up[spn.root], down


def indicator_derivatives(spn: SPN, x) -> np.ndarray:
    """dS/dlambda[var, value] (n_vars, 2) by setting each indicator in turn (slow, exact)."""
    out = np.zeros((spn.n_vars, 2))
    for i in range(spn.n_vars):
        for v in (0, 1):
            y = list(x)
            y[i] = v
            out[i, v] = value(spn, y)  # multilinear: the derivative is S with X_i = v
    return out
