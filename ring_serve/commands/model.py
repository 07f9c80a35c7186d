"""`ring model tiny`: write the tiny Ring-lite-architecture model (``ring_serve.tiny_model``)."""
from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Build or inspect model checkpoints.", no_args_is_help=True)


@app.command("tiny")
def model_tiny(out: Path = typer.Option(None, help="Output directory (default: RING_HOME/models/ring-tiny)."),
               seed: int = typer.Option(0, help="Seed for tokenizer corpus and weights."),
               script: str = typer.Option(None, help="Test fixture: a model that always answers this text.")) -> None:
    """Write a tiny BailingMoe (Ring-lite architecture) model, offline and deterministically."""
    from ring_core.paths import tiny_model_dir
    from ring_serve.tiny_model import build_tiny_model

    path = build_tiny_model(out or tiny_model_dir(), seed=seed, script=script)
    size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    typer.echo(f"tiny BailingMoeForCausalLM written to {path} ({size:.1f} MB, seed {seed})")
