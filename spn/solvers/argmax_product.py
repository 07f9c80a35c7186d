"""Argmax-Product (Conaty, Maua, de Campos 2017): bottom-up, every node keeps one assignment of
its scope; a product joins its children's, a sum keeps the child assignment that scores best
under the sum itself. Quadratic: each sum block costs one batched upward pass."""
from __future__ import annotations

import numpy as np

from spn.network import PRODUCT, SPN
from spn.passes import leaf_log_values, upward
from spn.solvers.common import score


def solve(spn: SPN, query: np.ndarray, chunk: int = 128):
    cand = np.full((spn.n_nodes, spn.n_vars), -1, np.int8)
    leaves = np.arange(spn.n_leaves)
    cand[leaves, spn.leaf_var[leaves]] = spn.leaf_val[leaves]
    for b in spn.blocks:
        kids = spn.child[b.edge_start:b.edge_stop]
        if b.kind == PRODUCT:  # disjoint scopes: -1 elsewhere, so the max joins them
            cand[b.start:b.stop] = np.maximum.reduceat(cand[kids], b.offsets, axis=0)
            continue
        owner_nodes = b.start + b.owner
        scores = np.empty(len(kids))
        for first in range(0, len(kids), chunk):
            part = slice(first, first + chunk)
            up = upward(spn, leaf_log_values(spn, cand[kids[part]]), through=b.stop - 1).values
            scores[part] = up[owner_nodes[part], np.arange(len(kids[part]))]
        top = np.maximum.reduceat(scores, b.offsets)
        hits = np.flatnonzero(scores == top[b.owner])
        owners, first_hit = np.unique(b.owner[hits], return_index=True)
        cand[b.start + owners] = cand[kids[hits[first_hit]]]
    row = cand[spn.root].copy()
    row[query[row[query] < 0]] = 0
    return row, float(score(spn, row)[0]), False, {}
