"""`ring demo`: the whole recipe on the tiny model, resumable, with every child stopped on exit.

    model -> sft -> select -> eval-sft -> rl (reward service + C3PO) -> eval-rl -> report -> dashboard

Finished stages are recorded in ``RING_HOME/demo/seedN/state.json`` and reused on the next run
while their inputs match and their artefacts exist (``--fresh`` starts over). A failing stage is
named with the child's own error; Ctrl-C stops everything and keeps what finished.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console

from ring_core.service import ServiceError
from ring_serve.demo.children import Children
from ring_serve.demo.progress import StageBoard, clock
from ring_serve.demo.recipe import STAGES, Recipe, Stage
from ring_serve.demo.report import make_console, print_report
from ring_serve.demo.stages import DEPENDS, STAGE_STEPS, Ctx, rl_run_name, sft_run_name
from ring_serve.demo.state import DemoState, start_over

INTERRUPTED = 130


@dataclass
class DemoOptions:
    recipe: Recipe
    fresh: bool = False
    dashboard: bool = True
    dashboard_port: int = 0
    prompt: str | None = None


class StageFailed(Exception):
    def __init__(self, stage: Stage, error: BaseException):
        super().__init__(f"stage '{stage.key}' ({stage.title}) failed: {error}")
        self.stage, self.error = stage, error


def run_full(opts: DemoOptions) -> int:
    console, r = make_console(), opts.recipe
    if opts.fresh:
        start_over(r.home, [r.sft_dir.name, r.rl_dir.name], [sft_run_name(r), rl_run_name(r)])
    state = DemoState(r.home / "state.json")
    children = Children()
    t0 = time.monotonic()
    try:
        with children.guard():
            ctx = _run_stages(console, state, children, opts)
    except StageFailed as exc:
        return _report_failure(console, exc)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]: every server the demo started is stopped; finished "
                      f"stages are kept in {state.path}, so `ring demo` resumes there")
        return INTERRUPTED
    console.print(f"stages done in {clock(time.monotonic() - t0)}")
    print_report(console, ctx.done, r.heldout_k, r.aime_k)
    if not opts.dashboard:
        return 0
    from ring_serve.demo.dashboard import serve_dashboard

    return serve_dashboard(console, r, opts.dashboard_port)


def _run_stages(console: Console, state: DemoState, children: Children, opts: DemoOptions) -> Ctx:
    with StageBoard(opts.recipe, console) as board:
        ctx = Ctx(opts.recipe, board, children, opts.prompt)
        for stage in STAGES:
            _run_stage(ctx, state, stage)
    return ctx


def _run_stage(ctx: Ctx, state: DemoState, stage: Stage) -> None:
    """Reuse the stage's record if it still holds, else run it and record what it made."""
    inputs_of, run, still_holds = STAGE_STEPS[stage.key]
    inputs = {**inputs_of(ctx), "after": {dep: ctx.record_ids[dep] for dep in DEPENDS[stage.key]}}
    rec = state.reusable(stage.key, inputs)
    if rec is not None and still_holds(rec["artefacts"]):
        ctx.done[stage.key], ctx.record_ids[stage.key] = rec["artefacts"], rec["id"]
        ctx.board.finish(stage.key, reused=True, took_s=rec["elapsed_s"])
        return
    state.forget(stage.key)  # a half-done attempt never counts as finished
    ctx.board.begin(stage.key)
    t0 = time.monotonic()
    try:
        outcome = run(ctx)
    except KeyboardInterrupt:
        ctx.board.fail(stage.key)
        raise
    except Exception as exc:  # noqa: BLE001 - any stage error is reported with the stage's name
        ctx.board.fail(stage.key)
        raise StageFailed(stage, exc) from exc
    rec = state.record(stage.key, inputs, outcome.artefacts, outcome.paths, time.monotonic() - t0)
    ctx.done[stage.key], ctx.record_ids[stage.key] = outcome.artefacts, rec["id"]
    ctx.board.finish(stage.key)


def _report_failure(console: Console, exc: StageFailed) -> int:
    console.print(f"[red bold]stage '{exc.stage.key}' failed[/red bold] ({exc.stage.title})")
    if isinstance(exc.error, ServiceError):  # the child's own error: its log tail
        console.print(str(exc.error), markup=False, highlight=False)
    else:
        console.print(f"{type(exc.error).__name__}: {exc.error}", markup=False, highlight=False)
    console.print("every server the demo started is stopped; fix the cause and run `ring demo` again "
                  "(finished stages are reused)")
    return 1
