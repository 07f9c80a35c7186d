"""`ring demo --quick`: serving only (about 2 minutes): the untrained tiny model on vLLM, one chat
request, a small `ring eval` (4 AIME 2024 and 4 synthetic problems, k=2) into the results DB."""
from __future__ import annotations

import time

from rich.console import Console

from ring_core.paths import TINY_MODEL_NAME
from ring_core.service import ServiceError, free_port
from ring_serve.demo.children import Children
from ring_serve.vllm_server import ServeOptions, VllmServer


def run_quick(prompt: str, port: int = 0, console: Console | None = None) -> int:
    from ring_serve.demo.report import make_console

    console = console or make_console()
    opts = ServeOptions(port=port or free_port())
    t0 = time.monotonic()
    with Children().guard() as children:
        try:
            with console.status("building the tiny model and starting vLLM (about 30-90 s on 2 cores)"):
                server = children.start(VllmServer(opts))
        except ServiceError as exc:
            console.print("[red]vLLM failed to start[/red]")
            console.print(str(exc), markup=False, highlight=False)
            return 1
        console.print(f"vLLM ready at {server.base_url}/v1 in {time.monotonic() - t0:.0f}s "
                      f"(model dir {server.opts.model})")
        _chat(console, server, prompt)
        return _small_eval(console, server)


def _chat(console: Console, server: VllmServer, prompt: str) -> None:
    from ring_serve.demo.report import print_chat
    from ring_serve.demo.serving import ask

    chat = ask(server, TINY_MODEL_NAME, prompt)
    print_chat(console, "ring-tiny (untrained)", chat)
    console.print(f"{chat['completion_tokens']} completion tokens; the tiny model is untrained, so the text is "
                  f"noise: `ring demo` without --quick trains it (SFT, then RL) and scores both")


def _small_eval(console: Console, server: VllmServer) -> int:
    from evaluators.runner.run import EvalConfig, EvalError, render_table, run_eval
    from ring_core.store import db

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
