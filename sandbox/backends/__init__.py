"""Isolation backends: each starts warm workers (sandbox/worker.py) behind some boundary."""
from __future__ import annotations

import os
import shutil

BACKENDS = ("bwrap", "unshare", "docker", "process")
ENV_VAR = "RINGLAB_SANDBOX_BACKEND"


def resolve_backend(name: str | None = None) -> str:
    """The backend to use: the argument, else $RINGLAB_SANDBOX_BACKEND, else auto: bwrap when
    installed, else unshare (util-linux). ``process`` (rlimits only, no isolation) is never
    picked automatically.
    """
    chosen = (name or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if chosen == "auto":
        if shutil.which("bwrap"):
            return "bwrap"
        if all(shutil.which(t) for t in ("unshare", "setpriv", "pivot_root")):
            return "unshare"
        raise RuntimeError(
            "no sandbox available: install bubblewrap (scripts/install_sandbox_deps.sh), "
            f"or choose {ENV_VAR}=docker, or explicitly opt into the unsafe {ENV_VAR}=process")
    if chosen not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {chosen!r}; choose one of {', '.join(BACKENDS)}")
    return chosen


def worker_class(name: str):
    if name == "bwrap":
        from sandbox.backends.bwrap import BwrapWorker
        return BwrapWorker
    if name == "unshare":
        from sandbox.backends.unshare import UnshareWorker
        return UnshareWorker
    if name == "docker":
        from sandbox.backends.docker import DockerWorker
        return DockerWorker
    if name == "process":
        from sandbox.backends.process import ProcessWorker
        return ProcessWorker
    raise ValueError(f"unknown sandbox backend {name!r}")
