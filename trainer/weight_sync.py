"""Push the trainer's weights into running vLLM servers: ``WeightSync.push(state_dict, version)``.

CPU (what runs here): ``ShmReloadSync`` writes the state dict as ``model.safetensors`` (the very
file ``BailingMoeForCausalLM.save_pretrained`` writes: checkpoint names, float32) to tmpfs and
asks every server to load it in place through our worker extension
(``trainer.vllm_worker_ext``; ``/collective_rpc`` needs ``VLLM_SERVER_DEV_MODE=1``). Start the
servers with ``server_args()`` and ``SERVER_ENV``. Measured on the tiny model, 2 busy cores:
write 10-30 ms to /dev/shm (20-45 ms to disk), reload RPC 110-370 ms (load-dependent), of which
the worker's own load is about 70 ms. The alternatives measured: vLLM's plain ``reload_weights`` RPC is as fast
but wrong on the CPU build (routed experts left unpacked: log-prob gap 0.19-0.25); the native
weight-transfer engines (nccl, ipc, sparse_nccl, sharded_rdt, nccl_m2n) all need CUDA, and
there is no gloo backend. The caller pauses generation around a push (``RolloutClient``).

GPU: ``NcclWeightSync`` drives vLLM's native NCCL weight transfer (no files, no copies to host).
"""
from __future__ import annotations

import abc
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import httpx
import torch

from trainer.vllm_worker_ext import EXTENSION, RELOAD_METHOD

SERVER_ENV = {"VLLM_SERVER_DEV_MODE": "1"}  # pause/resume, collective_rpc, reset_prefix_cache
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP and torch.compile wrap the names


def server_args() -> list[str]:
    """Extra vLLM arguments a server needs for ``ShmReloadSync`` (add ``SERVER_ENV`` to its env)."""
    return ["--worker-extension-cls", EXTENSION]


class WeightSyncError(RuntimeError):
    """A push failed; the message names the server and the step that failed."""


class WeightSync(abc.ABC):
    """Moves a trainer state dict into the serving engines; ``push`` returns the seconds it took."""

    @abc.abstractmethod
    def push(self, state_dict: Mapping[str, torch.Tensor], version: int) -> float: ...

    def close(self) -> None:
        pass


def checkpoint_name(name: str) -> str:
    """Our parameter names are Ring-lite's checkpoint names; only wrapper prefixes go."""
    for prefix in WRAPPER_PREFIXES:
        name = name.removeprefix(prefix)
    return name


def checkpoint_tensors(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a saved checkpoint: contiguous CPU copies, as ``save_pretrained`` writes them."""
    return {checkpoint_name(k): v.detach().contiguous().cpu() for k, v in state_dict.items()}


def write_checkpoint_file(state_dict: Mapping[str, torch.Tensor], directory: Path) -> Path:
    """``directory``/model.safetensors, written to a temporary name first so no reader sees half."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / ".model.safetensors.partial"
    save_file(checkpoint_tensors(state_dict), str(tmp), metadata={"format": "pt"})
    return tmp.replace(directory / "model.safetensors")


@dataclass
class PushTiming:
    version: int
    write_s: float
    reload_s: float  # slowest server

    @property
    def total_s(self) -> float:
        return self.write_s + self.reload_s


def _tmpfs_root() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


class ShmReloadSync(WeightSync):
    """safetensors on tmpfs + ``ring_reload_weights`` on every server (same machine only)."""

    def __init__(self, base_urls: Sequence[str], *, api_key: str | None = None, timeout_s: float = 300.0,
                 root: str | None = None):
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.timeout_s = timeout_s
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.dir = Path(tempfile.mkdtemp(prefix="ring-weights-", dir=root or _tmpfs_root()))
        self.last: PushTiming | None = None

    def push(self, state_dict: Mapping[str, torch.Tensor], version: int) -> float:
        t0 = time.perf_counter()
        target = write_checkpoint_file(state_dict, self.dir / f"v{version:08d}")
        t1 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(self.base_urls)) as pool:
            list(pool.map(lambda url: self._reload(url, target.parent, len(state_dict)), self.base_urls))
        self._drop_all_but(target.parent)
        self.last = PushTiming(version, t1 - t0, time.perf_counter() - t1)
        return self.last.total_s

    def _reload(self, url: str, directory: Path, n_tensors: int) -> None:
        body = {"method": RELOAD_METHOD, "kwargs": {"weights_path": str(directory)}, "timeout": self.timeout_s}
        try:
            r = httpx.post(url + "/collective_rpc", json=body, headers=self.headers, timeout=self.timeout_s)
        except httpx.HTTPError as e:
            raise WeightSyncError(f"{url}: POST /collective_rpc ({RELOAD_METHOD}) failed: "
                                  f"{type(e).__name__}: {e}") from e
        _check_reload_answer(url, r, n_tensors)

    def _drop_all_but(self, keep: Path) -> None:
        # a server is done reading once its RPC returned: older versions only cost tmpfs memory
        for old in self.dir.iterdir():
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _check_reload_answer(url: str, r: httpx.Response, n_tensors: int) -> None:
    """Raise with what the server needs if the RPC is missing or loaded the wrong tensors."""
    if r.status_code == 404:
        raise WeightSyncError(f"{url}: no /collective_rpc route; start vLLM with VLLM_SERVER_DEV_MODE=1")
    if r.status_code != 200:
        missing = "has no attribute" in r.text  # the worker lacks our extension
        hint = f" (start vLLM with {' '.join(server_args())})" if missing else ""
        raise WeightSyncError(f"{url}: {RELOAD_METHOD} failed with HTTP {r.status_code}{hint}: {r.text[:500]}")
    results = r.json().get("results") or []
    loaded = {res.get("tensors") if isinstance(res, dict) else res for res in results}
    if loaded != {n_tensors}:
        raise WeightSyncError(f"{url}: {RELOAD_METHOD} loaded {results}, expected {n_tensors} tensors per worker")


