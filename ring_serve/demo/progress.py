"""The demo's one progress display (rich): a row per stage with its elapsed time, and a total row
with the estimate for the rest.

The estimate starts from each stage's measured duration (``Recipe.estimate_s``); a training stage
that reports steps re-estimates from its own pace. On a terminal the rows update live; in a log
(no terminal) each finished stage prints one line and the final board prints once at the end.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from ring_serve.demo.recipe import STAGES, Recipe


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _TimeColumn(ProgressColumn):
    """Elapsed for a running or finished stage, 'reused' for one taken from RING_HOME, ETA for the total."""

    def __init__(self, board: "StageBoard"):
        super().__init__()
        self.board = board

    def render(self, task: Task) -> Text:
        return Text(self.board.time_text(task.fields["key"]), style="cyan")


class StageBoard:
    def __init__(self, recipe: Recipe, console: Console):
        self.recipe, self.console = recipe, console
        self.progress = Progress(TextColumn("{task.fields[mark]}"), TextColumn("{task.description}"),
                                 BarColumn(bar_width=16), TextColumn("{task.fields[note]}"), _TimeColumn(self),
                                 console=console, transient=False, refresh_per_second=4)
        self.tasks = {s.key: self.progress.add_task(s.title, total=1, key=s.key, mark="·", note="")
                      for s in STAGES}
        self.total = self.progress.add_task("[bold]total", total=len(STAGES), key="total", mark=" ", note="")
        self.t0 = time.monotonic()
        self.started: dict[str, float] = {}
        self.elapsed: dict[str, float] = {}  # finished stages (0 for reused ones)
        self.reused: set[str] = set()
        self.steps: dict[str, tuple[int, int]] = {}

    def __enter__(self) -> "StageBoard":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def begin(self, key: str) -> None:
        self.started[key] = time.monotonic()
        self._update(key, mark="[yellow]▶[/yellow]")

    def note(self, key: str, text: str) -> None:
        self._update(key, note=text)

    def step(self, key: str, done: int, total: int) -> None:
        """A training stage's progress in steps (drives the bar and its own estimate)."""
        self.steps[key] = (done, total)
        self.progress.update(self.tasks[key], completed=done, total=total, note=f"step {done}/{total}")

    def finish(self, key: str, reused: bool = False, took_s: float | None = None) -> None:
        title = self.progress.tasks[self.tasks[key]].description
        if reused:
            self.reused.add(key)
            self.elapsed[key] = 0.0
            line = f"[green]↺[/green] {key:<9} reused from {self.recipe.home} (took {clock(took_s or 0)} then)"
        else:
            self.elapsed[key] = time.monotonic() - self.started[key]
            line = f"[green]✓[/green] {key:<9} {clock(self.elapsed[key])}  {title}"
        task = self.progress.tasks[self.tasks[key]]
        self.progress.update(self.tasks[key], completed=task.total, mark="[green]✓[/green]",
                             note="reused" if reused else "")
        self.progress.update(self.total, completed=len(self.elapsed))
        self.progress.console.print(line)

    def fail(self, key: str) -> None:
        self._update(key, mark="[red]✗[/red]", note="[red]failed[/red]")

    def _update(self, key: str, **fields) -> None:
        self.progress.update(self.tasks[key], **fields)

    def stage_left_s(self, key: str) -> float:
        """What is left of one stage: all of its estimate if not started, nothing once finished."""
        if key in self.elapsed:
            return 0.0
        estimate = self.recipe.estimate_s(key)
        if key not in self.started:
            return estimate
        ran = time.monotonic() - self.started[key]
        done, total = self.steps.get(key, (0, 0))
        if done >= 5:  # a few steps in, the stage's own pace beats the stored guess
            return ran / done * (total - done)
        return max(estimate - ran, 5.0)

    def time_text(self, key: str) -> str:
        if key == "total":
            left = sum(self.stage_left_s(s.key) for s in STAGES)
            elapsed = clock(time.monotonic() - self.t0)
            return elapsed if left == 0 else f"{elapsed}, about {clock(left)} left"
        if key in self.reused:
            return "reused"
        if key in self.elapsed:
            return clock(self.elapsed[key])
        if key in self.started:
            return clock(time.monotonic() - self.started[key])
        return f"~{clock(self.recipe.estimate_s(key))}"
