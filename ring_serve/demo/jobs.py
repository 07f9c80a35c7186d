"""`ring ...` commands that run to completion as children, through the one launcher (``Service``).

A training job has no health URL: it is spawned in its own process group like every service,
waited on (with a callback for progress), and a non-zero exit raises ``ServiceError`` carrying the
tail of the child's own log. Its group is stopped afterwards either way, so nothing it started
(an engine worker, a grader) outlives it.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from ring_core.service import Service, ServiceError


def ring_command(*args: str) -> list[str]:
    """The `ring` CLI in this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "ring_serve.cli", *args]


class Job(Service):
    def __init__(self, name: str, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None):
        super().__init__(name, ring_command(*args), health_url="", env=env or dict(os.environ),
                         log_path=log_path)

    def run(self, on_poll: Callable[[], None] | None = None, poll_s: float = 1.0) -> None:
        """Run to the end; raises ServiceError (with the log tail) unless it exits 0."""
        self.spawn()
        try:
            while self.proc.poll() is None:
                if on_poll is not None:
                    on_poll()
                time.sleep(poll_s)
        finally:
            self.stop()  # normal end: reaps what the leader left in its group; Ctrl-C: stops it
        if self.proc.returncode != 0:
            raise ServiceError(f"`ring {' '.join(self.command[3:5])}` exited with code {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    def output(self) -> str:
        """What the job printed (its log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")