def served_logprobs(base_url: str, token_ids: Sequence[int], *, model: str | None = None,
                    api_key: str | None = None, timeout_s: float = 60.0) -> list[float]:
    """vLLM's log-prob of every token after the first (prompt log-probs: nothing is sampled)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base_url = base_url.rstrip("/")
    with httpx.Client(timeout=timeout_s, headers=headers) as http:
        if model is None:
            model = http.get(base_url + "/v1/models").raise_for_status().json()["data"][0]["id"]
        body = {"model": model, "prompt": list(token_ids), "max_tokens": 1, "prompt_logprobs": 0}
        r = http.post(base_url + "/v1/completions", json=body).raise_for_status()
    entries = r.json()["choices"][0]["prompt_logprobs"][1:]
    return [entry[str(tok)]["logprob"] for entry, tok in zip(entries, token_ids[1:])]


def served_logprob_gap(base_url: str, model, prompt: Sequence[int], continuation: Sequence[int],
                       **kw) -> float:
    """max |vLLM - ``model``| over the continuation's log-probs: did the pushed weights arrive?"""
    from trainer.packing import response_logprobs

    theirs = served_logprobs(base_url, list(prompt) + list(continuation), **kw)[len(prompt) - 1:]
    ours = response_logprobs(model, [list(prompt)], [list(continuation)])[0].tolist()
    return max(abs(a - b) for a, b in zip(ours, theirs, strict=True))


def _weight_source():
    """A vLLM ``WeightSource`` whose ``tensors`` each push refills (vLLM's GPU classes, imported late)."""
    from vllm.distributed.weight_transfer.base import ParamMeta, WeightSource

    class StateDictSource(WeightSource):
        def __init__(self) -> None:
            self.tensors: dict[str, torch.Tensor] = {}

        def metadata(self) -> list[ParamMeta]:
            return [ParamMeta(n, t.dtype, tuple(t.shape)) for n, t in self.tensors.items()]

        def __iter__(self):
            return iter(list(self.tensors.items()))

    return StateDictSource()


class NcclWeightSync(WeightSync):
    """GPU path: vLLM's native NCCL weight transfer from this (trainer) GPU to one server's GPUs.

    The server needs ``VLLM_SERVER_DEV_MODE=1`` and ``--weight-transfer-config
    '{"backend": "nccl"}'``; ``world_size`` is 1 (this sender) + the server's tensor-parallel
    size, ``master_port`` a free port on ``master_address`` reachable by the server. Not run on
    this CPU machine (no CUDA); the CPU build has no non-CUDA transfer backend.
    """

    def __init__(self, base_url: str, *, master_address: str, master_port: int, world_size: int,
                 timeout_s: float = 300.0):
        if not torch.cuda.is_available():
            raise NotImplementedError(
                "NcclWeightSync needs CUDA on the trainer and a GPU vLLM build started with "
                "--weight-transfer-config '{\"backend\": \"nccl\"}' and VLLM_SERVER_DEV_MODE=1; "
                "on CPU use ShmReloadSync (servers started with trainer.weight_sync.server_args()).")
        from vllm.distributed.weight_transfer.clients import HTTPVLLMWeightSyncClient
        from vllm.distributed.weight_transfer.factory import WeightTransferTrainerFactory
        from vllm.distributed.weight_transfer.nccl_engine import NCCLTrainerInitInfo

        self.source = _weight_source()
        info = NCCLTrainerInitInfo(master_address=master_address, master_port=master_port,
                                   world_size=world_size, rank=0)
        self.engine = WeightTransferTrainerFactory.trainer_init(
            info, client=HTTPVLLMWeightSyncClient(base_url, timeout=timeout_s), source=self.source)

    def push(self, state_dict: Mapping[str, torch.Tensor], version: int) -> float:
        t0 = time.perf_counter()
        # tensors stay on the GPU: NCCL broadcasts them from there
        self.source.tensors = {checkpoint_name(k): v.detach().contiguous() for k, v in state_dict.items()}
        self.engine.send_weights()
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    def close(self) -> None:
        self.engine.shutdown()
