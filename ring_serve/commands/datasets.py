"""`ring datasets list|pull`: see and pre-fetch the hub benchmarks `ring eval --source hub` loads."""
from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks from the Hugging Face hub (cache: $HF_HUB_CACHE, $HF_HOME/hub or "
                       "$RING_HOME/hf-hub).", no_args_is_help=True)


@app.command("list")
def datasets_list() -> None:
    """Each hub suite: its repository, files, whether it is gated, and the cached commit (if any)."""
    from rich.console import Console
    from rich.table import Table

    from evaluators.runner import hub

    table = Table(title=f"hub benchmarks (cache {hub.cache_dir()})",
                  caption="livecodebench also takes release_vN, vN and vA_vB; NAME@REVISION pins a commit")
    for col in ("suite", "repository", "files", "gated"):
        table.add_column(col)
    table.add_column("cached commit", min_width=40, no_wrap=True)
    for spec in hub.listed():
        try:
            commit = hub.fetch(spec, local_only=True).commit
        except hub.HubError:
            commit = "-"
        files = ", ".join(spec.files) if len(spec.files) < 3 else f"{spec.files[0]} .. {spec.files[-1]}"
        table.add_row(spec.name, spec.repo_id, files, "yes" if spec.gated else "no", commit)
    console = Console()
    if not console.is_terminal:  # logs and pipes: do not wrap the table into 80 columns
        console.width = max(console.width, 160)
    console.print(table)


@app.command("pull")
def datasets_pull(names: list[str] = typer.Argument(..., help="Suites, e.g. aime24 livecodebench:release_v6 "
                                                      "gpqa_diamond (gated: needs HF_TOKEN)."),
                  since: str = typer.Option(None, help="Also count LCB problems from this contest date."),
                  until: str = typer.Option(None, help="... up to this contest date.")) -> None:
    """Download (or, with HF_HUB_OFFLINE=1, check the cache for) each suite; print commit and size."""
    from evaluators.runner import datasets, hub

    failed = 0
    for name in names:
        try:
            ds = datasets.load_hub(name, since=since, until=until)
        except ValueError as exc:  # HubError and malformed files alike
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        typer.echo(f"{ds.name}: {len(ds.problems)} problems, revision {ds.revision}, hash {ds.hash[:12]}, "
                   f"{ds.source} (cache {hub.cache_dir()})")
    raise typer.Exit(1 if failed else 0)
