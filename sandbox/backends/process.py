"""UNSAFE backend: rlimits only. No namespaces, so a program can read host files, reach the network
and see other processes. Use only when explicitly chosen (RINGLAB_SANDBOX_BACKEND=process), e.g.
on a machine without bubblewrap or docker, for trusted code. As root it still drops to ``nobody``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from sandbox.backends.base import SANDBOX_UID, WORKER_SOURCE, WorkerHandle


class ProcessWorker(WorkerHandle):
    backend = "process"

    def _spawn(self) -> None:
        python = (self.options.get("python") or os.environ.get("RINGLAB_SANDBOX_PYTHON")
                  or ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable))
        self.tmp = tempfile.mkdtemp(prefix="ringlab-proc-")
        drop = {}
        if os.geteuid() == 0:
            os.chown(self.tmp, SANDBOX_UID, SANDBOX_UID)
            drop = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "LANG": "C.UTF-8",
               "SANDBOX_WORK_ROOT": self.tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        # -I would drop SANDBOX_WORK_ROOT from the environment, so isolate with -s -E equivalents.
        self.proc = subprocess.Popen(
            [python, "-s", "-B", "-c", WORKER_SOURCE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, cwd=self.tmp, start_new_session=True, **drop)
        self.wfd, self.rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()

    def close(self) -> None:
        self.rfd = self.wfd = None
        self._kill()

    def _kill(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None
        tmp = getattr(self, "tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
            self.tmp = None
