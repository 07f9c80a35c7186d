"""Warm sandbox worker: runs inside the isolation boundary, forks one fresh child per job.

Standard library only, because it is started as ``python3 -I -c <this file's text>`` inside a
bubblewrap namespace or a docker container with nothing of the project mounted. It imports the
LiveCodeBench prelude modules once, then serves framed requests on a byte stream (stdin/stdout
pipes, or a unix socket for docker). Each job runs in a forked child with rlimits, its own session
and fresh stdio pipes; when it ends every other process in the sandbox is killed (the worker is
PID 1 of its PID namespace there) so nothing outlives a job.

Frame: 4-byte big-endian header length, JSON header, then the raw blobs whose byte lengths the
header lists under "blobs". Expected outputs are never sent here: grading happens on the host, so
a program cannot tamper with the comparison.
"""
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

# LiveCodeBench prepends this to every program (so `List`, `deque`, `gcd` ... work unimported).
PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string, re, datetime, collections, heapq, bisect, copy, math, random, statistics\n"
    "import itertools, functools, operator, io, sys, json\n"
)
MAX_FRAME = 1 << 30


# ---------------------------------------------------------------- framing (shared with host)
def encode_frame(header, blobs=()):
    header = dict(header, blobs=[len(b) for b in blobs])
    raw = json.dumps(header).encode()
    return b"".join([struct.pack(">I", len(raw)), raw, *blobs])


