"""Scores over k samples per problem: avg@k, unbiased pass@k, maj@k and the one 95% CI.

The CI everywhere (the `ring eval` table, the stored run metrics, the dashboard) is the normal
approximation over problems: mean of per-problem accuracies +- 1.96 standard errors. It is what
the dashboard can aggregate in SQL over millions of samples, so every view shows the same number.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Z95 = 1.959964  # two-sided 95% quantile of the standard normal


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), for n samples with c correct."""
    for label, v in (("n", n), ("c", c), ("k", k)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{label} must be an integer, got {v!r}")
    if n < 1 or k < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1, k >= 1 and 0 <= c <= n; got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    # product form avoids huge binomials: C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i)
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority_correct(samples: Sequence[tuple[str | None, bool]]) -> bool:
    """maj@k for one problem: is the most frequent extracted answer a correct one?

    ``samples`` are (extracted answer, correct). Samples without an answer do not vote; ties go
    to the answer seen first so the result is deterministic.
    """
    votes = Counter(a for a, _ in samples if a is not None)
    if not votes:
        return False
    best = max(votes.values())
    first = next(a for a, _ in samples if a is not None and votes[a] == best)
    return any(ok for a, ok in samples if a == first)


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean over problems (0 for fewer than two)."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return 0.0
    return float(arr.std(ddof=1) / math.sqrt(arr.size))


def ci95_halfwidth(mean: float, mean_sq: float, n: int) -> float:
    """Half-width of the 95% normal CI of a mean, from the mean, the mean of squares and n.

    NaN for fewer than two values. The dashboard feeds it SQL aggregates; ``ci95`` feeds it values.
    """
    if n is None or mean is None or n < 2 or mean != mean:
        return float("nan")
    var = max(float(mean_sq) - float(mean) ** 2, 0.0) * n / (n - 1)
    return Z95 * math.sqrt(var / n)


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """95% normal CI of the mean over problems (a single problem: the point itself)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (float("nan"), float("nan"))
    mean = float(arr.mean())
    half = ci95_halfwidth(mean, float((arr ** 2).mean()), arr.size) if arr.size > 1 else 0.0
    return (mean - half, mean + half)


def _ks(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def summarize(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, Any]:
    """Run metrics from sample rows (problem_id, correct, extracted, tokens, latency_s).

    Per-problem accuracy is the mean over that problem's samples; run metrics average problems
    with equal weight. pass@j is reported for powers of two up to the smallest sample count.
    """
    by_problem: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_problem.setdefault(str(r["problem_id"]), []).append(r)
    if not by_problem:
        return {"problems": 0, "samples": 0}
    per_problem = {}
    for pid, items in by_problem.items():
        c = sum(bool(r["correct"]) for r in items)
        per_problem[pid] = {"n": len(items), "correct": c, "avg": c / len(items),
                            "maj": majority_correct([(r.get("extracted"), bool(r["correct"]))
                                                     for r in items])}
    accs = [p["avg"] for p in per_problem.values()]
    n_min = min(p["n"] for p in per_problem.values())
    out: dict[str, Any] = {
        "problems": len(per_problem),
        "samples": len(rows),
        "k": k,
        "complete": n_min >= k,
        f"avg@{k}": float(np.mean(accs)),
        "stderr": standard_error(accs),
        "ci95": list(ci95(accs)),
        f"maj@{k}": float(np.mean([p["maj"] for p in per_problem.values()])),
    }
    for j in _ks(n_min):
        out[f"pass@{j}"] = float(np.mean([pass_at_k(p["n"], p["correct"], j)
                                          for p in per_problem.values()]))
    tokens = [r["tokens"] for r in rows if r.get("tokens") is not None]
    lat = [r["latency_s"] for r in rows if r.get("latency_s") is not None]
    if tokens:
        out["tokens_total"] = int(sum(tokens))
        out["tokens_mean"] = float(np.mean(tokens))
    if lat:
        out["latency_mean_s"] = float(np.mean(lat))
        out["latency_p50_s"] = float(np.quantile(lat, 0.5))
        out["latency_p95_s"] = float(np.quantile(lat, 0.95))
    out["per_problem"] = per_problem
    return out


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value for ``wins`` vs ``losses`` paired differences (ties dropped).

    Under the null each non-tied pair is a fair coin: p = min(1, 2 * P[Binomial(n, 1/2) <= min]).
    """
    for label, v in (("wins", wins), ("losses", losses)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{label} must be a non-negative integer, got {v!r}")
    n, low = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    # exact integer sum, one division: no float binomials to underflow for large n
    tail = sum(math.comb(n, i) for i in range(low + 1))
    return min(1.0, 2 * tail / 2 ** n)
