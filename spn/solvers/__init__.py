"""MAP solvers: reduce (E, H) away, then solve MAX on S' with one of the registered methods.

Every method takes (S', query variables, options) and returns an assignment row over all
variables (query columns set, others -1), its log S' value and whether it is proven optimal.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from spn.network import SPN, SPNError
from spn.reduction import reduce

METHODS = ("brute", "exact", "best_tree", "kbt", "greedy", "amap", "beam")


@dataclass
class MapResult:
    """A MAP answer: the query assignment, log S(q, e) with H summed out, and how it was found."""
    method: str
    assignment: dict[int, int]
    log_value: float
    optimal: bool
    seconds: float
    stats: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"method": self.method, "assignment": {str(k): v for k, v in self.assignment.items()},
                "log_value": self.log_value, "optimal": self.optimal, "seconds": self.seconds,
                "stats": self.stats}


def method(name: str):
    """The solver function for ``name``, or an SPNError listing the known ones."""
    from spn.solvers import argmax_product, beam, brute, exact, kbest, trees

    table = {"brute": brute.solve, "exact": exact.solve, "best_tree": trees.best_tree,
             "kbt": kbest.solve, "greedy": trees.normalised_greedy, "amap": argmax_product.solve,
             "beam": beam.solve}
    if name not in table:
        raise SPNError(f"unknown MAP method {name!r}; one of {', '.join(METHODS)}")
    return table[name]


def solve(spn: SPN, query, evidence: dict | None = None, method_name: str = "exact", **options) -> MapResult:
    """MAP over ``query`` given ``evidence``; other variables are summed out."""
    solver = method(method_name)
    started = time.perf_counter()
    reduced = reduce(spn, query, evidence)
    q = reduced.query
    if reduced.spn is None:  # S' is a constant: every assignment is optimal
        return MapResult(method_name, {int(v): 0 for v in q}, reduced.log_constant, True,
                         time.perf_counter() - started, {"reduced_nodes": 0})
    free = _outside_scope(reduced.spn, q)
    row, value, optimal, stats = solver(reduced.spn, np.setdiff1d(q, free), **options)
    row = row.copy()
    row[free] = 0  # S' does not depend on them: any value is as good
    stats = {"reduced_nodes": reduced.spn.n_nodes, "reduced_arcs": reduced.spn.n_edges, **stats}
    return MapResult(method_name, {int(v): int(row[v]) for v in q}, float(value), bool(optimal),
                     time.perf_counter() - started, stats)


def _outside_scope(spn: SPN, query: np.ndarray) -> np.ndarray:
    return np.setdiff1d(query, spn.scope_vars)
