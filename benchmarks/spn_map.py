"""MAP inference in SPNs: the figures of issue 19 in one run.

1. Exactness: on random SPNs and queries with |Q| <= 20 (and a learned nltcs SPN), the exact
   solver equals brute force, every approximate solver is <= exact, KBT(K) >= Best Tree and
   S'(all ones) >= the MAP value.
2. Query grid on the shipped datasets (LearnSPN on train): Q/E/H fractions on a grid, random
   evidence; per solver (and SPFlow's MPE when it imports) the share of queries where it finds
   the best value, the mean log-probability and the mean time.
3. Speed: passes per second, numpy (level blocks) against a plain per-node implementation.
4. Scale: the exact solver on a random SPN of about 1k variables and 150k arcs, with a time
   limit per query: share finished and the time distribution.

    python benchmarks/spn_map.py [--datasets nltcs,plants] [--step 0.2] [--time-limit 10]
        [--scale-queries 10] [--scale-limit 30] [--json out.json]

SPFlow (optional) is found on PYTHONPATH; see benchmarks/spn_spflow.py for how to install it
without touching the venv.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA = ROOT / ".." / "shared" / "data" / "spn"
ALL_DATASETS = "nltcs,plants,baudio,jester,bnetflix,accidents,pumsb_star,dna,bbc"

from spn import reference  # noqa: E402
from spn.bench import compare, format_summary, make_query, query_grid  # noqa: E402
from spn.generate import random_spn  # noqa: E402
from spn.learn import learn_spn, mean_log_likelihood, read_data  # noqa: E402
from spn.passes import derivatives, log_value  # noqa: E402
from spn.solvers import MapResult, solve  # noqa: E402

APPROXIMATE = ("best_tree", "kbt", "greedy", "amap", "beam")
TOL = 1e-9


def exactness(cases: int, seed: int) -> dict:
    """Counts of each invariant holding over random small cases and nltcs queries."""
    rng = np.random.default_rng(seed)
    spns = []
    for i in range(cases):
        n_vars = int(rng.integers(6, 23))
        spns.append(random_spn(n_vars, int(rng.integers(20 * n_vars, 80 * n_vars)), seed=seed * 1000 + i))
    nltcs = DATA / "nltcs" / "nltcs.train.data"
    if nltcs.exists():
        learned = learn_spn(read_data(nltcs))
        spns += [learned] * max(1, cases // 4)
    counts = {"queries": 0, "exact_equals_brute": 0, "kbt_ge_bt": 0, "kbt1_eq_bt": 0, "ones_ge_map": 0,
              **{f"{m}_le_exact": 0 for m in APPROXIMATE}}
    for spn in spns:
        n_q = int(rng.integers(1, min(20, spn.n_vars) + 1))
        perm = rng.permutation(spn.n_vars)
        n_e = int(rng.integers(0, spn.n_vars - n_q + 1))
        query, evidence = perm[:n_q], {int(v): int(rng.integers(2)) for v in perm[n_q:n_q + n_e]}
        brute = solve(spn, query, evidence, "brute").log_value
        exact = solve(spn, query, evidence, "exact").log_value
        found = {m: solve(spn, query, evidence, m).log_value for m in APPROXIMATE}
        kbt1 = solve(spn, query, evidence, "kbt", k=1).log_value
        ones = np.full(spn.n_vars, -1)
        for v, x in evidence.items():
            ones[v] = x
        counts["queries"] += 1
        counts["exact_equals_brute"] += bool(abs(exact - brute) <= TOL)
        counts["kbt_ge_bt"] += bool(found["kbt"] >= found["best_tree"] - TOL)
        counts["kbt1_eq_bt"] += bool(abs(kbt1 - found["best_tree"]) <= TOL)
        counts["ones_ge_map"] += bool(log_value(spn, ones)[0] >= exact - TOL)
        for m in APPROXIMATE:
            counts[f"{m}_le_exact"] += bool(found[m] <= exact + TOL)
    return counts


def spflow_results(spn, comparison) -> tuple[list[MapResult] | None, str | None]:
    """SPFlow's MPE on the comparison's queries, scored like the others; or why it was skipped."""
    import spn_spflow

    why = spn_spflow.available()
    if why is not None:
        return None, f"SPFlow not importable ({why})"
    model = spn_spflow.to_spflow(spn)
    out = []
    for query, evidence in comparison.queries:
        started = time.perf_counter()
        filled = spn_spflow.mpe_row(model, spn.n_vars, evidence)
        seconds = time.perf_counter() - started
        unfilled = int((filled[query] < 0).sum())
        row = np.full(spn.n_vars, -1)
        row[query] = np.maximum(filled[query], 0)  # a query variable SPFlow left unset gets 0
        for v, x in evidence.items():
            row[v] = x
        out.append(MapResult("spflow", {int(v): int(row[v]) for v in query}, float(log_value(spn, row)[0]),
                             False, seconds, {"unfilled_query_vars": unfilled}))
    return out, None


def grid(datasets: list[str], step: float, repeats: int, time_limit: float, seed: int) -> dict:
    out = {}
    for name in datasets:
        folder = DATA / name
        if not folder.exists():
            print(f"  {name}: not found under {DATA}, skipped")
            continue
        train = read_data(folder / f"{name}.train.data")
        started = time.perf_counter()
        spn = learn_spn(train)
        learn_s = time.perf_counter() - started
        test_ll = mean_log_likelihood(spn, read_data(folder / f"{name}.test.data"))
        print(f"\n  {name}: {spn.n_vars} vars, {spn.n_nodes} nodes, {spn.n_edges} arcs, learned in "
              f"{learn_s:.1f}s, test log-likelihood {test_ll:.3f}", flush=True)
        comparison = compare(spn, step=step, repeats=repeats, seed=seed, time_limit=time_limit)
        spflow, why = spflow_results(spn, comparison)
        if spflow is not None:
            comparison.add_method("spflow", spflow)
        else:
            print(f"  ({why})")
        summary = comparison.summary()
        print("  " + format_summary(summary).replace("\n", "\n  "), flush=True)
        out[name] = {"vars": spn.n_vars, "nodes": spn.n_nodes, "arcs": spn.n_edges, "learn_s": learn_s,
                     "test_ll": test_ll, "queries": len(comparison.results), "summary": summary,
                     "spflow": why or "compared"}
    return out


def rate(fn, budget: float = 2.0, least: int = 3) -> float:
    """Calls per second of ``fn`` over about ``budget`` seconds."""
    calls, started = 0, time.perf_counter()
    while calls < least or time.perf_counter() - started < budget:
        fn()
        calls += 1
    return calls / (time.perf_counter() - started)


def speed(spns: dict) -> dict:
    out = {}
    for label, spn in spns.items():
        row = np.random.default_rng(0).integers(-1, 2, spn.n_vars)
        rows = np.tile(row, (256, 1))
        figures = {"nodes": spn.n_nodes, "arcs": spn.n_edges,
                   "numpy_upward_per_s": rate(lambda: log_value(spn, row)),
                   "plain_upward_per_s": rate(lambda: reference.value(spn, row), least=1),
                   "numpy_up_down_per_s": rate(lambda: derivatives(spn, row)),
                   "plain_up_down_per_s": rate(lambda: reference.node_derivatives(spn, row), least=1),
                   "numpy_batch256_rows_per_s": 256 * rate(lambda: log_value(spn, rows))}
        figures["upward_speedup"] = figures["numpy_upward_per_s"] / figures["plain_upward_per_s"]
        figures["up_down_speedup"] = figures["numpy_up_down_per_s"] / figures["plain_up_down_per_s"]
        print(f"  {label} ({spn.n_nodes} nodes, {spn.n_edges} arcs): upward {figures['numpy_upward_per_s']:.0f}/s "
              f"numpy vs {figures['plain_upward_per_s']:.1f}/s plain (x{figures['upward_speedup']:.0f}); "
              f"up+down {figures['numpy_up_down_per_s']:.0f}/s vs {figures['plain_up_down_per_s']:.2f}/s "
              f"(x{figures['up_down_speedup']:.0f}); batch of 256: {figures['numpy_batch256_rows_per_s']:.0f} rows/s",
              flush=True)
        out[label] = figures
    return out


def scale(spn, queries: int, time_limit: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    points = [p for p in query_grid(0.1)]
    times, finished, rows = [], 0, []
    for i in range(queries):
        point = points[int(rng.integers(len(points)))]
        query, evidence = make_query(spn.n_vars, point, rng)
        result = solve(spn, query, evidence, "exact", time_limit=time_limit)
        bt = solve(spn, query, evidence, "best_tree").log_value
        times.append(result.seconds)
        finished += result.optimal
        rows.append({"fractions": point, "seconds": result.seconds, "optimal": result.optimal,
                     "log_value": result.log_value, "best_tree": bt, "search_nodes": result.stats["search_nodes"]})
        print(f"  query {i}: Q/E/H {point}: {result.seconds:.2f}s {'optimal' if result.optimal else 'timed out'}, "
              f"log value {result.log_value:.3f} (Best Tree {bt:.3f}), {result.stats['search_nodes']} search nodes",
              flush=True)
    t = np.array(times)
    summary = {"queries": queries, "finished_share": finished / queries, "time_min": float(t.min()),
               "time_median": float(np.median(t)), "time_p90": float(np.percentile(t, 90)), "time_max": float(t.max())}
    print(f"  finished {finished}/{queries}; seconds min {t.min():.2f}, median {np.median(t):.2f}, "
          f"p90 {np.percentile(t, 90):.2f}, max {t.max():.2f}")
    return {"summary": summary, "queries": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=ALL_DATASETS)
    ap.add_argument("--step", type=float, default=0.2, help="grid step (0.1 = the paper's tenths)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=10.0, help="exact solver, grid queries")
    ap.add_argument("--exactness-cases", type=int, default=40)
    ap.add_argument("--scale-vars", type=int, default=1000)
    ap.add_argument("--scale-arcs", type=int, default=150_000)
    ap.add_argument("--scale-queries", type=int, default=10)
    ap.add_argument("--scale-limit", type=float, default=30.0)
    ap.add_argument("--scale-alpha", type=float, default=1.0, help="Dirichlet concentration of the weights")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: exactness,grid,speed,scale")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    report = {}
    if "exactness" not in skip:
        print("1. exactness", flush=True)
        report["exactness"] = exactness(args.exactness_cases, args.seed)
        print("  " + json.dumps(report["exactness"]))
    if "grid" not in skip:
        print(f"2. query grid (step {args.step}, {args.repeats} per point, exact limit {args.time_limit}s)")
        report["grid"] = grid([d for d in args.datasets.split(",") if d], args.step, args.repeats,
                              args.time_limit, args.seed)
    big = None
    if "speed" not in skip or "scale" not in skip:
        started = time.perf_counter()
        big = random_spn(args.scale_vars, args.scale_arcs, seed=args.seed, alpha=args.scale_alpha)
        print(f"\nrandom SPN (Dirichlet alpha {args.scale_alpha}): {big.n_vars} vars, {big.n_nodes} nodes, {big.n_edges} arcs "
              f"(generated in {time.perf_counter() - started:.1f}s)")
    if "speed" not in skip:
        print("3. passes per second (one assignment per pass unless said)")
        spns = {"random-1k": big}
        plants = DATA / "plants" / "plants.train.data"
        if plants.exists():
            spns = {"plants-learned": learn_spn(read_data(plants)), **spns}
        report["speed"] = speed(spns)
    if "scale" not in skip:
        print(f"4. scale: exact solver, {args.scale_queries} queries, {args.scale_limit}s each")
        report["scale"] = scale(big, args.scale_queries, args.scale_limit, args.seed)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
