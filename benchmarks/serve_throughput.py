"""Throughput of `ring serve` vs a bare vLLM api_server on the same tiny model, in one run.

Both servers get the same load: CONCURRENCY chat requests at once, each generating exactly
MAX_TOKENS tokens (ignore_eos), same seeds and sampling. Prints tokens/s of each and the ratio
(goal: ring / bare >= 0.97). Usage: python benchmarks/serve_throughput.py [--requests 64]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openai import AsyncOpenAI
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ring_core.service import free_port  # noqa: E402
from ring_serve.vllm_server import ServeOptions, VllmServer, build_env  # noqa: E402
from ring_serve.tiny_model import build_tiny_model  # noqa: E402


async def one_round(base_url: str, model: str, n: int, max_tokens: int, bar: tqdm) -> tuple[int, float]:
    client = AsyncOpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=600)

    async def req(i: int) -> int:
        r = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Problem {i}: what is {i} + {i}?"}],
            max_tokens=max_tokens, temperature=1.0, top_p=0.95, seed=i, extra_body={"ignore_eos": True})
        bar.update(1)
        return r.usage.completion_tokens

    t0 = time.perf_counter()
    tokens = await asyncio.gather(*(req(i) for i in range(n)))
    await client.close()
    return sum(tokens), time.perf_counter() - t0


def measure_interleaved(servers: dict[str, tuple[str, str]], args) -> dict[str, float]:
    """Alternate rounds between the servers so background load hits both alike; median tokens/s."""
    for url, model in servers.values():  # warm-up
        asyncio.run(one_round(url, model, min(8, args.requests), 16, tqdm(disable=True)))
    rates: dict[str, list[float]] = {name: [] for name in servers}
    with tqdm(total=args.requests * args.rounds * len(servers), desc="requests", unit="req") as bar:
        for r in range(args.rounds):
            order = list(servers.items())
            for name, (url, model) in (order if r % 2 == 0 else order[::-1]):  # no first-mover edge
                tokens, wall = asyncio.run(one_round(url, model, args.requests, args.max_tokens, bar))
                rates[name].append(tokens / wall)
    return {name: statistics.median(r) for name, r in rates.items()}


def bare_vllm(model_dir: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--served-model-name", "bare", "--dtype", "float32", "--trust-remote-code",
           "--max-model-len", "2048", "--host", "127.0.0.1", "--port", str(port)]
    env = build_env(ServeOptions(model=str(model_dir)))
    return subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    model_dir = build_tiny_model(work / "ring-tiny")

    ring = VllmServer(ServeOptions(model=str(model_dir), port=free_port(), served_name="ring-tiny"),
                      log_path=work / "ring.log")
    # the peer: vLLM's own server started by hand, no presets
    bare = VllmServer(ServeOptions(model=str(model_dir), port=free_port()), log_path=work / "bare.log")
    try:
        ring.start()
        bare.proc = bare_vllm(model_dir, bare.opts.port, bare.log_path)
        bare.wait_ready(900)
        rates = measure_interleaved({"ring": (ring.base_url, "ring-tiny"), "bare": (bare.base_url, "bare")}, args)
    finally:
        ring.stop()
        bare.stop()
    ring_rate, bare_rate = rates["ring"], rates["bare"]

    print(f"\nload: {args.requests} concurrent chat requests x {args.max_tokens} tokens, "
          f"median of {args.rounds} interleaved rounds, tiny BailingMoe float32 on CPU")
    print(f"ring serve : {ring_rate:8.1f} tokens/s")
    print(f"bare vLLM  : {bare_rate:8.1f} tokens/s")
    print(f"ratio ring/bare = {ring_rate / bare_rate:.3f}  (goal >= 0.97)")


if __name__ == "__main__":
    main()
