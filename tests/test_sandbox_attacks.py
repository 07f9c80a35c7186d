"""Attack suite: hostile programs must be contained on every isolation backend.

Each attack runs against a real warm pool (bwrap namespaces, the unshare fallback, and docker
when the engine and base image exist), then checks the host is unharmed and that the same pool still serves a normal
program. Network checks never send a packet off the machine: they use route lookups (a UDP
connect() sends nothing), interface listings and a listener of our own on 127.0.0.1.
"""
from __future__ import annotations

import os
import pwd
import socket
import subprocess
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

import sandbox
from sandbox.backends.base import SANDBOX_UID
from sandbox.pool import WorkerPool

REPO = Path(__file__).resolve().parents[1]
FAKE_SECRET = "ringlab-fake-secret-" + uuid.uuid4().hex
os.environ["RINGLAB_FAKE_SECRET"] = FAKE_SECRET  # the host env a program must not see


def _docker_skip_reason() -> str | None:
    from sandbox.backends.docker import docker_unavailable_reason

    return docker_unavailable_reason()


@pytest.fixture(scope="module", params=["bwrap", "unshare", "docker"])
def pool(request):
    if request.param == "bwrap" and not _which("bwrap"):
        pytest.skip("bubblewrap not installed: run scripts/install_sandbox_deps.sh")
    if request.param == "unshare" and not all(_which(t) for t in ("unshare", "setpriv", "pivot_root")):
        pytest.skip("util-linux unshare/setpriv/pivot_root not available")
    if request.param == "docker":
        reason = _docker_skip_reason()
        if reason:
            print(f"SKIP docker attack suite: {reason}")
            pytest.skip(reason)
    # A small whole-sandbox memory cap, so the fork-and-allocate attack meets it quickly.
    p = WorkerPool(request.param, size=1, sandbox_memory_mb=768)
    yield p
    p.close()


def _which(cmd: str) -> bool:
    from shutil import which

    return which(cmd) is not None


def attack(pool, code: str, **kw) -> sandbox.ExecResult:
    res = sandbox.run(textwrap.dedent(code), backend=pool, **kw)
    assert res.backend == pool.backend
    return res


@pytest.fixture(autouse=True)
def still_serving(request):
    """After every attack the pool must still run a normal program correctly."""
    yield
    p = request.getfixturevalue("pool")
    res = sandbox.run("print(sum(map(int, input().split())))", stdin="40 2\n", backend=p)
    assert (res.status, res.stdout) == ("ok", "42\n"), res
    # and the sandbox is empty again: only the worker and this program are alive in it
    res = sandbox.run("import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))",
                      backend=p)
    assert res.stdout.strip() == "2", res


