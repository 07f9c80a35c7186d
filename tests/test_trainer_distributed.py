"""Data parallel (trainer.distributed): one C3PO step with 1 process vs `torchrun --nproc_per_node 2` (gloo).

Both runs take the same fixed, seeded global batch (token ids, masks, advantages, behaviour
log-probs; ``trainer.torchrun.check_step``); the 2-rank run shards it by rank with Phi per rank,
the 1-process run uses 2 * Phi on the whole batch, so the rank-averaged loss and the updated
weights must agree; also when each rank splits its share into several micro-batches (gradient
accumulation, DDP's no_sync until the last one, different counts on the two ranks). Without the MoE aux losses they agree to float rounding; with them (computed
per rank, load balance not additive over tokens) only weights driven by the aux loss alone can
differ, by at most ~2 lr under AdamW's first step.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ring_core.service import free_port
from ring_serve.tiny_model import build_tiny_model
from trainer import distributed as dist

LR = 1e-3


def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", MASTER_ADDR="127.0.0.1")
    return env


def _check(model: Path, out: Path, nproc: int, *extra: str) -> None:
    args = ["-m", "trainer.torchrun", "check", str(model), "--out", str(out), "--aux", "both", "--lr", str(LR), *extra]
    if nproc == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--nnodes", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=_env(),
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


def _load(out: Path, variant: str) -> tuple[dict, dict]:
    path = out.with_name(out.stem + f"-{variant}.json")
    return json.loads(path.read_text()), torch.load(path.with_suffix(".pt"))


def test_two_gloo_ranks_match_one_process(tmp_path):
    model = build_tiny_model(tmp_path / "m")
    _check(model, tmp_path / "w1.json", 1)
    _check(model, tmp_path / "w2.json", 2)
    # each rank splits its shard into several micro-batches (gradient accumulation under no_sync)
    _check(model, tmp_path / "w2m.json", 2, "--micro-tokens", "24")
    report = {}
    for variant, run in (("noaux", "w2"), ("aux", "w2"), ("noaux", "w2m"), ("aux", "w2m")):
        (r1, p1), (r2, p2) = _load(tmp_path / "w1.json", variant), _load(tmp_path / f"{run}.json", variant)
        assert (r1["world_size"], r2["world_size"]) == (1, 2)
        assert r2["micro_batches"] >= (5 if run == "w2m" else 2)
        assert r1["budget_per_rank"] == 2 * r2["budget_per_rank"]  # Phi per rank
        assert r1["tokens"] == r2["tokens"] > 0
        # the mean of the ranks' C3PO losses is the one-process loss of the whole batch
        assert r2["loss"] == pytest.approx(r1["loss"], abs=1e-5)
        assert abs(r1["loss"]) > 1e-4  # not trivially zero
        assert r2["grad_norm"] == pytest.approx(r1["grad_norm"], rel=1e-4)
        diff = max(float((p1[k] - p2[k]).abs().max()) for k in p1)
        report[variant, run] = (abs(r1["loss"] - r2["loss"]), diff)
        if variant == "noaux":
            assert diff < 1e-5, diff
            for k, (s1, a1) in r1["checksums"].items():
                s2, a2 = r2["checksums"][k]
                assert s2 == pytest.approx(s1, abs=1e-3) and a2 == pytest.approx(a1, rel=1e-6), k
        else:
            assert diff <= 2.5 * LR, diff  # only aux-only weights differ, by AdamW's ~lr sign step
            n_off = sum(int(((p1[k] - p2[k]).abs() > 1e-5).sum()) for k in p1)
            assert n_off < 0.01 * sum(v.numel() for v in p1.values()), n_off
    print("1 vs 2 ranks |loss diff|, max |param diff|:", report)


def test_single_process_helpers_are_identity():
    assert not dist.is_initialized() and dist.world_size() == 1 and dist.rank() == 0 and dist.is_main()
    m = torch.nn.Linear(2, 2)
    assert dist.wrap(m) is m and dist.unwrap(m) is m
    assert dist.all_reduce_mean(3.5) == 3.5 and dist.all_reduce_sum(2.0) == 2.0
    assert dist.reduce_metrics({"a": 1.0}) == {"a": 1.0}
    assert dist.shard(list(range(8))) == list(range(8))
    assert dist.shard(list(range(8)), 1, 2) == [4, 5, 6, 7]
    assert dist.shard(torch.arange(6), 0, 3).tolist() == [0, 1]
    with pytest.raises(ValueError):
        dist.shard(list(range(5)), 0, 2)
