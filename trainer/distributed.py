"""Data parallelism through ``torch.distributed``, launched by ``torchrun`` (DDP).

    torchrun --nproc_per_node 2 -m trainer.torchrun rl POLICY_DIR --out OUT --sampler torch ...

``init()`` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group with ``gloo`` on CPU or ``nccl``
on CUDA. Without those variables (plain ``python``) nothing is initialised, ``world_size()`` is
1, ``wrap()`` returns the model itself, and every helper here is the identity: single-process
training is unchanged.

What one data-parallel step means
---------------------------------
Each rank holds a full replica (DDP), takes its shard of the global batch (``shard``: contiguous
rows, the same split on every rank), computes its loss and calls ``backward``; DDP averages the
gradients over ranks during ``backward``, so every replica applies the same optimiser step.
Gradient clipping after ``backward`` sees the averaged gradient and clips all ranks identically.

C3PO's token budget Phi is **per rank**, as in the paper: each rank selects greedily from its
own shard until it reaches Phi (``trainer.budget``) and divides its summed token loss by Phi,

    L_r = 1/Phi * sum_{tokens selected on rank r} l_t.

DDP's gradient average is then the gradient of

    1/W * sum_r L_r = 1/(W Phi) * sum_{all selected tokens} l_t,

i.e. C3PO on one rank over the union of the ranks' selections with budget W * Phi: every token
in the global step still weighs the same, and the global step trains on about W * Phi tokens.
The logged loss is the mean of ``L_r`` over ranks (``all_reduce_mean``), which is that same
number. (GRPO's per-response mean, averaged over ranks, equals the global GRPO loss when every
rank has the same number of responses.) The MoE load-balance and z-losses are computed per rank
on its own tokens, as Megatron does per micro-batch; the load-balance loss is not additive over
tokens, so its (1e-5-weighted) value is not exactly the one of the whole batch on one rank.

``tests/test_trainer_distributed.py`` runs one C3PO step on a fixed global batch with one process
and with ``torchrun --nproc_per_node 2`` on gloo and compares the loss and the updated weights.
"""
from __future__ import annotations

import contextlib

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def launched() -> bool:
    """True when started by torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(backend: str | None = None, timeout_s: float = 1800.0) -> bool:
    """Join the process group from torchrun's env vars; returns whether we are distributed.

    ``backend`` defaults to ``nccl`` when CUDA is available, else ``gloo``. Idempotent.
    """
    if is_initialized():
        return True
    if not launched():
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, init_method="env://", timeout=timedelta(seconds=timeout_s))
    return True


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0")) if is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def device() -> torch.device:
    """The device this rank trains on: its local GPU under nccl, else the CPU."""
    if is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", local_rank())
    return torch.device("cpu")


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def cleanup() -> None:
    if is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, find_unused_parameters: bool = True) -> torch.nn.Module:
    """DDP-wrap ``model`` when distributed over more than one rank, else return it unchanged.

    ``find_unused_parameters``: an MoE layer skips experts that got no token on a rank, so their
    weights take no part in that rank's backward; DDP must be told, or it waits for them forever.
    """
    if not is_initialized() or world_size() == 1:  # e.g. the 1-rank group an in-process vLLM opens
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    dev = device()
    return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None,
               find_unused_parameters=find_unused_parameters)


def no_sync(model: torch.nn.Module, skip: bool = True):
    """Within it, a DDP model's backward only accumulates local gradients (no all-reduce); used
    for all but the last micro-batch of a step. A plain model: nothing to skip."""
    if skip and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The replica inside a DDP wrapper (for config, state_dict, no-grad forwards)."""
    return getattr(model, "module", model)


def shard_range(n: int, rank_: int | None = None, world: int | None = None) -> tuple[int, int]:
    """[start, stop) of this rank's contiguous share of ``n`` items; needs ``n % world == 0``."""
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    if n % w:
        raise ValueError(f"global batch of {n} does not split evenly over {w} ranks")
    per = n // w
    return r * per, (r + 1) * per


def shard(items: Sequence[T] | torch.Tensor, rank_: int | None = None, world: int | None = None):
    """This rank's contiguous share of a global batch (a sequence, or a tensor along dim 0)."""
    lo, hi = shard_range(len(items), rank_, world)
    return items[lo:hi]


def all_reduce_sum(x: float | torch.Tensor) -> float | torch.Tensor:
    """Sum over ranks (a float in, a float out; a tensor in, a new tensor out)."""
    if not is_initialized():
        return x
    t = torch.as_tensor(x, dtype=torch.float64).clone().to(device()) if not torch.is_tensor(x) else x.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t) if not torch.is_tensor(x) else t


def all_reduce_mean(x: float | torch.Tensor) -> float | torch.Tensor:
    w = world_size()
    return x if w == 1 else all_reduce_sum(x) / w


def all_reduce_max(x: float) -> float:
    if not is_initialized():
        return x
    t = torch.tensor(float(x), dtype=torch.float64, device=device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def reduce_metrics(metrics: dict[str, float], *, sums: Sequence[str] = (), maxes: Sequence[str] = ()) -> dict:
    """Average a dict of scalar metrics over ranks in one all-reduce (``sums``/``maxes``: other ops).

    Every rank must pass the same keys in the same order.
    """
    if not is_initialized():
        return dict(metrics)
    keys = [k for k in metrics if k not in maxes]
    out = dict(metrics)
    if keys:
        t = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        w = world_size()
        for k, v in zip(keys, t.tolist()):
            out[k] = v if k in sums else v / w
    for k in maxes:
        out[k] = all_reduce_max(metrics[k])
    return out
