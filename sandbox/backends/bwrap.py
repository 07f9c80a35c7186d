"""Default backend: bubblewrap namespaces (user, pid, net, mount, ipc, uts, cgroup).

The worker is PID 1 of a fresh PID namespace, sees a read-only /usr, an empty private tmpfs /tmp,
no network interface but its own loopback, none of the host's environment, and runs as the host's
``nobody`` so rlimits (RLIMIT_NPROC included) bind.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from sandbox.backends.base import SANDBOX_UID, WORKER_SOURCE, WorkerHandle, kill_sandbox
from sandbox.cgroups import try_cgroup

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


class BwrapWorker(WorkerHandle):
    backend = "bwrap"

    def _spawn(self) -> None:
        if not shutil.which("bwrap"):
            raise RuntimeError("bubblewrap is not installed (apt-get install bubblewrap)")
        python = self.options.get("python") or os.environ.get("RINGLAB_SANDBOX_PYTHON", "/usr/bin/python3")
        argv = bwrap_argv(python, self.options.get("tmp_mb", 64))
        drop = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []} if os.geteuid() == 0 else {}
        self.cgroup, self.cgroup_note = try_cgroup(
            int(self.options.get("sandbox_memory_mb") or os.environ.get("RINGLAB_SANDBOX_CGROUP_MB", 4096)),
            int(self.options.get("pids_max", 256)))
        # The shell waits for one line on stdin, so the host can move it into the cgroup before
        # bwrap starts anything; everything the sandbox forks later inherits the group.
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", 'read -r _ && exec "$@"', "sh", *argv], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"}, cwd="/",
            start_new_session=True, **drop)
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
            return f" (bwrap: {err})" if err else ""
        except Exception:
            return ""

    def close(self) -> None:
        # The file objects own the pipe fds; let them close them.
        self.rfd = self.wfd = None
        self._kill()

    def _kill(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is None:
            return
        kill_sandbox(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if getattr(self, "cgroup", None) is not None:
            self.cgroup.remove()
            self.cgroup = None
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.proc = None
