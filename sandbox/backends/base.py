"""What every backend's worker handle shares: the framed channel to sandbox/worker.py."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from sandbox import worker as wire
from sandbox.cgroups import try_cgroup

WORKER_SOURCE = Path(wire.__file__).read_text(encoding="utf-8")
SANDBOX_UID = 65534  # nobody: programs never run as a privileged host user


def kill_sandbox(proc) -> None:
    """SIGKILL a launcher (bwrap/unshare) and its direct children.

    The child is PID 1 of the sandbox's PID namespace, so its death takes every process in the
    sandbox with it; the launcher's own process group would miss it (it runs in a new session).
    """
    for pid in _children(proc.pid):
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    try:
        os.killpg(proc.pid, 9)
    except OSError:
        pass


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    if int(fh.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return kids


class WorkerGone(RuntimeError):
    """The worker died or stopped answering; the handle must be discarded."""


class WorkerHandle:
    """One warm worker inside a sandbox. Subclasses implement ``_spawn`` and ``_kill``."""

    backend = "?"
    start_timeout_s = 30.0

    def __init__(self, **options):
        self.options = options
        self.rfd: int | None = None
        self.wfd: int | None = None
        self.hello: dict = {}
        self.jobs = 0

    def start(self) -> "WorkerHandle":
        self._spawn()
        try:
            self.hello, _ = wire.read_frame(self.rfd, time.monotonic() + self.start_timeout_s)
        except (EOFError, TimeoutError, OSError, ValueError) as exc:
            detail = self._diagnostics()
            self.close()
            raise WorkerGone(f"{self.backend} worker failed to start: {exc}{detail}") from exc
        return self

    def call(self, header: dict, blobs: list[bytes], timeout_s: float) -> tuple[dict, list[bytes]]:
        """Send one request, wait for its reply; raises WorkerGone on any channel failure."""
        self.send(header, blobs)
        reply = self.recv(timeout_s)
        self.jobs += 1
        return reply

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        if self.rfd is None:
            raise WorkerGone("worker is closed")
        try:
            wire.write_all(self.wfd, wire.encode_frame(header, list(blobs)))
        except OSError as exc:
            self.close()
            raise WorkerGone(f"{self.backend} worker lost: {exc}") from exc

    def recv(self, timeout_s: float) -> tuple[dict, list[bytes]]:
        if self.rfd is None:
            raise WorkerGone("worker is closed")
        try:
            return wire.read_frame(self.rfd, time.monotonic() + timeout_s)
        except (EOFError, TimeoutError, OSError, ValueError) as exc:
            self.close()
            raise WorkerGone(f"{self.backend} worker lost: {exc}") from exc

    def close(self) -> None:
        for fd in {self.rfd, self.wfd} - {None}:
            try:
                os.close(fd)
            except OSError:
                pass
        self.rfd = self.wfd = None
        self._kill()

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer ended inside this sandbox so far (0 if unknown)."""
        cgroup = getattr(self, "cgroup", None)
        try:
            return cgroup.oom_kills() if cgroup is not None else 0
        except OSError:
            return 0

    @property
    def alive(self) -> bool:
        return self.rfd is not None

    def _spawn(self) -> None:
        raise NotImplementedError

    def _kill(self) -> None:
        raise NotImplementedError

    def _diagnostics(self) -> str:
        return ""


class NamespacedWorker(WorkerHandle):
    """A worker started as ``argv`` in new namespaces (bwrap, unshare), inside its own cgroup.

    ``argv`` must begin by waiting for one line on stdin, so the host can move the process into
    the cgroup before anything runs; everything the sandbox forks later inherits the group.
    """

    def _argv(self, python: str) -> tuple[list[str], dict]:
        """The command line and environment; subclasses check their tools here."""
        raise NotImplementedError

    def _spawn(self) -> None:
        python = self.options.get("python") or os.environ.get("RINGLAB_SANDBOX_PYTHON", "/usr/bin/python3")
        argv, env = self._argv(python)
        drop = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []} if os.geteuid() == 0 else {}
        self.cgroup, self.cgroup_note = try_cgroup(
            int(self.options.get("sandbox_memory_mb") or os.environ.get("RINGLAB_SANDBOX_CGROUP_MB", 4096)),
            int(self.options.get("pids_max", 256)))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd="/", start_new_session=True,
                                     **drop)
        self.wfd, self.rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        if self.cgroup is not None:
            try:
                self.cgroup.add(self.proc.pid)
            except OSError as exc:
                self.cgroup_note = f"no cgroup: {exc}"
                self.cgroup.remove()
                self.cgroup = None
        os.write(self.wfd, b"go\n")

    def _diagnostics(self) -> str:
        try:
            self.proc.wait(timeout=2)
            err = self.proc.stderr.read(2000).decode(errors="replace").strip()
            return f" ({self.backend}: {err})" if err else ""
        except Exception:
            return ""

    def close(self) -> None:
        # the Popen file objects own the pipe fds; they close them in _kill
        self.rfd = self.wfd = None
        self._kill()

    def _kill(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None:
            kill_sandbox(proc)  # the sandbox's PID 1 goes, and with it every process inside
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None
        if getattr(self, "cgroup", None) is not None:
            self.cgroup.remove()
            self.cgroup = None
