"""Reward service under load: HTTP vs in-process grading in the same run, then 4x overload.

Starts ``ring reward serve`` (uvicorn subprocess, loopback), then for a math mix and a code mix
runs 64 concurrent clients (aiohttp, ``--batch`` items per request, as RL frameworks
send them) and the same batches through the same verifiers in-process with the server's
concurrency (a thread pool of ``--workers``).
Prints rewards/s (median over paired rounds that alternate which path goes first), p50/p99
latency and the HTTP cost. The overload phase sends from 4x as many
clients as the queue admits; refused requests retry after Retry-After; it counts 429s, 5xx and
lost requests (never answered 200).

    python benchmarks/reward_load.py [--math N] [--code N] [--clients 64] [--batch 16] [--workers 4] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators import get_verifier  # noqa: E402
from ring_serve.reward.spawn import reward_server  # noqa: E402


def math_items(n: int, rng: random.Random) -> list[dict]:
    """Answers in the forms models write; about 1 in 5 needs sympy (the slow path)."""
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 999), rng.randint(2, 97)
        kind = rng.random()
        if kind < 0.4:
            resp, ref = f"The answer is \\boxed{{{a}}}", str(a if rng.random() < 0.7 else a + 1)
        elif kind < 0.8:
            resp, ref = f"So we get $\\boxed{{\\frac{{{a}}}{{{b}}}}}$.", f"{a}/{b}"
        else:
            resp, ref = f"\\boxed{{x^2+{2 * a}x+{a * a}}}", f"(x+{a})^2"
        out.append({"verifier": "math", "response": "<think>work</think>" + resp, "reference": ref})
    return out


def code_items(n: int, rng: random.Random) -> list[dict]:
    programs = ["print(int(input()) * 2)", "n = int(input())\nprint(sum(range(n + 1)) - sum(range(n - 1)) - n + n)",
                "print(int(input()) + 1)"]
    out = []
    for _ in range(n):
        tests = [{"input": f"{k}\n", "output": f"{2 * k}\n", "testtype": "stdin"} for k in rng.sample(range(100), 2)]
        prog = rng.choice(programs)
        out.append({"verifier": "code", "response": f"```python\n{prog}\n```", "reference": {"tests": tests}})
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def batches(items: list[dict], size: int) -> list[list[tuple[int, dict]]]:
    indexed = list(enumerate(items))
    return [indexed[i:i + size] for i in range(0, len(indexed), size)]


async def http_phase(base_url: str, items: list[dict], clients: int, batch: int, desc: str,
                     retry: bool = False):
    """Clients pull batches off a shared list, one POST /v1/reward per batch. Returns stats."""
    todo = batches(items, batch)
    lat, statuses, scores = [], {}, [None] * len(items)
    lost = 0
    bar = tqdm(total=len(items), desc=desc, unit="reward", leave=False)

    async def client(http: aiohttp.ClientSession):
        nonlocal lost
        while todo:
            chunk = todo.pop()
            body = {"items": [{"verifier": it["verifier"], "response": it["response"],
                               "reference": it["reference"]} for _, it in chunk]}
            t0 = time.perf_counter()
            status, results, transport_errors = None, None, 0
            while True:
                try:
                    async with http.post(base_url + "/v1/reward", json=body) as r:
                        status = r.status
                        retry_after = float(r.headers.get("retry-after", 1))
                        results = (await r.json())["results"] if status == 200 else None
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    # grading is idempotent, so a client resends; three strikes count as lost
                    key = f"transport error ({type(exc).__name__})"
                    statuses[key] = statuses.get(key, 0) + 1
                    status, transport_errors = None, transport_errors + 1
                    if transport_errors < 3:
                        continue
                    break
                statuses[status] = statuses.get(status, 0) + 1
                if status == 429 and retry:
                    await asyncio.sleep(retry_after * random.uniform(0.2, 1.0))
                    continue
                break
            if status == 200:
                for (i, _), res in zip(chunk, results):
                    scores[i] = res["score"]
                lat.append(time.perf_counter() - t0)
            else:
                lost += len(chunk)
            bar.update(len(chunk))

    t0 = time.perf_counter()
    # aiohttp: the load generator shares the 2 cores with the server, and spends less CPU per request than httpx
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=300)) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - t0
    bar.close()
    return {"n": len(items), "wall": wall, "lat": lat, "statuses": statuses, "lost": lost, "scores": scores}


async def local_phase(items: list[dict], clients: int, batch: int, workers: int, desc: str):
    """The same batches through the same verifiers in-process, dispatched as the server does
    (math/gpqa: a batch's items in one call on a pool of the server's grading concurrency; code:
    one call per item), so only HTTP, JSON and the service's bookkeeping differ."""
    todo = batches(items, batch)
    lat, scores = [], [None] * len(items)
    loop = asyncio.get_running_loop()
    bar = tqdm(total=len(items), desc=desc, unit="reward", leave=False)
    with ThreadPoolExecutor(workers) as ex:
        def grade(part):
            for i, it in part:
                scores[i] = get_verifier(it["verifier"]).grade(it["response"], it["reference"]).score

        async def client():
            while todo:
                chunk = todo.pop()
                own_time = [get_verifier(c[1]["verifier"]).bounds_own_time for c in chunk]
                together = [c for c, ok in zip(chunk, own_time) if ok]
                parts = ([together] if together else []) + [[c] for c, ok in zip(chunk, own_time) if not ok]
                t0 = time.perf_counter()
                await asyncio.gather(*(loop.run_in_executor(ex, grade, part) for part in parts))
                lat.append(time.perf_counter() - t0)
                bar.update(len(chunk))

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    bar.close()
    return {"n": len(items), "wall": wall, "lat": lat, "scores": scores}