def _read_exact(fd, n, deadline=None):
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from sandbox worker in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("sandbox worker channel closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd, deadline=None):
    (hlen,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if hlen > MAX_FRAME:
        raise ValueError("oversized frame header")
    header = json.loads(_read_exact(fd, hlen, deadline))
    blobs = [_read_exact(fd, n, deadline) for n in header.get("blobs", [])]
    return header, blobs


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ---------------------------------------------------------------- child side
def _encode_value(value, top=True):
    """JSON-able form of a return value; types JSON cannot hold stay distinguishable so the
    host's ``==`` behaves as LiveCodeBench's in-process ``prediction == expected``."""
    import numbers

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple) and top:  # LCB turns only the outer tuple into a list
        value = list(value)
    if isinstance(value, list):
        return [_encode_value(v, False) for v in value]
    if isinstance(value, tuple):
        return {"__sandbox_type__": "tuple", "items": [_encode_value(v, False) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode_value(v, False) for k, v in value.items()}
    return {"__sandbox_type__": type(value).__name__, "repr": repr(value)[:1000]}


def _apply_limits(job):
    cpu = max(1, int(job["cpu_s"] + 0.999))
    mem = int(job["memory_mb"]) << 20
    pairs = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_NPROC, (job["nproc"], job["nproc"])),
        (resource.RLIMIT_NOFILE, (job["nofile"], job["nofile"])),
        (resource.RLIMIT_FSIZE, (job["fsize_mb"] << 20, job["fsize_mb"] << 20)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    for which, value in pairs:
        resource.setrlimit(which, value)


def _child(job, fds, prelude_code, keep, inputs=None):
    """Runs in the forked child; never returns. ``inputs`` set means group mode."""
    code = 1
    try:
        os.setsid()
        os.dup2(fds["in"], 0)
        os.dup2(fds["out"], 1)
        os.dup2(fds["err"], 2)
        res_fd = fds.get("res")
        for fd in keep:  # the worker's own channel must not be reachable from user code
            try:
                os.close(fd)
            except OSError:
                pass
        for fd in (fds["in"], fds["out"], fds["err"]):
            os.close(fd)
        os.chdir(job["workdir"])
        sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)
        sys.argv = ["solution.py"]
        sys.setrecursionlimit(50000)
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _apply_limits(job)
        if inputs is None:
            code = _run_user(job, prelude_code, res_fd)
        else:
            code = _run_group(job, prelude_code, inputs, res_fd)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        code = _report_exception()
    try:
        sys.stdout.flush()
    except BaseException:
        code = code or 1
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


def _exit_code(exc):
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        print(exc.code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def _report_exception():
    try:
        import traceback

        exc = sys.exc_info()[1]
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "solution.py":
            tb = tb.tb_next  # hide the worker's own frames
        traceback.print_exception(type(exc), exc, tb)
    except BaseException:
        pass
    return 1


def _run_user(job, prelude_code, res_fd):
    glb = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": "solution.py"}
    exec(prelude_code, glb)
    glb["__name__"] = "__main__"
    try:
        compiled = compile(job["code"], "solution.py", "exec")
        if job["mode"] != "functional":
            exec(compiled, glb)
            return 0
        glb["__name__"] = "solution"
        exec(compiled, glb)
        target = glb["Solution"]() if "class Solution" in job["code"] and "Solution" in glb else None
        method = getattr(target, job["func_name"], None) if target is not None else None
        if method is None:
            method = glb.get(job["func_name"])
        if method is None:
            print(f"function {job['func_name']!r} not found", file=sys.stderr)
            return 3
        args = [json.loads(line) for line in job["input"].split("\n")]
        result = _encode_value(method(*args))
        write_all(res_fd, json.dumps(result).encode())
        return 0
    except SystemExit as exc:
        return _exit_code(exc)
    except BaseException:
        return _report_exception()


def _fresh_globals(prelude_code, name):
    glb = {"__name__": name, "__builtins__": __builtins__, "__file__": "solution.py"}
    exec(prelude_code, glb)
    glb["__name__"] = name
    return glb


def _memfd_on(fd, data=b""):
    mfd = os.memfd_create("sandbox-io")
    if data:
        write_all(mfd, data)
        os.lseek(mfd, 0, os.SEEK_SET)
    os.dup2(mfd, fd)
    os.close(mfd)


def _run_group(job, prelude_code, inputs, res_fd):
    """Run every test in this one process, as LiveCodeBench does, but with real stdio fds.

    Each test gets fresh globals (stdin mode) or a fresh Solution() (functional); its stdin and
    stdout are memfds on fds 0 and 1, so open(0), sys.stdin.buffer and sys.stdout.buffer work.
    Results are streamed to the worker, which enforces each test's deadline.
    """
    functional = job["mode"] == "functional"
    cap = job["stdout_cap"]
    stop_on_error = job.get("stop_on_error", True)

    def send(header, blobs=()):
        write_all(res_fd, encode_frame(header, blobs))

    def finish(i, status, code, t0, r0, out=b"", value=b""):
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        try:
            sys.stderr.flush()
        except BaseException:
            pass
        send({"ev": "done", "i": i, "status": status, "exit_code": code,
              "wall_s": time.perf_counter() - t0,
              "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
              "max_rss_mb": r1.ru_maxrss / 1024.0}, [out, value])

    send({"ev": "start", "i": 0})
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    try:
        compiled = compile(job["code"], "solution.py", "exec")
        if functional:
            module = _fresh_globals(prelude_code, "solution")
            exec(compiled, module)  # module-level work happens once, as in LCB
            has_class = "class Solution" in job["code"] and "Solution" in module
            if not has_class and not callable(module.get(job["func_name"])):
                print(f"function {job['func_name']!r} not found", file=sys.stderr)
                finish(0, "runtime_error", 3, t0, r0)
                return 0
    except SystemExit as exc:
        code = _exit_code(exc)
        finish(0, "ok" if code == 0 else "runtime_error", code, t0, r0)
        return 0
    except MemoryError:
        finish(0, "memory_limit", _report_exception(), t0, r0)
        return 0
    except BaseException:
        finish(0, "runtime_error", _report_exception(), t0, r0)
        return 0
    for i, data in enumerate(inputs):
        if i:
            send({"ev": "start", "i": i})
            t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        status, code, value = "ok", 0, b""
        try:
            _memfd_on(0, b"" if functional else data)
            _memfd_on(1)
            sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
            sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
            if functional:
                target = module["Solution"]() if has_class else None
                method = getattr(target, job["func_name"]) if target is not None else module[job["func_name"]]
                args = [json.loads(line) for line in data.decode("utf-8").split("\n")]
                value = json.dumps(_encode_value(method(*args))).encode()
            else:
                exec(compiled, _fresh_globals(prelude_code, "__main__"))
        except SystemExit as exc:
            code = _exit_code(exc)
        except MemoryError:
            status, code = "memory_limit", _report_exception()
        except BaseException:
            code = _report_exception()
        try:
            sys.stdout.flush()
        except BaseException:
            code = code or 1
        if code and status == "ok":
            status = "runtime_error"
        size = os.fstat(1).st_size
        out = os.pread(1, cap + 1, 0) if size else b""
        if len(out) > cap:
            status, out = "output_limit", out[:cap]
        finish(i, status, code, t0, r0, out, value)
        if status != "ok" and stop_on_error:
            break
    return 0


# ---------------------------------------------------------------- worker side
class Worker:
    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd
        self.is_init = os.getpid() == 1
        self.prelude = compile(PRELUDE, "<prelude>", "exec")
        exec(self.prelude, {})  # import once; children reuse the loaded modules
        import gc

        gc.collect()
        gc.freeze()  # keep the collector off inherited objects: fewer copy-on-write faults per fork
        self.root = os.environ.get("SANDBOX_WORK_ROOT", "/tmp")
        self.jobs = 0
        if not self.is_init:
            # Orphans of a job re-parent to us, so they can be found and killed.
            try:
                import ctypes

                ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
            except Exception:
                pass
        try:
            import ctypes

            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: no ptrace, no /proc/1/mem
        except Exception:
            pass

    def serve(self):
        write_all(self.wfd, encode_frame({"op": "hello", "pid": os.getpid(), "init": self.is_init,
                                          "python": sys.version.split()[0]}))
        while True:
            try:
                header, blobs = read_frame(self.rfd)
            except (EOFError, OSError):
                return
            op = header.get("op")
            if op == "run":
                try:
                    reply, out_blobs = self.run_job(header, blobs)
                except Exception as exc:  # report, never die silently
                    reply, out_blobs = {"status": "sandbox_error", "error": repr(exc)}, [b"", b"", b""]
                    self.sweep()
            elif op == "group":
                try:
                    reply, out_blobs = self.run_group(header, blobs)
                except Exception as exc:
                    reply, out_blobs = {"ev": "end", "status": "sandbox_error", "error": repr(exc)}, []
                    self.sweep()
            elif op == "stop":
                continue  # a stop that arrived after its group had already ended
            elif op == "ping":
                reply, out_blobs = {"status": "ok", "jobs": self.jobs}, []
            elif op == "exit":
                return
            else:
                reply, out_blobs = {"status": "sandbox_error", "error": f"bad op {op!r}"}, []
            write_all(self.wfd, encode_frame(reply, out_blobs))

    # -- one job
    def run_job(self, job, blobs):
        self.jobs += 1
        job["workdir"] = self.fresh_workdir(job.get("files") or {})
        stdin_data = blobs[0] if blobs else b""
        pipes = {name: os.pipe() for name in ("in", "out", "err", "res")}
        child_fds = {"in": pipes["in"][0], "out": pipes["out"][1], "err": pipes["err"][1],
                     "res": pipes["res"][1]}
        parent_fds = [pipes["in"][1], pipes["out"][0], pipes["err"][0], pipes["res"][0]]
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(job, child_fds, self.prelude, [self.rfd, self.wfd, *parent_fds])
        for fd in child_fds.values():
            os.close(fd)
        outcome = _SingleRun(self, pid, job, stdin_data, pipes, t0).run()
        leftovers = self.sweep(pid)
        outcome["leftover_processes"] = leftovers
        self.wipe(job["workdir"])
        out, err, res = outcome.pop("streams")
        return outcome, [out, err, res]

    def run_group(self, job, inputs):
        """Stream one "test" frame per test to the host, then return the "end" frame."""
        self.jobs += 1
        job["workdir"] = self.fresh_workdir({})
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        pid = os.fork()
        if pid == 0:
            _child(job, {"in": null, "out": os.dup(null), "err": err_w, "res": res_w}, self.prelude,
                   [self.rfd, self.wfd, err_r, res_r], inputs)
        for fd in (err_w, res_w, null):
            os.close(fd)
        end = _TestGroup(self, pid, job, err_r, res_r).run()
        end["leftover_processes"] = self.sweep(pid)
        self.wipe(job["workdir"])
        return end, []

    @staticmethod
    def classify(exit_code, sig, err, cpu, job):
        if sig is None and exit_code == 0:
            return "ok"
        tail = err[-400:]
        if b"MemoryError" in tail:
            return "memory_limit"
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= job["cpu_s"]):
            return "timeout"
        if sig == signal.SIGKILL:
            return "killed"
        return "runtime_error"

    def kill_job(self, pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def sweep(self, job_pid=None):
        """Kill every process left in the sandbox; returns how many there were."""
        found = 0
        for _ in range(50):
            others = self.other_pids(job_pid)
            if not others:
                break
            found = max(found, len(others))
            if self.is_init:
                try:
                    os.kill(-1, signal.SIGKILL)  # as PID 1: everyone in our namespace but us
                except OSError:
                    pass
            for p in others:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.reap()
            time.sleep(0.002)
        self.reap()
        return found

    def other_pids(self, job_pid):
        me = os.getpid()
        if self.is_init:
            return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
        # Without a PID namespace only our own descendants are ours to kill (subreaper).
        kids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == me:
                kids.append(int(p))
        return kids

    @staticmethod
    def reap():
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def fresh_workdir(self, files):
        path = os.path.join(self.root, f"job{self.jobs}")
        os.makedirs(path, exist_ok=True)
        for name, content in files.items():
            if os.path.isabs(name) or ".." in name.split("/"):
                raise ValueError(f"bad file name {name!r}")
            full = os.path.join(path, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(content)
        return path

    def wipe(self, workdir):
        """Empty the private tmp so nothing carries over to the next job."""
        import shutil

        if self.is_init:
            for name in os.listdir(self.root):
                full = os.path.join(self.root, name)
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full, ignore_errors=True)
                else:
                    try:
                        os.unlink(full)
                    except OSError:
                        pass
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- supervision (worker side)
def _pop_frame(buf):
    """Take one complete frame off the front of ``buf``; None while it is still incomplete."""
    if len(buf) < 4:
        return None
    (hlen,) = struct.unpack(">I", buf[:4])
    if len(buf) < 4 + hlen:
        return None
    header = json.loads(bytes(buf[4:4 + hlen]))
    sizes = header.get("blobs", [])
    total = 4 + hlen + sum(sizes)
    if len(buf) < total:
        return None
    blobs, off = [], 4 + hlen
    for n in sizes:
        blobs.append(bytes(buf[off:off + n]))
        off += n
    del buf[:total]
    return header, blobs


class _Pipe:
    """Read end of a child's pipe: keeps the first ``cap`` bytes, counts every byte read.

    ``limit`` is how many bytes read make a flood that kills the job (None: never).
    """

    def __init__(self, fd, cap, limit=None):
        self.fd, self.cap, self.limit = fd, cap, limit
        self.buf, self.seen = bytearray(), 0

    def read(self):
        """One read into the buffer; False at end of file, or once the pipe is closed."""
        chunk = os.read(self.fd, 1 << 16) if self.fd is not None else b""
        self.buf += chunk[:max(0, self.cap - len(self.buf))]
        self.seen += len(chunk)
        return bool(chunk)

    def flooded(self):
        return self.limit is not None and self.seen > self.limit


class _Supervision:
    """The one loop that watches a forked job: it drains the job's pipes, kills the job on the
    first limit it breaks and reaps it.

    Subclasses are the policies: they watch their pipes in ``__init__`` and define
    ``check_deadline(now)`` and ``result(wall)``; they may override ``on_host`` and ``cut``.
    """

    host_events = 0  # the host channel is watched for hang-up only, unless a policy reads it
    drain = False  # read a pipe until it would block (non-blocking pipes), or once per wake-up

    def __init__(self, worker, pid, job, t0):
        self.worker, self.pid, self.job, self.t0 = worker, pid, job, t0
        self.stopped = None  # why the job was cut short; the first reason wins
        self.deadline = None
        self.exited, self.exit_time, self.wait_status, self.rusage = False, None, 0, None
        self.pipes, self.handlers = {}, {}  # fd -> open _Pipe; fd -> its poll event handler
        self.poller = select.poll()
        self.pidfd = os.pidfd_open(pid)

    def run(self):
        """Supervise until the job is reaped and its pipes are drained; return the result."""
        self.watch(self.pidfd, select.POLLIN, self.on_exit)
        self.watch(self.worker.rfd, self.host_events, self.on_host)
        while True:
            now = time.monotonic()
            self.check_deadline(now)
            if self.exited and (not self.pipes or now - self.exit_time > 0.5):
                break  # a leftover process may hold a pipe open; the sweep handles it
            for fd, ev in self.poller.poll(self.wait_ms(now)):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(ev)
        wall = time.monotonic() - self.t0
        self.close()
        return self.result(wall)

    def watch(self, fd, events, handler):
        self.poller.register(fd, events)
        self.handlers[fd] = handler

    def unwatch(self, fd):
        self.poller.unregister(fd)
        del self.handlers[fd]

    def watch_pipe(self, pipe, then=None):
        """Read ``pipe`` whenever it is readable, then run ``then``; close it at end of file."""
        def on_readable(ev):
            alive = self.pull(pipe)
            if then is not None:
                then()
            if not alive:
                self.unwatch(pipe.fd)
                del self.pipes[pipe.fd]
                os.close(pipe.fd)
                pipe.fd = None  # a later read sees end of file

        self.pipes[pipe.fd] = pipe
        self.watch(pipe.fd, select.POLLIN, on_readable)

    def pull(self, pipe):
        """Read what ``pipe`` holds now, cutting the job on a flood; False at end of file."""
        while True:
            try:
                if not pipe.read():
                    return False
            except BlockingIOError:
                return True
            if pipe.flooded():
                self.cut("output_limit")
            if not self.drain:
                return True

    def on_exit(self, ev):
        _, self.wait_status, self.rusage = os.wait4(self.pid, 0)
        self.exited, self.exit_time = True, time.monotonic()
        self.unwatch(self.pidfd)

    def on_host(self, ev):
        if ev & (select.POLLHUP | select.POLLERR):
            self.abandon()

    def abandon(self):
        """The host went away, so no one will read a result: end the job and this worker."""
        self.worker.kill_job(self.pid)
        self.worker.sweep(self.pid)
        os._exit(0)

    def wait_ms(self, now):
        if self.exited or self.stopped:
            return 50  # only draining what is left
        if self.deadline is None:
            return 1000
        return max(1, int((self.deadline - now) * 1000) + 1)  # wake just past the deadline

    def cut(self, status):
        """Kill the job for ``status``, unless an earlier reason already did."""
        if self.stopped is None:
            self.stopped = status
            self.worker.kill_job(self.pid)

    def close(self):
        os.close(self.pidfd)
        for fd in list(self.pipes):
            os.close(fd)

    def exit_status(self):
        """(exit code, signal) of the reaped job; a signal death has exit code -signal."""
        if os.WIFEXITED(self.wait_status):
            return os.WEXITSTATUS(self.wait_status), None
        if os.WIFSIGNALED(self.wait_status):
            sig = os.WTERMSIG(self.wait_status)
            return -sig, sig
        return None, None

    def usage(self):
        """CPU seconds and peak RSS in MiB of the reaped job."""
        if not self.rusage:
            return 0.0, 0.0
        return self.rusage.ru_utime + self.rusage.ru_stime, self.rusage.ru_maxrss / 1024.0


class _SingleRun(_Supervision):
    """Policy for one run: stdin fed from the request, one deadline, all output in the reply."""

    def __init__(self, worker, pid, job, stdin_data, pipes, t0):
        super().__init__(worker, pid, job, t0)
        self.deadline = t0 + job["timeout_s"]
        out_cap = job["stdout_cap"]
        self.out = _Pipe(pipes["out"][0], out_cap, out_cap)
        # stderr is only truncated, unless it floods past the stdout cap
        self.err = _Pipe(pipes["err"][0], job["stderr_cap"], out_cap)
        self.res = _Pipe(pipes["res"][0], 64 << 20, 64 << 20)
        for pipe in (self.out, self.err, self.res):
            self.watch_pipe(pipe)
        self.in_w, self.pending = pipes["in"][1], memoryview(stdin_data)
        if not self.pending:
            self.close_stdin()
        else:
            os.set_blocking(self.in_w, False)  # a program that never reads stdin must not stall us
            self.watch(self.in_w, select.POLLOUT, self.feed_stdin)

    def check_deadline(self, now):
        if not self.exited and now >= self.deadline:
            self.cut("timeout")

    def feed_stdin(self, ev):
        try:
            self.pending = self.pending[os.write(self.in_w, self.pending[:1 << 16]):]
        except BlockingIOError:
            return
        except OSError:  # the program closed stdin early; that is its business
            self.pending = self.pending[:0]
        if not self.pending:
            self.unwatch(self.in_w)
            self.close_stdin()

    def close_stdin(self):
        os.close(self.in_w)
        self.in_w = None

    def close(self):
        super().close()
        if self.in_w is not None:
            os.close(self.in_w)

    def result(self, wall):
        cpu, rss_mb = self.usage()
        exit_code, sig = self.exit_status()
        status = self.stopped or self.worker.classify(exit_code, sig, bytes(self.err.buf), cpu,
                                                      self.job)
        truncated = len(self.out.buf) >= self.out.cap and status == "output_limit"
        return {"status": status, "exit_code": exit_code, "signal": sig, "wall_s": wall,
                "cpu_s": cpu, "max_rss_mb": rss_mb, "stdout_truncated": truncated,
                "streams": (bytes(self.out.buf), bytes(self.err.buf), bytes(self.res.buf))}


class _TestGroup(_Supervision):
    """Policy for a test group: one child runs the tests in turn, each under its own deadline,
    and each test's frame goes to the host as soon as its result is known."""

    host_events = select.POLLIN  # the host may send "stop"
    drain = True  # so that a test's "done" frame finds all the stderr written before it

    def __init__(self, worker, pid, job, err_r, res_r):
        super().__init__(worker, pid, job, time.monotonic())
        self.current, self.sent = None, 0  # the test now running; test frames sent so far
        self.err = _Pipe(err_r, job["stderr_cap"], job["stdout_cap"])
        self.res_cap = job["stdout_cap"] + (65 << 20)  # one test's stdout plus its return value
        self.res = _Pipe(res_r, self.res_cap + 1)  # one byte over shows a flood
        self.watch_pipe(self.err)
        self.watch_pipe(self.res, self.take_frames)
        os.set_blocking(err_r, False)
        os.set_blocking(res_r, False)

    def check_deadline(self, now):
        if self.current is not None and now >= self.deadline:  # a running test has a deadline
            self.cut("timeout", wall_s=now - self.deadline + self.job["timeout_s"])

    def on_host(self, ev):
        if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
            self.abandon()  # never returns
        header, _ = read_frame(self.worker.rfd)
        if header.get("op") == "stop":
            self.cut("stopped")

    def cut(self, status, wall_s=0.0):
        """Kill the job for ``status`` (first reason wins) and report the running test with it;
        after a host "stop" nothing more is reported."""
        if self.stopped is not None:
            return
        self.worker.kill_job(self.pid)
        if self.current is not None and status != "stopped":
            self.forward({"i": self.current, "status": status, "exit_code": None,
                          "wall_s": wall_s, "cpu_s": 0.0, "max_rss_mb": 0.0})
        self.current, self.stopped = None, status

    def take_frames(self):
        """Act on every complete frame the child has written to the result pipe."""
        if len(self.res.buf) > self.res_cap:  # garbage flooding the result pipe
            self.cut("output_limit")
        while not self.stopped:
            frame = _pop_frame(self.res.buf)
            if frame is None:
                return
            self.on_frame(*frame)

    def on_frame(self, header, blobs):
        # The program shares the child process, so it could forge frames: accept only the next
        # test in order, one at a time.
        ev, i = header.get("ev"), header.get("i")
        if ev == "start" and self.current is None and i == self.sent:
            self.current, self.deadline = self.sent, time.monotonic() + self.job["timeout_s"]
        elif ev == "done" and self.current is not None and i == self.current:
            self.pull(self.err)  # the child flushed stderr before "done"
            keys = ("i", "status", "exit_code", "wall_s", "cpu_s", "max_rss_mb")
            self.forward({k: header.get(k) for k in keys}, (blobs + [b"", b""])[:2])
            self.current, self.deadline = None, None

    def forward(self, header, blobs=(b"", b"")):
        """Send the host one "test" frame, with the stderr gathered since the last one."""
        header = dict(header, ev="test")
        header.setdefault("stderr_truncated", len(self.err.buf) >= self.err.cap)
        write_all(self.worker.wfd, encode_frame(header, [blobs[0], bytes(self.err.buf), blobs[1]]))
        self.err.buf.clear()
        self.sent += 1

    def result(self, wall):
        exit_code, sig = self.exit_status()
        if self.current is not None and self.stopped is None:  # died in the middle of a test
            cpu, rss_mb = self.usage()
            status = self.worker.classify(exit_code, sig, bytes(self.err.buf), cpu, self.job)
            if status == "ok":
                status = "runtime_error"  # e.g. os._exit(0) mid-test: no output was delivered
            self.forward({"i": self.current, "status": status, "exit_code": exit_code,
                          "signal": sig, "wall_s": wall, "cpu_s": cpu, "max_rss_mb": rss_mb})
        return {"ev": "end", "status": self.stopped or "ok", "tests_sent": self.sent,
                "exit_code": exit_code, "signal": sig}


def main(argv):
    if len(argv) > 1 and argv[1] == "--listen":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(argv[2])
        except OSError:
            pass
        srv.bind(argv[2])
        srv.listen(1)
        conn, _ = srv.accept()
        srv.close()
        fd = conn.detach()
        Worker(fd, fd).serve()
        return
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    Worker(rfd, wfd).serve()


if __name__ == "__main__":
    main(sys.argv)
