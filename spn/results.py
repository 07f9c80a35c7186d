"""A solver comparison in the results DB (``ring_core.store``): the SPN is the model, the query
grid the benchmark, each solver one run, each query one sample (score = log value found,
correct = it matched the best value any solver found, latency = its time)."""
from __future__ import annotations

import hashlib
import json
import math

from spn.bench import Comparison

BENCHMARK = "spn-map-grid"
VERSION = "1"


def query_set_hash(spn_text: str, comparison: Comparison) -> str:
    """Identifies the SPN and the exact queries, so reruns of the same grid share a benchmark."""
    queries = [[sorted(int(v) for v in q), sorted((int(k), int(x)) for k, x in e.items())]
               for q, e in comparison.queries]
    return hashlib.sha256(json.dumps([spn_text, queries]).encode()).hexdigest()[:32]


def save(session, spn_name: str, spn_text: str, comparison: Comparison, settings: dict,
         tolerance: float = 1e-6) -> dict[str, int]:
    """Write one run per solver; returns {method: run id}."""
    from ring_core.store import api

    model = api.get_or_create_model(session, f"spn:{spn_name}", tags="spn")
    bench = api.get_or_create_benchmark(session, BENCHMARK, VERSION, query_set_hash(spn_text, comparison),
                                        suite="spn", num_problems=len(comparison.results))
    summary = comparison.summary(tolerance)
    best = [max(r[m].log_value for m in comparison.methods) for r in comparison.results]
    runs = {}
    for index, method in enumerate(comparison.methods):
        run = api.get_or_create_run(session, model, bench, {"method": method, **settings}, "spn-map-1", 1)
        api.set_run_status(session, run.id, "running")
        rows = []
        for i, (row, fractions, top) in enumerate(zip(comparison.results, comparison.fractions, best)):
            result = row[method]
            rows.append(api.sample_row(
                f"q{i}", 0, answer=json.dumps(result.assignment), score=_finite(result.log_value),
                correct=bool(result.log_value >= top - tolerance), latency_s=result.seconds,
                details={"fractions": list(fractions), "optimal": result.optimal, "method_index": index}))
        api.add_samples(session, run.id, rows)
        api.save_run_metrics(session, run.id, summary[method])
        api.set_run_status(session, run.id, "done")
        runs[method] = run.id
    return runs


def _finite(value: float) -> float:
    """-inf (an impossible evidence) is stored as the most negative float, which SQL keeps."""
    return value if math.isfinite(value) else -1.7976931348623157e308
