"""Secure, fast execution of model-written programs with LiveCodeBench-compatible grading.

``run`` executes one program; ``run_tests`` grades it against tests. Backends: ``bwrap``
(namespaces; the default), ``unshare`` (namespaces via util-linux when bwrap is missing),
``docker`` and ``process`` (rlimits only, UNSAFE, used only when chosen explicitly), picked by
argument or $RINGLAB_SANDBOX_BACKEND; every result names the backend that ran it. Each backend
keeps a warm pool of sandboxed interpreters ($RINGLAB_SANDBOX_WORKERS, default one per core).
"""
from sandbox.api import run, run_tests
from sandbox.limits import Limits
from sandbox.pool import WorkerPool, get_pool
from sandbox.results import ExecResult, TestReport, TestResult

__all__ = ["run", "run_tests", "ExecResult", "TestReport", "TestResult", "Limits", "WorkerPool",
           "get_pool"]
