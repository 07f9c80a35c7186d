"""Entry point for data-parallel runs under torchrun (works as a plain ``python -m`` too).

    torchrun --nproc_per_node 2 -m trainer.launch rl POLICY_DIR --out OUT --sampler torch --budget 256
    torchrun --nproc_per_node 2 -m trainer.launch sft MODEL_DIR --out OUT --steps 100 --batch-size 16
    torchrun --nproc_per_node 2 -m trainer.launch check MODEL_DIR --out result.json

``check`` runs one C3PO update on a fixed, seeded global batch (token ids, masks, advantages,
behaviour log-probs built in code) and writes the loss averaged over ranks and checksums of the
updated weights (rank 0); with world size W it uses the per-rank budget Phi and one process uses
W * Phi, so the two runs must agree (``tests/test_trainer_distributed.py``). See
``trainer.distributed`` for what a data-parallel step means.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from trainer import distributed as dist


def check_step(model_dir: str, out: str, *, n_rows: int = 8, lr: float = 1e-3, seed: int = 0,
               dtype: str = "float32", aux: bool = True, micro_tokens: int | None = None) -> dict:
    """One C3PO step on a fixed global batch of ``n_rows`` samples, sharded over the W ranks.

    Samples 2j and 2j+1 share a prompt (as a group's responses do). The global budget is
    Phi_global = 12 x (response tokens in the batch), so it never binds and every rank trains on
    its whole shard; each rank uses Phi = Phi_global / W (W in 1, 2, 3, 4, 6). The rank-averaged
    loss and the DDP-averaged gradient then equal those of one process with budget Phi_global on
    the whole batch. ``micro_tokens`` small splits each rank's update into several micro-batches
    (gradient accumulation under DDP's ``no_sync``). Rank 0 writes ``out`` (JSON: loss, grad
    norm, per-parameter [sum, abs-sum] after the step) and the updated parameters next to it (``.pt``).

    ``aux=False`` leaves out the MoE load-balance and z-losses. They are computed per rank and
    micro-batch (see ``trainer.distributed``), and the load-balance loss is not additive over
    tokens, so with them the weights whose only gradient is the aux loss (e.g. the embedding of
    each sequence's last token) may differ between world sizes by about lr.
    """
    from trainer import packing
    from trainer.losses import LossConfig
    from trainer.modeling import BailingMoeForCausalLM
    from trainer.rl import Sample, policy_update

    torch.set_num_threads(1)
    dist.init()
    world = dist.world_size()
    torch.manual_seed(seed)
    dt = getattr(torch, dtype)
    model = BailingMoeForCausalLM.from_pretrained(model_dir, dtype=dt)
    ref = BailingMoeForCausalLM.from_pretrained(model_dir, dtype=dt).eval().requires_grad_(False)
    vocab = model.config.vocab_size

    # the fixed global batch: random prompt tokens (one prompt per pair) and response tokens
    g = torch.Generator().manual_seed(1234 + seed)
    prompts, responses = [], []
    for i in range(n_rows):
        if i % 2 == 0:
            prompt = torch.randint(5, vocab, (int(torch.randint(3, 8, (1,), generator=g)),), generator=g).tolist()
        prompts.append(prompt)
        responses.append(torch.randint(5, vocab, (int(torch.randint(4, 17, (1,), generator=g)),), generator=g).tolist())
    adv = torch.randn(n_rows, generator=g, dtype=torch.float64).to(dt)
    model.eval()  # the behaviour log-probs: initial weights on the whole batch, plus fixed noise
    behav = [lp + 0.05 * torch.randn(len(lp), generator=g, dtype=torch.float64).to(dt)
             for lp in packing.response_logprobs(model, prompts, responses)]
    model.train()
    samples = [Sample(p, r, float(a), b) for p, r, a, b in zip(prompts, responses, adv, behav)]
    n_tokens = sum(len(r) for r in responses)

    # Phi per rank (paper): W ranks with Phi each == one process with W * Phi on the whole batch
    phi_global = 12 * n_tokens  # never binding: every rank trains on its whole shard
    phi = phi_global // world
    loss_cfg = LossConfig(mode="c3po", budget=phi)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    ddp = dist.wrap(model)
    kw = {} if micro_tokens is None else {"micro_tokens": micro_tokens, "row_tokens": 1}
    upd = policy_update(ddp, ref, opt, dist.shard(samples), loss_cfg, **kw,
                        **({} if aux else {"aux_coefs": (0.0, 0.0)}))
    loss_mean = dist.all_reduce_mean(upd.stats["loss"])
    params = {n: p.detach().double() for n, p in model.named_parameters()}
    result = {"world_size": world, "rank": dist.rank(), "budget_per_rank": phi, "aux": aux, "loss": loss_mean,
              "grad_norm": upd.grad_norm, "tokens": n_tokens,
              "micro_batches": dist.all_reduce_sum(float(upd.micro_batches)),
              "checksums": {n: [float(p.sum()), float(p.abs().sum())] for n, p in params.items()}}
    if dist.is_main():
        Path(out).write_text(json.dumps(result))
        torch.save({n: p.float() for n, p in params.items()}, Path(out).with_suffix(".pt"))
    dist.barrier()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trainer.launch")
    sub = ap.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("check", help="one C3PO step on a fixed global batch; writes loss and checksums")
    c.add_argument("model_dir")
    c.add_argument("--out", required=True)
    c.add_argument("--rows", type=int, default=8)
    c.add_argument("--lr", type=float, default=1e-3)
    c.add_argument("--dtype", default="float32")
    c.add_argument("--aux", default="on", choices=["on", "off", "both"],
                   help="with/without the MoE load-balance and z-losses; both: OUT-aux.json and OUT-noaux.json")
    c.add_argument("--micro-tokens", type=int, default=None, help="small: several micro-batches per rank")

    r = sub.add_parser("rl", help="C3PO/GRPO RL (trainer.rl.run_rl)")
    r.add_argument("policy_dir")
    r.add_argument("--out", required=True)
    r.add_argument("--stage", default="math")
    from trainer.rl import RLConfig

    d = RLConfig.__dataclass_fields__  # one set of defaults: RLConfig's
    r.add_argument("--steps", type=int, default=d["steps"].default)
    r.add_argument("--prompts-per-step", type=int, default=8, help="global, split over ranks")
    r.add_argument("--group-size", type=int, default=d["group_size"].default)
    r.add_argument("--mode", default="c3po")
    r.add_argument("--budget", type=int, default=d["budget"].default, help="Phi per rank")
    r.add_argument("--defer", action="store_true")
    r.add_argument("--lr", type=float, default=d["lr"].default)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--save-every", type=int, default=d["save_every"].default)
    r.add_argument("--resume", action="store_true")
    r.add_argument("--sampler", default="torch", choices=["torch", "vllm"])
    r.add_argument("--max-operand", type=int, default=20)
    r.add_argument("--max-new-tokens", type=int, default=None, help="default: 40 math, 64 code-science")
    r.add_argument("--reward-url", default=None, help="`ring reward serve` URL (key from $RING_API_KEY)")
    r.add_argument("--no-db", action="store_true")

    s = sub.add_parser("sft", help="distillation SFT (trainer.sft.run_sft)")
    s.add_argument("model_dir")
    s.add_argument("--out", required=True)
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--batch-size", type=int, default=16, help="global, split over ranks")
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--eval-every", type=int, default=100)
    s.add_argument("--max-operand", type=int, default=20)
    s.add_argument("--kinds", default="add")
    s.add_argument("--no-db", action="store_true")

    a = ap.parse_args(argv)
    try:
        if a.cmd == "check":
            out = Path(a.out)
            runs = {"on": [(True, out)], "off": [(False, out)],
                    "both": [(True, out.with_name(out.stem + "-aux.json")),
                             (False, out.with_name(out.stem + "-noaux.json"))]}[a.aux]
            for aux, path in runs:
                res = check_step(a.model_dir, str(path), n_rows=a.rows, lr=a.lr, dtype=a.dtype, aux=aux,
                                 micro_tokens=a.micro_tokens)
                if res["rank"] == 0:
                    print(json.dumps({k: res[k] for k in ("world_size", "aux", "loss", "grad_norm", "tokens",
                                                            "micro_batches")}))
        elif a.cmd == "rl":
            from trainer.rl import RLConfig, run_rl

            cfg = RLConfig(policy_dir=a.policy_dir, out_dir=a.out, stage=a.stage, steps=a.steps,
                           prompts_per_step=a.prompts_per_step, group_size=a.group_size, mode=a.mode,
                           budget=a.budget, defer=a.defer, lr=a.lr, seed=a.seed, save_every=a.save_every,
                           resume=a.resume, sampler=a.sampler, max_operand=a.max_operand,
                           max_new_tokens=a.max_new_tokens, reward_url=a.reward_url, log_db=not a.no_db)
            hist = run_rl(cfg)
            if dist.is_main() and hist:
                print(json.dumps(hist[-1]))
        else:
            from trainer.sft import SFTConfig, run_sft

            cfg = SFTConfig(model_dir=a.model_dir, out_dir=a.out, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
                            seed=a.seed, eval_every=a.eval_every, max_operand=a.max_operand,
                            kinds=tuple(k for k in a.kinds.split(",") if k), log_db=not a.no_db)
            for rec in run_sft(cfg):
                print(json.dumps(rec))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        dist.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
