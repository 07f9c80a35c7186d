"""Entry point for data-parallel runs under torchrun (works as a plain ``python -m`` too).

    torchrun --nproc_per_node 2 -m trainer.torchrun rl POLICY_DIR --out OUT --sampler torch --budget 256
    torchrun --nproc_per_node 2 -m trainer.torchrun sft --model MODEL_DIR --out OUT --steps 100 --batch-size 16
    torchrun --nproc_per_node 2 -m trainer.torchrun check MODEL_DIR --out result.json

``sft`` and ``rl`` take the options of ``ring train sft|rl``, built from the same declaration
(``trainer.config``, ``trainer.options``), with the same defaults; ``rl`` refuses the default
``--sampler vllm`` with more than one rank (``trainer.rl``). Each prints its results as JSON lines
(rank 0).

``check`` runs one C3PO update on a fixed, seeded global batch (token ids, masks, advantages,
behaviour log-probs built in code) and writes the loss averaged over ranks and checksums of the
updated weights (rank 0); with world size W it uses the per-rank budget Phi and one process uses
W * Phi, so the two runs must agree (``tests/test_trainer_distributed.py``). See
``trainer.distributed`` for what a data-parallel step means.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import typer

from trainer import distributed as dist
from trainer.config import RLConfig, SFTConfig
from trainer.options import command

app = typer.Typer(help="Data-parallel SFT / RL (torchrun) and the one-step DDP check.", no_args_is_help=True,
                  add_completion=False)


def _existing_tiny_model() -> str:
    """``--model``'s default here: the tiny model if ``ring model tiny`` (or ``ring train sft``) built it."""
    from ring_core.paths import tiny_model_dir

    path = tiny_model_dir()
    if not (path / "config.json").is_file():
        raise ValueError(f"no --model given and no tiny model at {path}; build it with `ring model tiny`")
    return str(path)


def _sft(cfg: SFTConfig) -> int:
    from trainer.sft import run_sft

    for rec in run_sft(cfg):
        typer.echo(json.dumps(rec))
    return 0


def _rl(cfg: RLConfig) -> int:
    from trainer.rl import run_rl

    hist = run_rl(cfg)
    if dist.is_main() and hist:
        typer.echo(json.dumps(hist[-1]))
    return 0


app.command("sft")(command(SFTConfig, _sft, fill={"model_dir": _existing_tiny_model},
                           doc="Distillation SFT (trainer.sft.run_sft); batch size global, split over ranks."))
app.command("rl")(command(RLConfig, _rl, doc="C3PO/GRPO RL (trainer.rl.run_rl); Phi per rank."))


@app.command("check")
def check(model_dir: str = typer.Argument(..., help="Checkpoint dir."),
          out: Path = typer.Option(..., help="Result JSON (loss, grad norm, checksums); weights next to it (.pt)."),
          rows: int = typer.Option(8, help="Samples in the fixed global batch."),
          lr: float = typer.Option(1e-3, help="AdamW learning rate of the one step."),
          dtype: str = typer.Option("float32", help="torch dtype of the model."),
          aux: str = typer.Option("on", help="With/without the MoE load-balance and z-losses; "
                                             "both: OUT-aux.json and OUT-noaux.json."),
          micro_tokens: int = typer.Option(None, help="Small: several micro-batches per rank.")) -> None:
    """One C3PO step on a fixed global batch; writes loss and checksums."""
    variants = {"on": [(True, out)], "off": [(False, out)],
                "both": [(True, out.with_name(out.stem + "-aux.json")),
                         (False, out.with_name(out.stem + "-noaux.json"))]}
    if aux not in variants:
        raise typer.BadParameter(f"expected one of {sorted(variants)}", param_hint="--aux")
    for with_aux, path in variants[aux]:
        res = check_step(model_dir, str(path), n_rows=rows, lr=lr, dtype=dtype, aux=with_aux,
                         micro_tokens=micro_tokens)
        if res["rank"] == 0:
            keys = ("world_size", "aux", "loss", "grad_norm", "tokens", "micro_batches")
            typer.echo(json.dumps({k: res[k] for k in keys}))


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
    from trainer.losses import LossConfig
    from trainer.modeling import BailingMoeForCausalLM
    from trainer.update import policy_update

    torch.set_num_threads(1)
    dist.init()
    torch.manual_seed(seed)
    dt = getattr(torch, dtype)
    model = BailingMoeForCausalLM.from_pretrained(model_dir, dtype=dt)
    ref = BailingMoeForCausalLM.from_pretrained(model_dir, dtype=dt).eval().requires_grad_(False)
    samples = _fixed_batch(model, n_rows, seed, dt)
    n_tokens = sum(len(s.response) for s in samples)
    # Phi per rank (paper): W ranks with Phi each == one process with W * Phi on the whole batch
    phi = 12 * n_tokens // dist.world_size()  # never binding: every rank trains on its whole shard
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    kw = {} if micro_tokens is None else {"micro_tokens": micro_tokens, "row_tokens": 1}
    upd = policy_update(dist.wrap(model), ref, opt, dist.shard(samples), LossConfig(mode="c3po", budget=phi), **kw,
                        **({} if aux else {"aux_coefs": (0.0, 0.0)}))
    params = {n: p.detach().double() for n, p in model.named_parameters()}
    result = {"world_size": dist.world_size(), "rank": dist.rank(), "budget_per_rank": phi, "aux": aux,
              "loss": dist.all_reduce_mean(upd.stats["loss"]), "grad_norm": upd.grad_norm, "tokens": n_tokens,
              "micro_batches": dist.all_reduce_sum(float(upd.micro_batches)),
              "checksums": {n: [float(p.sum()), float(p.abs().sum())] for n, p in params.items()}}
    if dist.is_main():
        Path(out).write_text(json.dumps(result))
        torch.save({n: p.float() for n, p in params.items()}, Path(out).with_suffix(".pt"))
    dist.barrier()
    return result


def _fixed_batch(model, n_rows: int, seed: int, dt: torch.dtype) -> list:
    """Random prompt tokens (one prompt per pair), response tokens and advantages, and behaviour
    log-probs: the initial weights' on the whole batch plus fixed noise."""
    from trainer import packing
    from trainer.update import Sample

    g = torch.Generator().manual_seed(1234 + seed)
    vocab = model.config.vocab_size
    prompts, responses = [], []
    for i in range(n_rows):
        if i % 2 == 0:
            prompt = torch.randint(5, vocab, (int(torch.randint(3, 8, (1,), generator=g)),), generator=g).tolist()
        prompts.append(prompt)
        responses.append(torch.randint(5, vocab, (int(torch.randint(4, 17, (1,), generator=g)),), generator=g).tolist())
    adv = torch.randn(n_rows, generator=g, dtype=torch.float64).to(dt)
    model.eval()
    behav = [lp + 0.05 * torch.randn(len(lp), generator=g, dtype=torch.float64).to(dt)
             for lp in packing.response_logprobs(model, prompts, responses)]
    model.train()
    return [Sample(p, r, float(a), b) for p, r, a, b in zip(prompts, responses, adv, behav)]


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand on this rank; returns its exit code (usage errors print as usual)."""
    try:
        app(args=argv, prog_name="trainer.torchrun")
    except SystemExit as exc:  # the standalone app always exits; callers (tests) want the code
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        dist.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
