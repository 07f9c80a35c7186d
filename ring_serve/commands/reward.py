"""`ring reward serve`: the verifiers as RL reward endpoints over HTTP (``ring_serve.reward``)."""
from __future__ import annotations

import typer

app = typer.Typer(help="Verifiers as RL reward endpoints over HTTP.", no_args_is_help=True)


@app.command("serve")
def reward_serve(port: int = typer.Option(8100, help="Port."),
                 host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 for the network)."),
                 workers: int = typer.Option(None, min=1, help="Items graded at once (default: 2 per CPU, at least 4)."),
                 queue_size: int = typer.Option(256, min=1, help="Items admitted before answering 429."),
                 deadline: float = typer.Option(30.0, min=0.1, help="Default per-item deadline in seconds."),
                 max_batch: int = typer.Option(1024, min=1, help="Most items in one request."),
                 max_body_mb: float = typer.Option(32.0, min=0.001, help="Request body size limit in MiB."),
                 api_key: str = typer.Option(None, envvar="RING_API_KEY", help="Require this bearer key."),
                 log_level: str = typer.Option("info", help="uvicorn log level."),
                 sandbox_check: bool = typer.Option(
                     True, help="Refuse to start unless the code sandbox isolates a probe program.")) -> None:
    """Serve the math, gpqa and code verifiers as rewards (FastAPI; docs at /docs)."""
    from ring_serve.reward.app import RewardSettings, serve as serve_rewards

    if sandbox_check:
        from sandbox.preflight import SandboxUnavailable, check_isolation

        try:
            typer.echo(check_isolation(), err=True)
        except SandboxUnavailable as exc:
            # grading code unisolated, or failing every code request, is worse than not starting
            typer.echo(f"ring reward serve: refusing to start: {exc}", err=True)
            raise typer.Exit(3)

    settings = RewardSettings(queue_size=queue_size, deadline_s=deadline, max_batch=max_batch,
                              max_body_bytes=int(max_body_mb * 1024 * 1024), api_key=api_key or None)
    if workers:
        settings.workers = workers
    serve_rewards(host=host, port=port, settings=settings, log_level=log_level)
