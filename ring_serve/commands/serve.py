"""`ring serve`: vLLM's OpenAI-compatible server with Ring-lite presets (``ring_serve.vllm_server``)."""
from __future__ import annotations

import signal

import typer

app = typer.Typer()


@app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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
    from ring_serve.extras import require

    require("vllm")  # the engine runs in a child process: say which extra brings it, up front
    if model is not None and model.startswith("-"):
        # no MODEL given: click filled the argument with the first vLLM option (ignore_unknown_options)
        ctx.args.insert(0, model)
        model = None
    from ring_core.service import ServiceError
    from ring_serve.vllm_server import ServeOptions, VllmServer, vllm_flavour

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
    except ServiceError as exc:
        typer.echo(str(exc), err=True)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    raise typer.Exit(code)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt
