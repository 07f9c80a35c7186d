"""Dashboard queries at scale: 50 models x 6 benchmarks x 200 problems x 16 samples (~1M samples).

Seeds a fresh SQLite DB through the store API (bulk inserts), then times the leaderboard and
run-page queries (goal: <= 2 s each) against a naive peer measured in the same run: loading the
samples into pandas and aggregating there.

    python benchmarks/dashboard_scale.py            # full size
    python benchmarks/dashboard_scale.py --models 5 # quicker
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from dashboard import queries as q  # noqa: E402
from evaluators.registry import suite_for  # noqa: E402
from ring_core.store import api, db  # noqa: E402

BENCHMARKS = ["aime_2024", "aime_2025", "math500", "gpqa_diamond", "livecodebench_v5",
              "leetcode_v0.3.1"]
GOAL_S = 2.0


def seed(url: str, n_models: int, n_bench: int, n_problems: int, k: int) -> int:
    rng = random.Random(0)
    total = 0
    with tqdm(total=n_models * n_bench * n_problems * k, unit="sample", desc="seeding",
              unit_scale=True) as bar:
        for mi in range(n_models):
            skill = rng.uniform(0.1, 0.9)
            with db.session(url) as s:
                model = api.get_or_create_model(s, f"model-{mi:02d}",
                                                tags="baseline" if mi % 5 == 0 else "ours")
                for bench_name in BENCHMARKS[:n_bench]:
                    bench = api.get_or_create_benchmark(s, bench_name, "1", f"sha-{bench_name}",
                                                        suite=suite_for(bench_name), num_problems=n_problems)
                    run = api.get_or_create_run(s, model, bench, {"temperature": 0.6,
                                                                  "top_p": 0.95}, "v1", k)
                    rows = []
                    for p in range(n_problems):
                        difficulty = rng.random()
                        for i in range(k):
                            ok = rng.random() < skill * (1.2 - difficulty)
                            rows.append(api.sample_row(
                                f"{bench_name}-{p:04d}", i, correct=ok, score=float(ok), prompt=f"Problem {p}",
                                reasoning="r" * 64, answer=f"\\boxed{{{p}}}", extracted=str(p),
                                reason="match" if ok else "mismatch", tokens=rng.randint(500, 20000),
                                latency_s=rng.uniform(1, 60)))
                    total += api.add_samples(s, run.id, rows)
                    api.set_run_status(s, run.id, "done")
                    bar.update(len(rows))
    return total


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(first call seconds, median of the remaining calls, last result)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:] or times), result


def naive_leaderboard(url: str) -> pd.DataFrame:
    """The peer: pull every sample into pandas and aggregate there."""
    with db.make_engine(url).connect() as conn:
        df = pd.read_sql_query("SELECT run_id, problem_id, correct FROM samples", conn)
    per_problem = df.groupby(["run_id", "problem_id"])["correct"].mean()
    return per_problem.groupby("run_id").agg(["mean", "std", "count"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--benchmarks", type=int, default=6, choices=range(1, len(BENCHMARKS) + 1))
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", help="SQLite file to use (default: a temporary one)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="ring-dash-bench-")
    path = Path(args.db) if args.db else Path(tmp.name) / "ring.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    t0 = time.perf_counter()
    n = seed(url, args.models, args.benchmarks, args.problems, args.samples)
    seed_s = time.perf_counter() - t0
    print(f"seeded {n:,} samples in {seed_s:.1f} s ({n / seed_s:,.0f} rows/s); "
          f"DB {path.stat().st_size / 2**20:.0f} MiB")

    run_id = int(q.run_list(url)["run_id"].iloc[len(q.run_list(url)) // 2])

    def run_page():
        q.run_info(url, run_id)
        q.run_scores(url, [run_id], latest_only=False)
        pp = q.per_problem(url, run_id)
        rows = q.samples(url, run_id, failures_only=True)
        q.sample_detail(url, int(rows["sample_id"].iloc[0]))
        return pp

    cases = {
        "leaderboard (all runs)": lambda: q.run_scores(url),
        "leaderboard (suite=math)": lambda: q.run_scores(url, suites=["math"]),
        "run page (5 queries)": run_page,
        "compare two runs": lambda: q.compare_runs(url, run_id, run_id - 1),
    }
    results = {}
    for name, fn in cases.items():
        results[name] = timed(fn, args.repeat)
    peer_first, peer_med, peer = timed(lambda: naive_leaderboard(url), max(2, args.repeat // 2))

    board = results["leaderboard (all runs)"][2]
    assert len(board) == args.models * args.benchmarks, "leaderboard lost runs"
    # Same numbers as the peer, so the speed comparison is apples to apples.
    merged = board.set_index("run_id")["avg_at_k"] / 100
    diff = (merged - peer["mean"].reindex(merged.index)).abs().max()
    assert diff < 1e-9, f"in-DB and pandas avg@k differ by {diff}"

    print(f"\n{'query':28s} {'first s':>8s} {'median s':>9s} {'goal':>6s} {'vs pandas':>10s}")
    for name, (first, med, _) in results.items():
        ok = "ok" if med <= GOAL_S else "SLOW"
        ratio = peer_med / med if med else float("inf")
        print(f"{name:28s} {first:8.3f} {med:9.3f} {ok:>6s} {ratio:9.1f}x")
    print(f"{'peer: pandas leaderboard':28s} {peer_first:8.3f} {peer_med:9.3f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
