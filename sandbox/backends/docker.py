"""Docker backend: one warm container per worker, driven through the docker Python SDK.

Containers run the locally built base image (scripts/docker_base_image.sh) with no network, a
read-only root, a size-capped tmpfs /tmp, memory and pids limits, all capabilities dropped and
``nobody`` as the user. The worker is the container's PID 1 and talks to the host over a unix
socket in a bind-mounted private directory, so no network is needed for control either.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time

from sandbox.backends.base import SANDBOX_UID, WORKER_SOURCE, WorkerHandle

DEFAULT_IMAGE = "ringlab-sandbox:py3"
IMAGE_ENV = "RINGLAB_SANDBOX_IMAGE"


def docker_client():
    import docker

    return docker.from_env(timeout=30)


def docker_unavailable_reason() -> str | None:
    """None when the engine answers and the base image exists, else why not."""
    try:
        client = docker_client()
        client.ping()
    except Exception as exc:  # engine missing/not running: say so, callers skip
        return f"docker engine not reachable ({exc}); run scripts/install_sandbox_deps.sh"
    image = os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
    try:
        client.images.get(image)
    except Exception:
        return f"docker image {image} missing; run scripts/docker_base_image.sh"
    return None


class DockerWorker(WorkerHandle):
    backend = "docker"

    def _spawn(self) -> None:
        client = docker_client()
        image = self.options.get("image") or os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
        memory_mb = int(self.options.get("sandbox_memory_mb") or os.environ.get("RINGLAB_SANDBOX_CGROUP_MB", 4096))
        self.ipc = tempfile.mkdtemp(prefix="ringlab-docker-")
        os.chmod(self.ipc, 0o777)  # the container user (nobody) creates its socket here
        sock_path = os.path.join(self.ipc, "worker.sock")
        self.container = client.containers.run(
            image, ["python3", "-I", "-B", "-c", WORKER_SOURCE, "--listen", "/ipc/worker.sock"],
            detach=True, auto_remove=True, network_mode="none", read_only=True,
            user=f"{SANDBOX_UID}:{SANDBOX_UID}", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m",
            pids_limit=int(self.options.get("pids_limit", 128)),
            tmpfs={"/tmp": f"size={int(self.options.get('tmp_mb', 64))}m,mode=1777"},
            volumes={self.ipc: {"bind": "/ipc", "mode": "rw"}}, working_dir="/tmp",
            environment={"HOME": "/tmp", "LANG": "C.UTF-8"}, hostname="sandbox",
            labels={"ringlab.sandbox": "worker"})
        deadline = time.monotonic() + self.start_timeout_s
        while not os.path.exists(sock_path):
            if time.monotonic() > deadline:
                raise RuntimeError("docker worker did not open its socket in time")
            time.sleep(0.01)
        while True:  # the socket file appears at bind(), a moment before listen()
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(sock_path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.rfd = self.wfd = self.sock.fileno()

    def oom_kills(self) -> int:
        cid = getattr(getattr(self, "container", None), "id", None)
        if not cid:
            return 0
        for path, key in ((f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control", "oom_kill"),
                          (f"/sys/fs/cgroup/docker/{cid}/memory.events", "oom_kill"),
                          (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events", "oom_kill")):
            try:
                with open(path) as fh:
                    for line in fh:
                        name, _, value = line.partition(" ")
                        if name == key:
                            return int(value)
            except OSError:
                continue
        return 0

    def close(self) -> None:
        self.rfd = self.wfd = None
        self._kill()

    def _kill(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()
            self.sock = None
        container = getattr(self, "container", None)
        if container is not None:
            try:
                container.kill()
            except Exception:
                pass  # already gone (auto_remove)
            self.container = None
        ipc = getattr(self, "ipc", None)
        if ipc:
            shutil.rmtree(ipc, ignore_errors=True)
            self.ipc = None

    def _diagnostics(self) -> str:
        try:
            return " (container log: " + self.container.logs(tail=20).decode(errors="replace") + ")"
        except Exception:
            return ""
