"""`ring eval`: turn CLI options into an EvalConfig (or an lm-eval call) and print the table."""
from __future__ import annotations

from typing import Any

import typer

app = typer.Typer()


@app.command("eval")
def eval_cmd(endpoint: str = typer.Option(..., help="OpenAI-compatible base URL, e.g. http://host:8000/v1."),
             model: str = typer.Option(..., help="Model name the endpoint serves (also the name stored)."),
             suite: str = typer.Option("aime24,aime25,math500", help="Comma-separated: aime24, aime25, math500, "
                                       "gpqa_diamond, livecodebench[:release_v6], "
                                       "synthetic[:n=8:difficulty=2:kinds=arith:target=42], "
                                       "jsonl:PATH (your math problems: id, problem, answer per line); "
                                       "NAME@REVISION pins a hub dataset commit."),
             source: str = typer.Option("auto", help="auto (shipped AIME/MATH-500; GPQA/LCB from your file "
                                        "if given, else the hub), local, or hub (Hugging Face hub; cached, "
                                        "HF_HUB_OFFLINE=1 reads only the cache). See `ring datasets list`."),
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
    raise typer.Exit(eval_command(**locals()))


def eval_command(*, endpoint: str, model: str, suite: str, k: int, concurrency: int, temperature: float,
                 top_p: float, max_tokens: int, seed: int | None, api_key: str | None, limit: int | None,
                 gpqa_csv: str | None, gpqa_seed: int, lcb_jsonl: str | None, since: str | None,
                 until: str | None, prompt: list[str] | None, tag: list[str] | None, timeout: float,
                 retries: int, progress: bool, harness: str, tasks: str | None, source: str = "auto",
                 include_path: str | None, **_: Any) -> int:
    """Exit code: 0 done, 1 user error or failed samples, 130 interrupted."""
    from rich.console import Console

    from evaluators.runner.run import EvalConfig, EvalError, render_table, run_eval

    console = Console()
    if not console.is_terminal:  # logs and pipes: do not squeeze the table into 80 columns
        console.width = max(console.width, 150)
    err = Console(stderr=True)
    if harness == "lm-eval":
        from evaluators.runner.lm_eval_bridge import LmEvalError, run_lm_eval

        if not tasks:
            err.print("[red]--harness lm-eval needs --tasks[/red]")
            return 1
        try:
            stored = run_lm_eval(endpoint=endpoint, model=model, tasks=tasks.split(","),
                                 include_path=include_path, limit=limit, api_key=api_key,
                                 max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                 concurrency=concurrency, seed=seed, tags=tag or [])
        except LmEvalError as exc:
            err.print(f"[red]{exc}[/red]")
            return 1
        for name, info in stored.items():
            console.print(f"{name}: run {info['run_id']}, {info['samples']} samples, metrics {info['metrics']}")
        return 0
    if harness != "native":
        err.print(f"[red]--harness must be native or lm-eval, got {harness!r}[/red]")
        return 1
    cfg = EvalConfig(endpoint=endpoint, model=model, suites=suite.split(","), k=k, concurrency=concurrency,
                     temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
                     api_key=api_key, limit=limit, gpqa_csv=gpqa_csv, gpqa_seed=gpqa_seed,
                     lcb_jsonl=lcb_jsonl, since=since, until=until, source=source,
                     prompt_overrides=prompt or [],
                     tags=tag or [], timeout_s=timeout, max_retries=retries,
                     progress=progress, notify=lambda msg: err.print(f"[yellow]note:[/yellow] {msg}"))
    try:
        runs = run_eval(cfg)
    except EvalError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted: finished samples are stored; run the same command again to resume")
        return 130
    console.print(render_table(cfg, runs))
    for sr in runs:
        if sr.last_error:
            err.print(f"{sr.dataset.name}: {sr.errors} failed requests, last: {sr.last_error}")
    return 0 if all(sr.status == "done" and not sr.errors for sr in runs) else 1
