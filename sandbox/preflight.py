"""Refuse to grade code without isolation: before a service accepts programs, run one probe
through the configured backend and check what the program can see from inside.

A backend that cannot start (bubblewrap in a container without the privileges it needs, no
docker engine) or that leaks the network or the service's environment fails the check with a
message saying what to change, instead of the service starting and grading unsafely or erroring
on every request.
"""
from __future__ import annotations

import json
import os
import secrets

from sandbox.api import run
from sandbox.backends import ENV_VAR, resolve_backend
from sandbox.pool import WorkerPool

PROBE = (
    "import json, os, socket\n"
    "print(json.dumps({'ifaces': sorted(n for _, n in socket.if_nameindex()), 'env': sorted(os.environ)}))\n"
)
CANARY = "RINGLAB_SANDBOX_CANARY"
CONTAINER_HINT = (
    "inside a container, bubblewrap needs user namespaces and its own /proc: run it with "
    "--security-opt seccomp=unconfined --security-opt systempaths=unconfined "
    "(compose: security_opt; also apparmor=unconfined where AppArmor is on)")


class SandboxUnavailable(RuntimeError):
    """The code sandbox cannot isolate programs here."""


def in_container() -> bool:
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def check_isolation(backend: str | None = None) -> str:
    """Probe the backend; return a one-line report, or raise SandboxUnavailable saying why.

    The unsafe ``process`` backend passes with a warning: it is only ever used when named.
    """
    try:
        name = resolve_backend(backend)
    except (RuntimeError, ValueError) as exc:
        raise SandboxUnavailable(str(exc)) from exc
    if name == "process":
        return (f"WARNING: code runs UNISOLATED ({ENV_VAR}=process): programs can read this "
                "machine's files and use its network")
    canary = secrets.token_hex(8)
    os.environ[CANARY] = canary  # a sandbox that passes the environment through would show it
    pool = WorkerPool(name, size=1)
    try:
        res = run(PROBE, backend=pool, timeout_s=10, memory_mb=256)
    except Exception as exc:  # the worker could not even start
        raise SandboxUnavailable(_why(name, str(exc))) from exc
    finally:
        pool.close()
        os.environ.pop(CANARY, None)
    if res.status != "ok":
        raise SandboxUnavailable(_why(name, res.error or res.stderr or res.status))
    try:
        seen = json.loads(res.stdout)
    except ValueError as exc:
        raise SandboxUnavailable(f"{name} sandbox probe printed {res.stdout[:200]!r}") from exc
    leaks = []
    if set(seen["ifaces"]) - {"lo"}:
        leaks.append(f"network interfaces {sorted(set(seen['ifaces']) - {'lo'})}")
    if CANARY in seen["env"] or "RING_API_KEY" in seen["env"]:
        leaks.append("the service's environment")
    if leaks:
        raise SandboxUnavailable(f"{name} sandbox does not isolate: programs see {' and '.join(leaks)}")
    return f"code sandbox: {name} (no network, clean environment)"


def _why(name: str, detail: str) -> str:
    hint = f"; {CONTAINER_HINT}" if name in ("bwrap", "unshare") and in_container() else ""
    return (f"the {name} code sandbox cannot start: {detail.strip()[-400:]}{hint}; "
            f"or choose another backend with {ENV_VAR}")
