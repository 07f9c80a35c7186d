"""MAP to MAX: remove evidence and hidden variables in one bottom-up pass (Mei et al. 2018).

An evidence leaf becomes the constant [value = e], a hidden leaf the constant 1. Each node keeps
a constant factor c (log) and, if its scope meets Q, a reduced node: products multiply their
children's factors and keep the non-constant children; sums keep their non-constant children
with weights w_k * c_k (their own factor is 1); fully constant nodes fold into c. Children whose
factor is 0 are dropped. A root factor other than 1 becomes one extra sum node on top, so the
result has at most |S| + 1 nodes and S'(q) = S(q, e, 1_H). Vectorised per level block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spn.network import LEAF, PRODUCT, SPN, SPNError, from_arrays
from spn.passes import NEG_INF


@dataclass
class Reduced:
    """S' over the query variables, or a constant when no query variable is left."""
    spn: SPN | None
    log_constant: float  # log S' when spn is None (e.g. every weight path is zero)
    query: np.ndarray    # the query variables, sorted

    def log_value(self, assignments) -> np.ndarray:
        """log S'(q) for rows over all n_vars (only the query columns are read)."""
        from spn.passes import log_value

        if self.spn is None:
            return np.full(np.atleast_2d(assignments).shape[0], self.log_constant)
        return log_value(self.spn, assignments)


def check_query(spn: SPN, query, evidence: dict | None) -> tuple[np.ndarray, dict[int, int]]:
    """Sorted query variables and clean evidence, or an SPNError saying what is wrong."""
    evidence = dict(evidence or {})
    q = np.asarray(sorted({int(v) for v in query}), np.int64) if len(query) else np.zeros(0, np.int64)
    bad = [v for v in list(q) + list(evidence) if not 0 <= int(v) < spn.n_vars]
    if bad:
        raise SPNError(f"variable {bad[0]} is not in 0..{spn.n_vars - 1}")
    both = set(q.tolist()) & set(int(v) for v in evidence)
    if both:
        raise SPNError(f"variable {min(both)} is both a query and an evidence variable")
    for v, x in evidence.items():
        if x not in (0, 1):
            raise SPNError(f"evidence value {x!r} for variable {v} is not 0 or 1")
    if len(q) != len(list(query)):
        raise SPNError("a query variable is listed twice")
    return q, {int(v): int(x) for v, x in evidence.items()}


def reduce(spn: SPN, query, evidence: dict | None = None) -> Reduced:
    """S' for MAP over ``query`` given ``evidence`` {var: 0/1}; every other variable is hidden."""
    q, evidence = check_query(spn, query, evidence)
    is_query = np.zeros(spn.n_vars, bool)
    is_query[q] = True
    e_val = np.full(spn.n_vars, -1)
    for v, x in evidence.items():
        e_val[v] = x
    live, logc = _factors(spn, is_query, e_val)
    if not live[spn.root] or np.isneginf(logc[spn.root]):
        return Reduced(None, float(logc[spn.root]) if not live[spn.root] else NEG_INF, q)
    return Reduced(_rebuild(spn, live, logc), 0.0, q)


def _factors(spn: SPN, is_query: np.ndarray, e_val: np.ndarray):
    """Per node: live (keeps a reduced node: scope meets Q and it is not zero) and log c."""
    n = spn.n_nodes
    live = np.zeros(n, bool)
    logc = np.zeros(n)
    leaves = slice(0, spn.n_leaves)
    var, val = spn.leaf_var[leaves], spn.leaf_val[leaves]
    live[leaves] = is_query[var]
    # Evidence leaves: [value = e]; hidden and query leaves: 1.
    logc[leaves] = np.where((e_val[var] >= 0) & (e_val[var] != val), NEG_INF, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in spn.blocks:
            kids = spn.child[b.edge_start:b.edge_stop]
            nodes = slice(b.start, b.stop)
            if b.kind == PRODUCT:
                logc[nodes] = np.add.reduceat(logc[kids], b.offsets)
                live[nodes] = np.logical_or.reduceat(live[kids], b.offsets) & ~np.isneginf(logc[nodes])
                continue
            terms = logc[kids] + spn.log_weight[b.edge_start:b.edge_stop]
            kid_live = live[kids] & ~np.isneginf(terms)
            any_live = np.logical_or.reduceat(kid_live, b.offsets)
            top = np.maximum.reduceat(terms, b.offsets)
            safe = np.where(np.isneginf(top), 0.0, top)
            folded = safe + np.log(np.add.reduceat(np.exp(terms - safe[b.owner]), b.offsets))
            # Completeness: a sum's children all meet Q or none do; a live sum's factor is 1.
            live[nodes] = any_live
            logc[nodes] = np.where(any_live, 0.0, folded)
    return live, logc


def _rebuild(spn: SPN, live: np.ndarray, logc: np.ndarray) -> SPN:
    """The reduced SPN: live nodes reachable from the root through live children."""
    keep_edge = live[spn.child] & live[spn.parent]
    reach = np.zeros(spn.n_nodes, bool)
    reach[spn.root] = True
    for b in reversed(spn.blocks):  # parents before children
        e = slice(b.edge_start, b.edge_stop)
        on = keep_edge[e] & reach[spn.parent[e]]
        reach[spn.child[e][on]] = True
    keep_edge &= reach[spn.parent]
    kept = np.flatnonzero(reach)
    new = np.full(spn.n_nodes, -1)
    new[kept] = np.arange(len(kept))
    sums = spn.kind[spn.parent] != PRODUCT
    log_w = np.where(sums, spn.log_weight + logc[spn.child], 0.0)[keep_edge]
    kind, var, val = spn.kind[kept], spn.leaf_var[kept], spn.leaf_val[kept]
    parent, child = new[spn.parent[keep_edge]], new[spn.child[keep_edge]]
    root_c = logc[spn.root]
    if root_c != 0.0:  # one extra sum carries the root's factor
        top = len(kept)
        kind = np.append(kind, 2)
        var, val = np.append(var, -1), np.append(val, -1)
        parent, child = np.append(parent, top), np.append(child, top - 1)
        log_w = np.append(log_w, root_c)
    return from_arrays(spn.n_vars, kind, var, val, parent, child, log_w)
