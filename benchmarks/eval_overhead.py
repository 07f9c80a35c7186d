"""Overhead of `ring eval` over a bare async client sending the same requests, in one run.

Both sides send the same chat requests (a synthetic suite, k samples each) with the same
concurrency to the same endpoint. The runner also grades each answer and stores every sample in
a fresh SQLite DB. Prints both wall times and runner / bare (goal <= 1.05).

Peer server: by default a loopback stub that answers after a fixed delay (so the client side
dominates and overhead is visible); `--serve-tiny` uses the real tiny-model `ring serve`
instead, or pass `--endpoint URL --model NAME` for a server that is already up.
Usage: python benchmarks/eval_overhead.py [--problems 50 --k 4 --concurrency 16 --rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fastapi import FastAPI, Request
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ring_core.service import free_port  # noqa: E402

ANSWER = "<think>7 * 6</think>The answer is \\boxed{42}"


def stub_main(port: int, delay_s: float) -> None:
    """A minimal OpenAI-compatible chat endpoint on loopback (the load peer, not the product)."""
    import uvicorn

    app = FastAPI()

    @app.get("/health")
    async def health():
        return {}

    @app.post("/v1/chat/completions")
    async def chat(req: Request):
        body = await req.json()
        await asyncio.sleep(delay_s)
        return {"id": "x", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": ANSWER}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22}}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"peer server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"peer server not healthy in {timeout_s}s")


def requests_for(suite: str):
    from evaluators.runner.datasets import load_suite

    return load_suite(suite).problems


async def bare(endpoint: str, model: str, prompts: list[str], k: int, concurrency: int, sampling: dict) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=endpoint, api_key="none", max_retries=0, timeout=600)
    sem = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(prompts) * k, desc="bare client", unit="req", leave=False)

    async def one(p: str) -> None:
        async with sem:
            await client.chat.completions.create(model=model, messages=[{"role": "user", "content": p}],
                                                 **sampling)
        bar.update(1)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(p) for _ in range(k) for p in prompts))
    wall = time.perf_counter() - t0
    bar.close()
    await client.close()
    return wall


def runner(endpoint: str, model: str, suite: str, k: int, concurrency: int, sampling: dict) -> float:
    from evaluators.runner.run import EvalConfig, run_eval

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        from ring_core.store import db
        db.upgrade(url)  # schema creation is one-off setup, not per-eval overhead
        cfg = EvalConfig(endpoint=endpoint, model=model, suites=[suite], k=k, concurrency=concurrency,
                         temperature=sampling["temperature"], top_p=sampling["top_p"],
                         max_tokens=sampling["max_tokens"], db_url=url)
        t0 = time.perf_counter()
        runs = run_eval(cfg)
        wall = time.perf_counter() - t0
        expected = len(runs[0].dataset.problems) * k
        assert runs[0].metrics["samples"] == expected, runs[0].metrics
        db.dispose_engines()
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=50)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=50.0, help="stub answer delay")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--serve-tiny", action="store_true", help="use the real tiny-model ring serve")
    ap.add_argument("--endpoint")
    ap.add_argument("--model", default="stub")
    ap.add_argument("--stub", nargs=2, metavar=("PORT", "DELAY_S"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stub:
        return stub_main(int(args.stub[0]), float(args.stub[1]))

    proc = None
    endpoint, model = args.endpoint, args.model
    if not endpoint:
        port = free_port()
        home = tempfile.mkdtemp(prefix="ring-bench-")
        if args.serve_tiny:
            cmd = [str(Path(sys.executable).with_name("ring")), "serve", "--port", str(port)]
            model = "ring-tiny"
        else:
            cmd = [sys.executable, __file__, "--stub", str(port), str(args.delay_ms / 1000)]
        proc = subprocess.Popen(cmd, env={**os.environ, "RING_HOME": home}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        endpoint = f"http://127.0.0.1:{port}/v1"
        wait_healthy(f"http://127.0.0.1:{port}", proc, 900 if args.serve_tiny else 60)
    try:
        suite = f"synthetic:n={args.problems}:target=42"
        prompts = [p.prompt for p in requests_for(suite)]
        sampling = {"temperature": 1.0, "top_p": 0.95, "max_tokens": args.max_tokens}
        asyncio.run(bare(endpoint, model, prompts[:4], 1, args.concurrency, sampling))  # warm-up
        t_bare, t_runner = [], []
        for r in range(args.rounds):  # alternate so drift in machine load hits both sides
            t_bare.append(asyncio.run(bare(endpoint, model, prompts, args.k, args.concurrency, sampling)))
            t_runner.append(runner(endpoint, model, suite, args.k, args.concurrency, sampling))
            print(f"round {r + 1}: bare {t_bare[-1]:.3f} s, ring eval {t_runner[-1]:.3f} s", flush=True)
        b, e = statistics.median(t_bare), statistics.median(t_runner)
        n = len(prompts) * args.k
        # the machine is shared: the fastest round of each side is the least disturbed one
        print(json.dumps({"requests": n, "concurrency": args.concurrency,
                          "peer": "tiny ring serve" if args.serve_tiny else (args.endpoint or
                                                                             f"stub {args.delay_ms} ms"),
                          "bare_wall_s_median": round(b, 3), "runner_wall_s_median": round(e, 3),
                          "runner_over_bare_median": round(e / b, 3),
                          "runner_over_bare_best": round(min(t_runner) / min(t_bare), 3),
                          "goal": "<= 1.05"}))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
