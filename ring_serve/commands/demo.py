"""`ring demo`: the README's first command (``ring_serve.demo``)."""
from __future__ import annotations

import typer

app = typer.Typer()


@app.command("demo")
def demo(prompt: str = typer.Option("What is 17 + 25? Put the final answer in \\boxed{}.", help="Chat message."),
         port: int = typer.Option(0, help="Port for the temporary server (0: a free one).")) -> None:
    """Build the tiny model, serve it on vLLM, send one chat request and print the answer."""
    from ring_serve.demo import run_demo

    raise typer.Exit(run_demo(prompt=prompt, port=port))
