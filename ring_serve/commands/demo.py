"""`ring demo`: the README's first command (``ring_serve.demo``)."""
from __future__ import annotations

import typer

app = typer.Typer()


@app.command("demo")
def demo(quick: bool = typer.Option(False, "--quick", help="Only serve the untrained model, chat once and run a "
                                                             "small eval (about 2 minutes)."),
         fresh: bool = typer.Option(False, "--fresh", help="Start over: drop this seed's demo directory and DB rows."),
         seed: int = typer.Option(0, help="Seed of the whole recipe (data split, SFT, RL, eval sampling)."),
         dashboard: bool = typer.Option(True, "--dashboard/--no-dashboard",
                                        help="Start `ring dashboard` at the end and wait for Ctrl-C."),
         dashboard_port: int = typer.Option(0, help="Dashboard port (0: a free one)."),
         sft_steps: int = typer.Option(400, min=1, help="SFT steps."),
         rl_steps: int = typer.Option(100, min=1, help="RL steps."),
         prompt: str = typer.Option(None, help="Chat question (default: the first held-out problem; "
                                               "with --quick a sum to box)."),
         port: int = typer.Option(0, help="--quick: port for the temporary server (0: a free one).")) -> None:
    """Build the tiny Ring-lite model, distil it, RL-train it against `ring reward serve`, score both
    checkpoints with `ring eval`, print a before/after table and open the dashboard."""
    try:
        raise typer.Exit(_quick(prompt, port) if quick else _full(seed, fresh, dashboard, dashboard_port,
                                                                    sft_steps, rl_steps, prompt))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _quick(prompt: str | None, port: int) -> int:
    from ring_serve.demo.quick import run_quick

    return run_quick(prompt or "What is 17 + 25? Put the final answer in \\boxed{}.", port=port)


def _full(seed: int, fresh: bool, dashboard: bool, dashboard_port: int, sft_steps: int, rl_steps: int,
          prompt: str | None) -> int:
    from ring_serve.demo.pipeline import DemoOptions, run_full
    from ring_serve.demo.recipe import Recipe

    recipe = Recipe(seed=seed, sft_steps=sft_steps, rl_steps=rl_steps)
    return run_full(DemoOptions(recipe, fresh=fresh, dashboard=dashboard, dashboard_port=dashboard_port,
                                prompt=prompt))
