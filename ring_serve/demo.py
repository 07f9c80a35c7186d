"""`ring demo`: the README's first command, end to end on the embedded default model.

Builds the tiny model, serves it on vLLM, asks one chat question, then runs a small `ring eval`
(AIME 2024 and synthetic slices, k=2) whose graded samples land in the results DB that
`ring dashboard` shows.
"""
from __future__ import annotations

import time

from rich.console import Console

from ring_core.paths import TINY_MODEL_NAME
from ring_core.service import free_port
from ring_core.service import ServiceError
from ring_serve.vllm_server import ServeOptions, VllmServer


def run_demo(prompt: str, port: int = 0) -> int:
    from openai import OpenAI

    console = Console()
    if not console.is_terminal:  # logs and pipes: keep the results table readable
        console.width = max(console.width, 150)
    opts = ServeOptions(port=port or free_port())
    t0 = time.monotonic()
    with console.status("building the tiny model and starting vLLM (about 30-90 s on 2 cores)"):
        server = VllmServer(opts)
        try:
            server.start()
        except ServiceError as exc:
            console.print(f"[red]vLLM failed to start[/red]\n{exc}")
            return 1
    try:
        console.print(f"vLLM ready at {server.base_url}/v1 in {time.monotonic() - t0:.0f}s "
                      f"(model dir {server.opts.model})")
        client = OpenAI(base_url=server.base_url + "/v1", api_key=server.opts.api_key or "none")
        reply = client.chat.completions.create(model=TINY_MODEL_NAME, max_tokens=48, seed=0,
                                               messages=[{"role": "user", "content": prompt}])
        msg = reply.choices[0].message
        console.print(f"[bold]user:[/bold] {prompt}")
        console.print(f"[bold]reasoning:[/bold] {getattr(msg, 'reasoning', None)!r}")
        console.print(f"[bold]answer:[/bold] {msg.content!r}")
        console.print(f"usage: {reply.usage.prompt_tokens} prompt + {reply.usage.completion_tokens} "
                      f"completion tokens; the tiny model is untrained, so the text is noise until "
                      f"`ring train` has run")
        return _small_eval(console, server)
    finally:
        server.stop()


def _small_eval(console: Console, server: VllmServer) -> int:
    from ring_core.store import db
    from evaluators.runner.run import EvalConfig, EvalError, render_table, run_eval

    cfg = EvalConfig(endpoint=server.base_url + "/v1", model=TINY_MODEL_NAME, suites=["aime24", "synthetic:n=4"],
                     k=2, limit=4, max_tokens=64, seed=0, concurrency=8, api_key=server.opts.api_key)
    console.print("\n[bold]ring eval[/bold] on 4 AIME 2024 problems and 4 synthetic ones, k=2:")
    try:
        runs = run_eval(cfg)
    except EvalError as exc:
        console.print(f"[red]eval failed:[/red] {exc}")
        return 1
    console.print(render_table(cfg, runs))
    console.print(f"samples stored in {db.redacted(db.database_url())}; see them with `ring dashboard`")
    return 0
