"""The one way Ring Lab runs a child service: vLLM, the reward service, the dashboard, test servers.

A ``Service`` starts its command in a new process group (so engine workers and other grandchildren
go down with it), waits for an HTTP health URL, and raises with the tail of the child's own log if
the child dies or never becomes healthy. ``stop`` sends SIGTERM to the whole group, then SIGKILL.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Mapping, Sequence


class ServiceError(RuntimeError):
    """The child exited or never became healthy; the message carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Service:
    """Start, health-check and stop one child process (and its process group)."""

    def __init__(self, name: str, command: Sequence[str], health_url: str, *,
                 env: Mapping[str, str] | None = None, log_path: str | Path | None = None,
                 keep_log: bool = True):
        self.name, self.command, self.health_url = name, list(command), health_url
        self.env = dict(env) if env is not None else None
        self.log_path = Path(log_path) if log_path else Path(
            tempfile.mkstemp(prefix=f"ring-{name}-", suffix=".log")[1])
        self.keep_log = keep_log
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> "Service":
        """Start the child in its own process group; output goes to ``log_path``."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def start(self, timeout_s: float = 600.0) -> "Service":
        """Spawn, then wait until healthy; on failure the child is stopped and ServiceError raised."""
        self.spawn()
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout_s: float, poll_s: float = 0.25) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServiceError(f"{self.name} exited with code {code} while starting:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(poll_s)
        raise ServiceError(f"{self.name} did not become healthy within {timeout_s:.0f}s:\n{self.log_tail()}")

    def healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=timeout_s) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM the whole process group, SIGKILL what is left after ``grace_s``; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._kill_group_leftovers()
        if not self.keep_log:
            self.log_path.unlink(missing_ok=True)
        return self.proc.poll()

    def _kill_group_leftovers(self) -> None:
        # the leader may exit before its workers: whatever still runs in the group is killed too
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "Service":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
