"""Whole-sandbox memory and process caps through cgroups, when the host lets us make them.

Per-process rlimits bound one program, but a program that forks may multiply its memory by
RLIMIT_NPROC. A cgroup around the whole sandbox caps the sum. Works with cgroup v2 (unified) and
v1 (memory + pids hierarchies); when neither is writable the sandbox runs without one.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(os.environ.get("RINGLAB_CGROUP_ROOT", "/sys/fs/cgroup"))
GROUP = "ringlab-sandbox"
_swept = False


def _v2_base() -> Path | None:
    if not (ROOT / "cgroup.controllers").exists():
        return None
    controllers = (ROOT / "cgroup.controllers").read_text().split()
    return ROOT if {"memory", "pids"} <= set(controllers) else None


class SandboxCgroup:
    """A fresh cgroup (or v1 pair) with memory and pids limits; ``add(pid)`` moves a process in."""

    def __init__(self, memory_mb: int, pids_max: int):
        self.memory_mb, self.pids_max = int(memory_mb), int(pids_max)
        self.dirs: list[Path] = []
        name = f"w-{uuid.uuid4().hex[:12]}"
        base = _v2_base()
        if base is not None:
            parent = base / GROUP
            parent.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+memory +pids")
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
            self._make(parent / name, {"memory.max": self.memory_mb << 20, "memory.swap.max": 0,
                                       "pids.max": self.pids_max})
        else:
            self._make(ROOT / "memory" / GROUP / name, {"memory.limit_in_bytes": self.memory_mb << 20})
            self._make(ROOT / "pids" / GROUP / name, {"pids.max": self.pids_max})

    def _make(self, path: Path, settings: dict) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.dirs.append(path)
        for key, value in settings.items():
            if (path / key).exists():
                (path / key).write_text(str(value))

    def add(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                f = d / name
                if f.exists():
                    for line in f.read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
        return 0

    def kill_all(self) -> None:
        for d in self.dirs:
            try:
                pids = (d / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass

    def remove(self) -> None:
        self.kill_all()
        dirs, self.dirs = self.dirs, []
        if not _rmdir_all(dirs, tries=30):
            # Processes killed under memory pressure can take seconds to leave; finish later.
            threading.Thread(target=_rmdir_all, args=(dirs, 600), daemon=True).start()


def _rmdir_all(dirs: list[Path], tries: int) -> bool:
    left = list(dirs)
    for _ in range(tries):
        for d in list(left):
            try:
                d.rmdir()
                left.remove(d)
            except FileNotFoundError:
                left.remove(d)
            except OSError:
                pass
        if not left:
            return True
        time.sleep(0.1)
    return not left


def sweep_stale(max_age_s: float = 60.0) -> None:
    """Remove empty per-worker groups left by processes that died without cleaning up."""
    now = time.time()
    for parent in (ROOT / GROUP, ROOT / "memory" / GROUP, ROOT / "pids" / GROUP):
        if not parent.is_dir():
            continue
        for d in parent.glob("w-*"):
            try:
                if now - d.stat().st_mtime > max_age_s:
                    d.rmdir()  # fails harmlessly while the group still has processes
            except OSError:
                pass


def try_cgroup(memory_mb: int, pids_max: int) -> tuple[SandboxCgroup | None, str]:
    """A cgroup, or None with the reason it could not be made (not root, read-only, ...)."""
    if os.environ.get("RINGLAB_SANDBOX_CGROUPS", "1") == "0":
        return None, "disabled by RINGLAB_SANDBOX_CGROUPS=0"
    global _swept
    try:
        if not _swept:  # once per process: clear groups that crashed runs left behind
            _swept = True
            sweep_stale()
        return SandboxCgroup(memory_mb, pids_max), ""
    except OSError as exc:
        return None, f"no cgroup: {exc}"
