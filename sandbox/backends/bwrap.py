"""Default backend: bubblewrap namespaces (user, pid, net, mount, ipc, uts, cgroup).

The worker is PID 1 of a fresh PID namespace, sees a read-only /usr, an empty private tmpfs /tmp,
no network interface but its own loopback, none of the host's environment, and runs as the host's
``nobody`` so rlimits (RLIMIT_NPROC included) bind.
"""
from __future__ import annotations

import os
import shutil

from sandbox.backends.base import WORKER_SOURCE, NamespacedWorker

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")


def bwrap_argv(python: str, tmp_mb: int) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1",
            "--new-session", "--clearenv", "--cap-drop", "ALL", "--hostname", "sandbox"]
    for key, value in (("PATH", "/usr/local/bin:/usr/bin:/bin"), ("HOME", "/tmp"),
                       ("LANG", "C.UTF-8"), ("PYTHONDONTWRITEBYTECODE", "1")):
        argv += ["--setenv", key, value]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    real = os.path.realpath(python)
    if not real.startswith("/usr/"):  # an interpreter outside /usr: expose its prefix read-only
        prefix = os.path.dirname(os.path.dirname(real))
        argv += ["--ro-bind", prefix, prefix]
    for path in ETC_FILES:
        argv += ["--ro-bind-try", path, path]
    size = str(int(tmp_mb) << 20)
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
             "--size", str(16 << 20), "--perms", "1777", "--tmpfs", "/dev/shm",
             "--remount-ro", "/", "--chdir", "/tmp"]
    return argv + [python, "-I", "-B", "-c", WORKER_SOURCE]


class BwrapWorker(NamespacedWorker):
    backend = "bwrap"

    def _argv(self, python: str) -> tuple[list[str], dict]:
        if not shutil.which("bwrap"):
            raise RuntimeError("bubblewrap is not installed (apt-get install bubblewrap)")
        argv = bwrap_argv(python, self.options.get("tmp_mb", 64))
        return ["/bin/sh", "-c", 'read -r _ && exec "$@"', "sh", *argv], {"PATH": "/usr/bin:/bin"}
