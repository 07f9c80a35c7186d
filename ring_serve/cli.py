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


train_app = typer.Typer(help="Ring-lite training: distillation SFT, checkpoint selection, RL (C3PO).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("sft")
def train_sft(model: Path = typer.Option(None, help="Checkpoint dir (default: the tiny model)."),
              out: Path = typer.Option(None, help="Checkpoint output dir (default: RING_HOME/train/sft-seedN)."),
              steps: int = typer.Option(300, help="Optimiser steps."),
              batch_size: int = typer.Option(16, help="Traces per step."),
              lr: float = typer.Option(2e-3, help="Peak AdamW learning rate."),
              seed: int = typer.Option(0, help="Seed for data, init order and sampling."),
              eval_every: int = typer.Option(100, help="Checkpoint + evaluate every N steps."),
              max_operand: int = typer.Option(20, help="Largest operand in the synthetic tasks."),
              kinds: str = typer.Option("add", help="Task kinds, comma-separated: "
                                                    "add,chain,multi,program,code,science."),
              n_val: int = typer.Option(48, help="Held-out validation tasks.")) -> None:
    """Distillation SFT on synthetic <think> traces; saves checkpoints with entropy and val accuracy."""
    from trainer.cli import sft

    raise typer.Exit(sft(model, out, steps, batch_size, lr, seed, eval_every, max_operand, kinds, n_val))


@train_app.command("select")
def train_select(checkpoints: Path = typer.Argument(..., help="Directory of SFT checkpoints."),
                 lo: float = typer.Option(0.3, help="Entropy window, lower end."),
                 hi: float = typer.Option(0.5, help="Entropy window, upper end."),
                 by: str = typer.Option("entropy", help="Pick by 'entropy' (paper) or 'accuracy'."),
                 as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Rank SFT checkpoints by entropy window and by validation accuracy; print the pick."""
    from trainer.cli import select

    raise typer.Exit(select(checkpoints, lo, hi, by, as_json))


@train_app.command("rl")
def train_rl(policy: Path = typer.Argument(..., help="Starting checkpoint (e.g. the `ring train select` pick)."),
             out: Path = typer.Option(None, help="Checkpoint dir (default: RING_HOME/train/rl-STAGE-MODE-seedN)."),
             stage: str = typer.Option("math", help="'math' or 'code-science'."),
             steps: int = typer.Option(100, help="RL steps."),
             prompts_per_step: int = typer.Option(8, help="Prompts per step."),
             group_size: int = typer.Option(8, help="Responses per prompt (K)."),
             mode: str = typer.Option("c3po", help="'c3po' (token budget) or 'grpo'."),
             budget: int = typer.Option(1024, help="C3PO token budget Phi per step."),
             defer: bool = typer.Option(False, help="Defer responses over budget instead of dropping them."),
             lr: float = typer.Option(5e-5, help="AdamW learning rate (measured best on the tiny model)."),
             seed: int = typer.Option(0, help="Seed for prompts and sampling."),
             save_every: int = typer.Option(20, help="Checkpoint every N steps."),
             resume: bool = typer.Option(False, help="Continue from the newest checkpoint in --out."),
             sampler: str = typer.Option("vllm", help="'vllm' (in-process engine) or 'torch'."),
             max_operand: int = typer.Option(20, help="Largest operand in the synthetic tasks."),
             max_new_tokens: int = typer.Option(None, help="Rollout length limit "
                                                           "(default: 40 math, 64 code-science)."),
             reward_url: str = typer.Option(None, help="Grade with `ring reward serve` at this URL "
                                                       "(key from $RING_API_KEY); default: in-process."),
             micro_tokens: int = typer.Option(4096, help="Tokens per packed micro-batch of the update "
                                                         "(bounds its memory; gradients accumulate).")) -> None:
    """RL with C3PO: vLLM rollouts, verifier rewards, in-place weight sync, metrics in the results DB."""
    from trainer.cli import rl

    raise typer.Exit(rl(policy, out, stage, steps, prompts_per_step, group_size, mode, budget, defer, lr, seed,
                        save_every, resume, sampler, max_operand, max_new_tokens, reward_url, micro_tokens))


@train_app.command("eval")
def train_eval(checkpoints: list[Path] = typer.Argument(..., help="Checkpoint dirs (the SFT pick, an RL step...)."),
               kinds: str = typer.Option("add", help="Held-out task kinds, comma-separated (math kinds)."),
               max_operand: int = typer.Option(20, help="Largest operand (as in training)."),
               seed: int = typer.Option(0, help="Data seed of the SFT/RL runs (picks the held-out suite)."),
               n_val: int = typer.Option(48, help="Held-out problems to draw (> 48: more, minus training questions)."),
               k: int = typer.Option(1, help="Samples per problem."),
               temperature: float = typer.Option(0.0, help="0: greedy."),
               top_p: float = typer.Option(1.0, help="Top-p."),
               max_tokens: int = typer.Option(None, help="Max new tokens per sample (default: fits the kinds' traces)."),
               sample_seed: int = typer.Option(0, help="Base sampling seed sent to the server.")) -> None:
    """Serve each checkpoint with vLLM and score it on the held-out synthetic suite with `ring eval`."""
    from trainer.cli import served_eval

    raise typer.Exit(served_eval(checkpoints, kinds, max_operand, seed, n_val, k, temperature, top_p, max_tokens,
                                 sample_seed))


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


@app.command("eval")
def eval_cmd(endpoint: str = typer.Option(..., help="OpenAI-compatible base URL, e.g. http://host:8000/v1."),
             model: str = typer.Option(..., help="Model name the endpoint serves (also the name stored)."),
             suite: str = typer.Option("aime24,aime25,math500", help="Comma-separated: aime24, aime25, math500, "
                                       "gpqa_diamond, livecodebench, synthetic[:n=8:difficulty=2:kinds=arith:target=42], "
                                       "jsonl:PATH (your math problems: id, problem, answer per line)."),
             k: int = typer.Option(16, help="Samples per problem."),
             concurrency: int = typer.Option(32, help="Requests in flight at most."),
             temperature: float = typer.Option(1.0, help="Sampling temperature (paper: 1.0)."),
             top_p: float = typer.Option(0.95, help="Top-p (paper: 0.95)."),
             max_tokens: int = typer.Option(32768, help="Max new tokens per sample."),
             seed: int = typer.Option(None, help="Base seed; sample i is sent seed*1000003+i."),
             api_key: str = typer.Option(None, envvar="RING_EVAL_API_KEY", help="Bearer key for the endpoint."),
             limit: int = typer.Option(None, help="Only the first N problems of each suite."),
             gpqa_csv: str = typer.Option(None, envvar="RING_GPQA_CSV", help="Your copy of gpqa_diamond.csv."),
             gpqa_seed: int = typer.Option(0, help="Seed of the GPQA choice shuffle."),
             lcb_jsonl: str = typer.Option(None, envvar="RING_LCB_JSONL", help="LCB code_generation_lite JSONL."),
             since: str = typer.Option(None, help="LCB contest dates from (YYYY-MM[-DD], inclusive)."),
             until: str = typer.Option(None, help="LCB contest dates to (YYYY-MM[-DD], inclusive)."),
             prompt: list[str] = typer.Option(None, help="Override a template: NAME=FILE (math, gpqa, "
                                              "code_stdin, code_functional)."),
             tag: list[str] = typer.Option(None, help="Tag for the runs (repeatable)."),
             timeout: float = typer.Option(3600, help="Seconds per request before it is retried."),
             retries: int = typer.Option(6, help="Retries on 429/5xx/timeouts."),
             progress: bool = typer.Option(True, help="Show a progress bar."),
             harness: str = typer.Option("native", help="native, or lm-eval (runs lm-eval's simple_evaluate)."),
             tasks: str = typer.Option(None, help="lm-eval task names (with --harness lm-eval)."),
             include_path: str = typer.Option(None, help="lm-eval --include_path (default: our task YAMLs).")) -> None:
    """Score an OpenAI-compatible endpoint; every sample is stored, and a re-run resumes."""
    from evaluators.runner.cli import eval_command

    raise typer.Exit(eval_command(**locals()))


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


reward_app = typer.Typer(help="Verifiers as RL reward endpoints over HTTP.", no_args_is_help=True)
app.add_typer(reward_app, name="reward")


@reward_app.command("serve")
def reward_serve(port: int = typer.Option(8100, help="Port."),
                 host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 for the network)."),
                 workers: int = typer.Option(None, min=1, help="Items graded at once (default: 2 per CPU, at least 4)."),
                 queue_size: int = typer.Option(256, min=1, help="Items admitted before answering 429."),
                 deadline: float = typer.Option(30.0, min=0.1, help="Default per-item deadline in seconds."),
                 max_batch: int = typer.Option(1024, min=1, help="Most items in one request."),
                 max_body_mb: float = typer.Option(32.0, min=0.001, help="Request body size limit in MiB."),
                 api_key: str = typer.Option(None, envvar="RING_API_KEY", help="Require this bearer key."),
                 log_level: str = typer.Option("info", help="uvicorn log level.")) -> None:
    """Serve the math, gpqa and code verifiers as rewards (FastAPI; docs at /docs)."""
    from ring_serve.reward.app import RewardSettings, serve as serve_rewards

    settings = RewardSettings(queue_size=queue_size, deadline_s=deadline, max_batch=max_batch,
                              max_body_bytes=int(max_body_mb * 1024 * 1024), api_key=api_key or None)
    if workers:
        settings.workers = workers
    serve_rewards(host=host, port=port, settings=settings, log_level=log_level)


if __name__ == "__main__":
    app()
