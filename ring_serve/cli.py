"""The `ring` command line. Each sub-command imports its package lazily so `ring --help` is fast."""
from __future__ import annotations

import signal
from pathlib import Path

import typer

app = typer.Typer(help="Ring Lab: serve, evaluate and RL-train Ring-lite (BailingMoE) models.",
                  no_args_is_help=True, add_completion=False)
model_app = typer.Typer(help="Build or inspect model checkpoints.", no_args_is_help=True)
db_app = typer.Typer(help="Results database (SQLite by default, any SQLAlchemy URL via RING_DB_URL).",
                     no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(db_app, name="db")


@model_app.command("tiny")
def model_tiny(out: Path = typer.Option(None, help="Output directory (default: RING_HOME/models/ring-tiny)."),
               seed: int = typer.Option(0, help="Seed for tokenizer corpus and weights."),
               script: str = typer.Option(None, help="Test fixture: a model that always answers this text.")) -> None:
    """Write a tiny BailingMoe (Ring-lite architecture) model, offline and deterministically."""
    from ring_serve.config import tiny_model_dir
    from ring_serve.tiny_model import build_tiny_model

    path = build_tiny_model(out or tiny_model_dir(), seed=seed, script=script)
    size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    typer.echo(f"tiny BailingMoeForCausalLM written to {path} ({size:.1f} MB, seed {seed})")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(ctx: typer.Context,
          model: str = typer.Argument(None, help="Local checkpoint dir or HF id (e.g. inclusionAI/Ring-lite). "
                                                 "Default: the tiny model, built into RING_HOME on first use."),
          host: str = typer.Option("127.0.0.1", help="Address to bind."),
          port: int = typer.Option(8000, help="Port."),
          served_model_name: str = typer.Option(None, help="Name clients use (default: dir name or HF id)."),
          api_key: str = typer.Option(None, envvar="RING_API_KEY", help="Require this bearer key on /v1."),
          max_model_len: int = typer.Option(None, help="Context length (tiny default: 2048)."),
          dtype: str = typer.Option(None, help="float32 on CPU (default), auto on GPU."),
          kv_cache_gb: float = typer.Option(1.0, help="VLLM_CPU_KVCACHE_SPACE in GiB (CPU only)."),
          timeout: float = typer.Option(900, help="Seconds to wait for the engine to become healthy.")) -> None:
    """Serve MODEL through vLLM's OpenAI-compatible API with Ring-lite presets.

    Extra arguments after the options go to vLLM unchanged (e.g. --tensor-parallel-size 2).
    """
    from ring_serve.server import ServeOptions, ServerError, VllmServer, vllm_flavour

    opts = ServeOptions(model=model, host=host, port=port, served_name=served_model_name, api_key=api_key,
                        max_model_len=max_model_len, dtype=dtype, kv_cache_gb=kv_cache_gb,
                        extra_args=list(ctx.args))
    server = VllmServer(opts)
    typer.echo(f"starting vLLM ({vllm_flavour()}) for {server.opts.model} as '{server.opts.served_name}'; "
               f"log: {server.log_path}")
    # the engine runs in its own process group: SIGTERM to us must take it down too
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        server.start(timeout_s=timeout)
        typer.echo(f"ready: {server.base_url}/v1 (model '{server.opts.served_name}'); Ctrl-C stops it")
        code = server.proc.wait()
    except ServerError as exc:
        typer.echo(str(exc), err=True)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    raise typer.Exit(code)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


@app.command()
def demo(prompt: str = typer.Option("What is 17 + 25? Put the final answer in \\boxed{}.", help="Chat message."),
         port: int = typer.Option(0, help="Port for the temporary server (0: a free one).")) -> None:
    """Build the tiny model, serve it on vLLM, send one chat request and print the answer."""
    from ring_serve.demo import run_demo

    raise typer.Exit(run_demo(prompt=prompt, port=port))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the results DB or migrate it to the newest schema."""
    from ring_serve.store import db

    url = db.upgrade()
    typer.echo(f"database at {db.redacted(url)} is at the newest schema")


@app.command()
def dashboard(port: int = typer.Option(8501, help="Port for the Streamlit server."),
              host: str = typer.Option("127.0.0.1", help="Address to bind."),
              headless: bool = typer.Option(True, help="Do not open a browser window.")) -> None:
    """Open the leaderboard (Streamlit) over the results DB."""
    from dashboard.launch import launch

    raise typer.Exit(launch(port=port, host=host, headless=headless))


if __name__ == "__main__":
    app()