def warm_local() -> None:
    from evaluators.math.sympy_pool import warm
    from sandbox.pool import get_pool

    warm()
    get_pool().warm()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--math", type=int, default=1500, help="math items per phase")
    ap.add_argument("--code", type=int, default=300, help="code items per phase")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16, help="items per request (RL frameworks send batches)")
    ap.add_argument("--workers", type=int, default=4, help="grading concurrency (server and in-process)")
    ap.add_argument("--rounds", type=int, default=3, help="paired in-process/HTTP rounds per mix")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    mixes = {"math": math_items(args.math, rng), "code": code_items(args.code, rng)}

    warm_local()
    rows = []
    # the queue admits exactly what the normal clients keep in flight; the overload phase is 4x it
    queue = args.clients * args.batch
    with reward_server(["--workers", str(args.workers), "--queue-size", str(queue),
                        "--log-level", "error"]) as server:
        for name, items in mixes.items():
            asyncio.run(http_phase(server.base_url, items[: args.clients], args.clients, 1, f"{name} warm-up"))
            locals_, remotes = [], []
            # rounds alternate which path goes first, so drift on a shared machine hits both alike
            for r in range(args.rounds):
                for path in (("local", "http") if r % 2 == 0 else ("http", "local")):
                    if path == "local":
                        locals_.append(asyncio.run(local_phase(items, args.clients, args.batch, args.workers,
                                                               f"{name} in-process {r + 1}")))
                    else:
                        remotes.append(asyncio.run(http_phase(server.base_url, items, args.clients, args.batch,
                                                              f"{name} http {r + 1}")))
            agree = min(sum(a == b for a, b in zip(lo["scores"], re["scores"])) / len(items)
                        for lo, re in zip(locals_, remotes))
            rows.append((name, locals_, remotes, agree))
        # 4x as many clients, each with a full batch in flight: 4x the items the queue admits
        pool = mixes["math"] + mixes["code"]
        over_items = [pool[i % len(pool)] for i in range(4 * queue)]
        random.Random(args.seed).shuffle(over_items)
        overload = asyncio.run(http_phase(server.base_url, over_items, 4 * args.clients, args.batch,
                                          "4x overload", retry=True))

    print(f"\nreward service load ({args.clients} clients, {args.batch} items per request, "
          f"{args.workers} grading workers; latency per request)")
    print(f"{'mix':6} {'path':11} {'rewards/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, locals_, remotes, agree in rows:
        for label, runs in (("in-process", locals_), ("http", remotes)):
            lat = [x for r in runs for x in r["lat"]]
            rates = " ".join(f"{r['n'] / r['wall']:.0f}" for r in runs)
            print(f"{name:6} {label:11} {statistics.median(r['n'] / r['wall'] for r in runs):10.1f} "
                  f"{pct(lat, .5) * 1e3:8.1f} {pct(lat, .99) * 1e3:8.1f}   rounds: {rates}")
        costs = [1 - (re["n"] / re["wall"]) / (lo["n"] / lo["wall"]) for lo, re in zip(locals_, remotes)]
        statuses: dict = {}
        for re in remotes:
            for k, v in re["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        print(f"{name:6} HTTP cost: {statistics.median(costs) * 100:+.1f}% of in-process rewards/s, median of "
              f"{len(costs)} paired rounds ({' '.join(f'{c * 100:+.0f}%' for c in costs)}; goal <= 20%); "
              f"same scores: {agree * 100:.1f}%; http statuses {statuses}; lost {sum(r['lost'] for r in remotes)}")
    st = overload["statuses"]
    n5 = sum(v for k, v in st.items() if isinstance(k, int) and k >= 500)
    print(f"4x overload ({4 * args.clients} clients, queue {queue} items): {overload['n']} items, "
          f"{overload['n'] / overload['wall']:.1f} rewards/s, 429s {st.get(429, 0)}, 5xx {n5}, "
          f"transport errors {sum(v for k, v in st.items() if isinstance(k, str))}, lost {overload['lost']} (goal: 0 lost, 0 5xx)")
    print(f"  overload statuses: {st}")
    return 0 if overload["lost"] == 0 and n5 == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
