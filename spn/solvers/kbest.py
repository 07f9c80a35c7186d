"""K-Best Tree (Mei et al. 2018): keep the K best induced trees of every node, decode the K
trees of the root and return the assignment with the best S' value. K = 1 is Best Tree.

A sum merges its children's sorted lists (K-way merge over a heap); a product combines its
children one by one, each time taking the K best pairwise sums with a heap over (i, j).
One Python step per node: it is the accurate-but-slower approximate method.
"""
from __future__ import annotations

import heapq

import numpy as np

from spn.network import LEAF, PRODUCT, SPN, SPNError
from spn.solvers.common import empty_row, score


def k_best_pairs(a: list[float], b: list[float], k: int) -> list[tuple[float, int, int]]:
    """The k largest a[i] + b[j] (lists sorted descending) as (value, i, j), best first."""
    out, seen = [], {(0, 0)}
    heap = [(-(a[0] + b[0]), 0, 0)]
    while heap and len(out) < k:
        neg, i, j = heapq.heappop(heap)
        out.append((-neg, i, j))
        for ni, nj in ((i + 1, j), (i, j + 1)):
            if ni < len(a) and nj < len(b) and (ni, nj) not in seen:
                seen.add((ni, nj))
                heapq.heappush(heap, (-(a[ni] + b[nj]), ni, nj))
    return out


def k_way_merge(lists: list[list[float]], offsets: list[float], k: int) -> list[tuple[float, int, int]]:
    """The k largest offsets[c] + lists[c][r] over all c, r as (value, c, r), best first."""
    heap = [(-(offsets[c] + lst[0]), c, 0) for c, lst in enumerate(lists)]
    heapq.heapify(heap)
    out = []
    while heap and len(out) < k:
        neg, c, r = heapq.heappop(heap)
        out.append((-neg, c, r))
        if r + 1 < len(lists[c]):
            heapq.heappush(heap, (-(offsets[c] + lists[c][r + 1]), c, r + 1))
    return out


def k_best_trees(spn: SPN, k: int):
    """Per node: values (best first) and back-pointers ((child, rank) at sums, ranks at products)."""
    start = spn.children_start
    values: list[list[float]] = [None] * spn.n_nodes
    back: list[list] = [None] * spn.n_nodes
    kinds, kids_all, logw_all = spn.kind.tolist(), spn.child.tolist(), spn.log_weight.tolist()
    for n in range(spn.n_nodes):
        if kinds[n] == LEAF:
            values[n], back[n] = [0.0], [None]
            continue
        a, b = int(start[n]), int(start[n + 1])
        kids = kids_all[a:b]
        if kinds[n] == PRODUCT:
            acc, ranks = values[kids[0]], [(r,) for r in range(len(values[kids[0]]))]
            for c in kids[1:]:
                merged = k_best_pairs(acc, values[c], k)
                acc = [v for v, _, _ in merged]
                ranks = [ranks[i] + (j,) for _, i, j in merged]
            values[n], back[n] = acc, ranks
        else:
            merged = k_way_merge([values[c] for c in kids], logw_all[a:b], k)
            values[n] = [v for v, _, _ in merged]
            back[n] = [(kids[c], r) for _, c, r in merged]
    return values, back


def decode_tree(spn: SPN, back: list[list], rank: int) -> np.ndarray:
    row = empty_row(spn)
    start = spn.children_start
    stack = [(spn.root, rank)]
    while stack:
        n, r = stack.pop()
        if spn.kind[n] == LEAF:
            row[spn.leaf_var[n]] = spn.leaf_val[n]
        elif spn.kind[n] == PRODUCT:
            stack.extend(zip(spn.child[start[n]:start[n + 1]].tolist(), back[n][r]))
        else:
            stack.append(back[n][r])
    return row


def solve(spn: SPN, query: np.ndarray, k: int = 10):
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise SPNError(f"K must be a positive integer, got {k!r}")
    values, back = k_best_trees(spn, int(k))
    rows = np.stack([decode_tree(spn, back, r) for r in range(len(values[spn.root]))])
    rows[:, query] = np.where(rows[:, query] < 0, 0, rows[:, query])
    scores = score(spn, rows)
    best = int(np.argmax(scores))  # first on ties: the best tree's own assignment
    return rows[best], float(scores[best]), False, {"trees": len(rows),
                                                     "distinct": len({r.tobytes() for r in rows})}
