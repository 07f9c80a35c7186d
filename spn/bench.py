"""Solver comparison on a query grid (Mei et al. 2018): fractions of query, evidence and hidden
variables in tenths, random evidence; per solver how often it finds the best value found by any
solver, the mean log-probability it finds and its mean time."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spn.network import SPN, SPNError
from spn.solvers import METHODS, MapResult, solve

DEFAULT_METHODS = ("exact", "best_tree", "kbt", "greedy", "amap", "beam")


def query_grid(step: float = 0.1) -> list[tuple[float, float, float]]:
    """(query, evidence, hidden) fractions on a grid of ``step`` (tenths by default), query > 0."""
    n = round(1 / step)
    if not (0 < step <= 1 and abs(n * step - 1) < 1e-9):
        raise SPNError(f"grid step must divide 1 (e.g. 0.1, 0.2, 0.5), got {step}")
    return [(q / n, e / n, (n - q - e) / n) for q in range(1, n + 1) for e in range(0, n - q + 1)]


def make_query(n_vars: int, fractions: tuple[float, float, float], rng: np.random.Generator):
    """Random Q (at least one variable) and evidence {var: 0/1} with the given fractions."""
    perm = rng.permutation(n_vars)
    n_q = max(1, round(fractions[0] * n_vars))
    n_e = min(n_vars - n_q, round(fractions[1] * n_vars))
    return perm[:n_q], {int(v): int(rng.integers(2)) for v in perm[n_q:n_q + n_e]}


@dataclass
class Comparison:
    """Results per query (rows) and method (columns)."""
    methods: tuple[str, ...]
    fractions: list[tuple[float, float, float]]
    queries: list[tuple[np.ndarray, dict[int, int]]]
    results: list[dict[str, MapResult]]

    def add_method(self, name: str, results: list[MapResult]) -> None:
        """Results of a solver run outside :func:`compare` on the same queries (e.g. SPFlow)."""
        if len(results) != len(self.results):
            raise SPNError(f"{name}: {len(results)} results for {len(self.results)} queries")
        self.methods = self.methods + (name,)
        for row, result in zip(self.results, results):
            row[name] = result

    def summary(self, tolerance: float = 1e-6) -> dict[str, dict]:
        """Per method: share of queries where it matched the best value, mean log value, mean time."""
        best = np.array([max(r[m].log_value for m in self.methods) for r in self.results])
        usable = np.isfinite(best)
        out = {}
        for m in self.methods:
            values = np.array([r[m].log_value for r in self.results])
            times = np.array([r[m].seconds for r in self.results])
            out[m] = {"best_share": float(np.mean(values[usable] >= best[usable] - tolerance)),
                      "mean_log_value": float(np.mean(values[usable])),
                      "mean_seconds": float(np.mean(times)),
                      "proven_optimal": float(np.mean([r[m].optimal for r in self.results]))}
        return out


def compare(spn: SPN, methods=DEFAULT_METHODS, step: float = 0.1, repeats: int = 1, seed: int = 0,
            time_limit: float | None = 10.0, options: dict | None = None) -> Comparison:
    """Run every method on ``repeats`` random queries per grid point."""
    for m in methods:
        if m not in METHODS:
            raise SPNError(f"unknown MAP method {m!r}; one of {', '.join(METHODS)}")
    options = dict(options or {})
    if "exact" in methods and time_limit is not None:
        options.setdefault("exact", {}).setdefault("time_limit", time_limit)
    rng = np.random.default_rng(seed)
    fractions, queries, results = [], [], []
    for point in query_grid(step):
        for _ in range(repeats):
            query, evidence = make_query(spn.n_vars, point, rng)
            fractions.append(point)
            queries.append((query, evidence))
            results.append({m: solve(spn, query, evidence, m, **options.get(m, {})) for m in methods})
    return Comparison(tuple(methods), fractions, queries, results)


def format_summary(summary: dict[str, dict]) -> str:
    lines = [f"{'method':10} {'best %':>7} {'mean log p':>12} {'mean s':>9} {'optimal %':>9}"]
    for m, row in summary.items():
        lines.append(f"{m:10} {100 * row['best_share']:7.1f} {row['mean_log_value']:12.4f} "
                     f"{row['mean_seconds']:9.4f} {100 * row['proven_optimal']:9.1f}")
    return "\n".join(lines)
