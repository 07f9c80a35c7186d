"""The demo's last step: `ring dashboard` in the background, its URL printed, until Ctrl-C."""
from __future__ import annotations

import time

from rich.console import Console

from ring_core.service import ServiceError
from ring_serve.demo.children import Children
from ring_serve.demo.recipe import Recipe


def serve_dashboard(console: Console, r: Recipe, port: int = 0) -> int:
    from dashboard.server import DashboardService

    with Children().guard() as children:
        try:
            dash = children.start(DashboardService(port=port, log_path=r.log("dashboard")), timeout_s=180)
        except ServiceError as exc:
            console.print("[red bold]the dashboard failed to start[/red bold]")
            console.print(str(exc), markup=False, highlight=False)
            return 1
        console.print(f"dashboard: [bold]{dash.url}[/bold]  (Leaderboard: both models; Training: the RL run's "
                      f"curves; Compare: the problems that flipped). Ctrl-C stops it.", soft_wrap=True)
        return _wait(console, dash)


def _wait(console: Console, dash) -> int:
    try:
        while dash.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("dashboard stopped")
        return 0
    console.print("[red]the dashboard exited[/red]:")
    console.print(dash.log_tail(), markup=False, highlight=False)
    return 1
