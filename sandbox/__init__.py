"""Secure, fast execution of model-written programs (grading their tests is ``evaluators.code``).

``run`` executes one program; ``execute_group`` runs one program over many inputs (the code
verifier's tests, judged in ``evaluators.code.judge``). Backends: ``bwrap``
(namespaces; the default), ``unshare`` (namespaces via util-linux when bwrap is missing),
``docker`` and ``process`` (rlimits only, UNSAFE, used only when chosen explicitly), picked by
argument or $RINGLAB_SANDBOX_BACKEND; every result names the backend that ran it. Each backend
keeps a warm pool of sandboxed interpreters ($RINGLAB_SANDBOX_WORKERS, default one per core).
"""
from sandbox.api import execute_group, run
from sandbox.limits import Limits
from sandbox.pool import WorkerPool, get_pool
from sandbox.results import ExecResult

__all__ = ["run", "execute_group", "ExecResult", "Limits", "WorkerPool",
           "get_pool"]