def _host_pids_with(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd and b"pytest" not in cmd:
                pids.append(int(entry))
    return pids


# ------------------------------------------------------------------ resource exhaustion
def test_fork_bomb(pool):
    res = attack(pool, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, timeout_s=1.5)
    assert res.status in ("timeout", "killed")


def test_memory_bomb_single_allocation(pool):
    res = attack(pool, "x = bytearray(16 << 30)\nprint('allocated')", memory_mb=256)
    assert res.status == "memory_limit"
    assert "allocated" not in res.stdout


def test_memory_bomb_growing(pool):
    res = attack(pool, """
        chunks = []
        while True:
            chunks.append(bytearray(32 << 20))
        """, memory_mb=256, timeout_s=20)
    assert res.status == "memory_limit"


def test_fork_and_allocate_bomb(pool):
    # Each process stays under its own RLIMIT_AS; together they exceed the sandbox's cgroup cap.
    res = attack(pool, """
        import os, time
        for _ in range(10):
            if os.fork() == 0:
                block = bytearray(100 << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(3)
                os._exit(0)
        deaths = [os.wait()[1] for _ in range(10)]
        print('oom-killed', sum(1 for s in deaths if os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9))
        """, memory_mb=256, timeout_s=60)
    if res.status == "ok":
        assert int(res.stdout.split()[1]) >= 1, res
    else:
        assert res.status in ("memory_limit", "killed", "timeout"), res


def test_infinite_loop(pool):
    res = attack(pool, "while True:\n    pass", timeout_s=1)
    assert res.status == "timeout"
    assert res.wall_s < 30


def test_long_sleep(pool):
    res = attack(pool, "import time\ntime.sleep(3600)\nprint('woke')", timeout_s=1)
    assert res.status == "timeout"
    assert res.stdout == ""


def test_gigabyte_of_output(pool):
    res = attack(pool, """
        import sys
        block = 'x' * (1 << 20)
        for _ in range(1024):
            sys.stdout.write(block)
        """, timeout_s=30)
    assert res.status == "output_limit"
    assert len(res.stdout_bytes) <= sandbox.Limits().stdout_cap


def test_ten_thousand_open_files(pool):
    res = attack(pool, """
        files = []
        try:
            for i in range(10000):
                files.append(open('/dev/null'))
        except OSError as exc:
            print('stopped', len(files), exc.errno)
        """)
    assert res.status == "ok"
    assert res.stdout.startswith("stopped"), res.stdout
    assert int(res.stdout.split()[1]) < 10000


def test_fill_tmp(pool):
    res = attack(pool, """
        import os
        written = 0
        try:
            with open('/tmp/fill', 'wb') as fh:
                for _ in range(4096):
                    fh.write(b'\\0' * (1 << 20))
                    fh.flush()
                    written += 1
        except OSError as exc:
            print('stopped', written, exc.errno)
        """, timeout_s=30)
    assert res.status == "ok"
    assert res.stdout.startswith("stopped"), res
    assert int(res.stdout.split()[1]) < 4096
    after = sandbox.run("import os; print(os.path.exists('/tmp/fill'))", backend=pool)
    assert after.stdout.strip() == "False"  # nothing carries over to the next program


def test_ctypes_segfault(pool):
    res = attack(pool, "import ctypes\nctypes.string_at(0)")
    assert res.status == "runtime_error"
    assert res.signal == 11


def test_deep_recursion(pool):
    res = attack(pool, """
        def f(n):
            return f(n + 1) + 1
        f(0)
        """, timeout_s=20)
    assert res.status == "runtime_error"
    assert "RecursionError" in res.stderr
    # Unbounded: the frames exhaust the memory limit (or the clock); either way it is contained.
    res = attack(pool, """
        import sys, threading
        sys.setrecursionlimit(10 ** 8)
        threading.stack_size(256 << 20)
        def f(n):
            return f(n + 1) + 1
        t = threading.Thread(target=f, args=(0,))
        t.start()
        t.join()
        """, memory_mb=256, timeout_s=2)
    # (an exception in a thread does not fail the process, so "ok" is possible too)
    assert res.status in ("ok", "runtime_error", "memory_limit", "timeout")
    assert res.max_rss_mb < 1024


# ------------------------------------------------------------------ filesystem
def test_write_to_etc(pool):
    name = f"ringlab-pwned-{uuid.uuid4().hex}"
    res = attack(pool, f"""
        try:
            open('/etc/{name}', 'w').write('x')
            print('written')
        except OSError as exc:
            print('blocked', exc.errno)
        """)
    assert res.stdout.startswith("blocked")
    assert not Path(f"/etc/{name}").exists()


def test_write_to_home(pool):
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    name = f"ringlab-pwned-{uuid.uuid4().hex}"
    res = attack(pool, f"""
        import os
        hits = []
        for d in ({str(home)!r}, os.path.expanduser('~')):
            try:
                open(os.path.join(d, {name!r}), 'w').write('x')
                hits.append(d)
            except OSError:
                pass
        print('hits', hits)
        """)
    assert res.status == "ok"
    assert str(home) not in res.stdout
    assert not (home / name).exists()


def test_write_to_project_directory(pool):
    name = f"ringlab-pwned-{uuid.uuid4().hex}"
    res = attack(pool, f"""
        try:
            open({str(REPO / name)!r}, 'w').write('x')
            print('written')
        except OSError as exc:
            print('blocked', exc.errno)
        """)
    assert res.stdout.startswith("blocked")
    assert not (REPO / name).exists()


def test_read_etc_shadow(pool):
    res = attack(pool, """
        try:
            print('read', len(open('/etc/shadow').read()))
        except OSError as exc:
            print('blocked', exc.errno)
        """)
    assert res.stdout.startswith("blocked"), res.stdout


def test_read_project_files(pool):
    target = REPO / "pyproject.toml"
    assert target.exists()
    res = attack(pool, f"""
        import os
        try:
            print('read', open({str(target)!r}).read()[:40])
        except OSError as exc:
            print('blocked', exc.errno)
        print('listing', os.path.exists({str(REPO)!r}))
        """)
    assert "blocked" in res.stdout and "ring-lab" not in res.stdout
    assert "listing False" in res.stdout


def test_parent_environment_secret(pool):
    assert os.environ["RINGLAB_FAKE_SECRET"] == FAKE_SECRET
    res = attack(pool, f"""
        import os
        found = [k for k, v in os.environ.items() if {FAKE_SECRET!r} in v]
        for pid in os.listdir('/proc'):
            if pid.isdigit():
                try:
                    if {FAKE_SECRET!r}.encode() in open(f'/proc/{{pid}}/environ', 'rb').read():
                        found.append(pid)
                except OSError:
                    pass
        print('found', found)
        """)
    assert res.stdout.strip() == "found []"
    assert FAKE_SECRET not in res.stdout + res.stderr


def test_read_other_processes_proc(pool):
    res = attack(pool, f"""
        import os
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
        cmdlines = []
        for p in pids:
            try:
                cmdlines.append(open(f'/proc/{{p}}/cmdline', 'rb').read())
            except OSError:
                pass
        try:
            open('/proc/1/mem', 'rb').read(1)
            mem = 'readable'
        except OSError:
            mem = 'blocked'
        print(len(pids), any(b'pytest' in c for c in cmdlines), mem, {os.getpid()} in pids and b'pytest' in b''.join(cmdlines))
        """)
    count, sees_pytest, mem, sees_host = res.stdout.split()
    assert int(count) == 2  # the worker and this program: no host process is visible
    assert sees_pytest == "False" and sees_host == "False"
    assert mem == "blocked"


# ------------------------------------------------------------------ network
def test_connect_to_our_own_loopback_service(pool):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def serve():
        try:
            conn, _ = server.accept()
            accepted.append(conn)
        except OSError:
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        res = attack(pool, f"""
            import socket
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')
                print('connected')
            except OSError as exc:
                print('blocked', exc.errno)
            """)
    finally:
        thread.join()
        server.close()
    assert res.stdout.startswith("blocked"), res.stdout
    assert not accepted


def test_no_route_off_the_machine(pool):
    # UDP connect() only consults the routing table; no packet is sent anywhere.
    res = attack(pool, """
        import socket
        out = []
        for family, addr in ((socket.AF_INET, '192.0.2.1'), (socket.AF_INET, '10.0.0.1'),
                             (socket.AF_INET6, '2001:db8::1')):
            s = socket.socket(family, socket.SOCK_DGRAM)
            try:
                s.connect((addr, 53))
                out.append('route')
            except OSError as exc:
                out.append('noroute')
            finally:
                s.close()
        print(' '.join(out))
        """)
    assert res.stdout.split() == ["noroute"] * 3, res


def test_only_loopback_interface(pool):
    res = attack(pool, "import socket\nprint([n for _, n in socket.if_nameindex()])")
    assert res.stdout.strip() == "['lo']"


# ------------------------------------------------------------------ processes
def test_kill_everything_and_the_parent(pool):
    # A host process running as the sandbox's uid must survive kill(-1, 9) from inside.
    sentinel = subprocess.Popen(["sleep", "300"], user=SANDBOX_UID, group=SANDBOX_UID,
                                extra_groups=[]) if os.geteuid() == 0 else subprocess.Popen(["sleep", "300"])
    try:
        res = attack(pool, """
            import os, signal
            for target in (os.getppid(), 1):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
            os.kill(-1, signal.SIGKILL)
            print('survived')
            """)
        # PID 1 ignores SIGKILL from inside its namespace and kill(-1) reaches nobody else
        assert res.status in ("killed", "runtime_error")
        assert "survived" not in res.stdout or res.status != "ok"
        assert sentinel.poll() is None
    finally:
        sentinel.kill()
        sentinel.wait()


def test_background_process_does_not_outlive_run(pool):
    marker = f"{uuid.uuid4().int % 10 ** 6}.25"
    res = attack(pool, f"""
        import subprocess
        subprocess.Popen(['sleep', '{marker}'])
        print('spawned')
        """)
    assert res.stdout == "spawned\n"
    assert _host_pids_with(f"sleep\0{marker}") == []


def test_daemonising_process_is_killed(pool):
    marker = f"{uuid.uuid4().int % 10 ** 6}.5"
    res = attack(pool, f"""
        import os
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 1024)
                os.execvp('sleep', ['sleep', '{marker}'])
            os._exit(0)
        print('daemonised')
        """)
    assert res.stdout == "daemonised\n"
    assert _host_pids_with(f"sleep\0{marker}") == []


def test_thread_bomb(pool):
    res = attack(pool, """
        import threading, time
        n = 0
        try:
            for _ in range(100000):
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                n += 1
        except RuntimeError:
            pass
        print('threads', n, flush=True)
        import os
        os._exit(0)
        """, timeout_s=20)
    assert res.status in ("ok", "memory_limit", "runtime_error")
    if res.status == "ok":
        assert int(res.stdout.split()[1]) < 100000


def test_new_user_namespace_refused(pool):
    res = attack(pool, """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.unshare(0x10000000)  # CLONE_NEWUSER: a way to regain capabilities
        print('unshare', rc, ctypes.get_errno() != 0)
        """)
    assert res.stdout.split()[:2] == ["unshare", "-1"], res.stdout
