"""Best Tree (max-product, then decode the argmax induced tree) and Normalised Greedy (decode
the tree that picks, at each sum, the child with the largest normalised weight w_k S_k(1)).
Both re-score the decoded assignment with S'."""
from __future__ import annotations

import numpy as np

from spn.network import PRODUCT, SPN
from spn.passes import upward
from spn.solvers.common import empty_row, score


def decode(spn: SPN, values: np.ndarray) -> np.ndarray:
    """The assignment of the induced tree that takes, at each sum, the first child maximising
    log w_k + values[k] (``values``: (n_nodes,) node scores), and every child of a product."""
    on = np.zeros(spn.n_nodes, bool)
    on[spn.root] = True
    for b in reversed(spn.blocks):  # parents before children
        e = slice(b.edge_start, b.edge_stop)
        parent_on = on[spn.parent[e]]
        if not parent_on.any():
            continue
        if b.kind == PRODUCT:
            on[spn.child[e][parent_on]] = True
            continue
        terms = values[spn.child[e]] + spn.log_weight[e]
        top = np.maximum.reduceat(terms, b.offsets)
        hits = np.flatnonzero(terms == top[b.owner])
        owners, first = np.unique(b.owner[hits], return_index=True)
        chosen = hits[first]
        chosen = chosen[on[b.start + owners]]
        on[spn.child[e][chosen]] = True
    row = empty_row(spn)
    leaves = np.flatnonzero(on[:spn.n_leaves])
    row[spn.leaf_var[leaves]] = spn.leaf_val[leaves]
    return row


def _finish(spn: SPN, query: np.ndarray, row: np.ndarray, stats: dict):
    row[query[row[query] < 0]] = 0  # a query variable the tree did not reach (none if valid)
    return row, float(score(spn, row)[0]), False, stats


def best_tree(spn: SPN, query: np.ndarray):
    values = upward(spn, np.zeros((spn.n_leaves, 1)), maximise=True).values[:, 0]
    return _finish(spn, query, decode(spn, values), {"tree_log_value": float(values[spn.root])})


def normalised_greedy(spn: SPN, query: np.ndarray):
    values = upward(spn, np.zeros((spn.n_leaves, 1))).values[:, 0]
    return _finish(spn, query, decode(spn, values), {})
