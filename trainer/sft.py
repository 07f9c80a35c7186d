"""Distillation SFT of a BailingMoe on synthetic teacher traces (``trainer.data``).

Cross-entropy on response tokens only (the prompt is context), plus the MoE load-balance and
router z-losses. Every ``eval_every`` steps a checkpoint is written with the two numbers the
checkpoint selection needs (``trainer.checkpoint_select``):

- ``entropy``: the mean next-token entropy of the model on the held-out traces' response tokens
  (teacher forced), which the Ring-lite paper calls the "entropy loss";
- ``val_acc``: greedy accuracy on the held-out prompts, each graded by its task's verifier
  (math, gpqa, or the sandboxed code verifier; ``trainer.rewards``).

Data parallel (``torchrun -m trainer.torchrun sft ...``, ``trainer.distributed``): ``batch_size`` is
global; every rank draws the same rows and trains on its contiguous share through DDP (the
gradient is the mean of the ranks' token-mean cross-entropies, which is the global token mean
when the shards have equal token counts). Rank 0 alone evaluates, logs and writes checkpoints.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from trainer import distributed as dist
from trainer import metric_names as names
from trainer.batching import pad_batch
from trainer.config import SFTConfig
from trainer.data import Task, chat_prompt, split
from trainer.generate import generate
from trainer.losses import shift_for_next_token, token_entropy, token_logprobs
from trainer.modeling import BailingMoeForCausalLM
from trainer.modeling.aux_losses import LOAD_BALANCE_COEF, Z_LOSS_COEF, load_balance_loss, router_z_loss
from trainer.rewards import rewards
from trainer import tracking
from trainer.tokenizer import TokenizerInfo, load_tokenizer


def encode_tasks(tok: TokenizerInfo, tasks: list[Task]) -> tuple[list[list[int]], list[list[int]]]:
    prompts = [tok.encode(chat_prompt(t.question)) for t in tasks]
    responses = [tok.encode(t.trace) + [tok.eos_id] for t in tasks]
    return prompts, responses


@torch.no_grad()
def evaluate(model: BailingMoeForCausalLM, tok: TokenizerInfo, tasks: list[Task], *,
             max_new_tokens: int = 40, batch_size: int = 32, temperature: float = 0.0, samples: int = 1,
             seed: int = 0) -> dict[str, float]:
    """Teacher-forced entropy and loss on the traces; accuracy on the prompts, greedy by default,
    else the mean over ``samples`` samples per prompt at ``temperature``."""
    gen = torch.Generator().manual_seed(seed)
    samples = samples if temperature > 0 else 1
    model.eval()
    ent_sum = nll_sum = n_tok = 0.0
    texts: list[str] = []
    for i in range(0, len(tasks), batch_size):
        chunk = tasks[i:i + batch_size]
        prompts, responses = encode_tasks(tok, chunk)
        b = pad_batch(prompts, responses, tok.pad_id)
        logits, targets = shift_for_next_token(model(b.input_ids, b.attention_mask).logits, b.input_ids)
        m = b.loss_mask
        ent_sum += float((token_entropy(logits) * m).sum())
        nll_sum += float((-token_logprobs(logits, targets) * m).sum())
        n_tok += float(m.sum())
        outs = generate(model, [p for p in prompts for _ in range(samples)], max_new_tokens=max_new_tokens,
                        eos_id=tok.eos_id, pad_id=tok.pad_id, temperature=temperature, generator=gen)
        texts += [tok.decode(o) for o in outs]
    correct = rewards(texts, [task for task in tasks for _ in range(samples)])
    model.train()
    return {names.ENTROPY: ent_sum / n_tok, names.VAL_LOSS: nll_sum / n_tok,
            names.VAL_ACC: sum(correct) / len(correct)}


def sft_step_loss(model: BailingMoeForCausalLM, batch) -> tuple[torch.Tensor, float]:
    out = model(batch.input_ids, batch.attention_mask)
    model = dist.unwrap(model)
    logits, targets = shift_for_next_token(out.logits, batch.input_ids)
    m = batch.loss_mask
    ce = (-token_logprobs(logits, targets) * m).sum() / m.sum()
    att = batch.attention_mask.reshape(-1)
    aux = (LOAD_BALANCE_COEF * load_balance_loss(out.router_logits, model.config.num_experts_per_tok, att)
           + Z_LOSS_COEF * router_z_loss(out.router_logits, att))
    return ce + aux, float(ce.detach())


@dataclass
class SFTRun:
    """One SFT run's state between steps."""
    cfg: SFTConfig
    out: Path
    tok: TokenizerInfo
    model: BailingMoeForCausalLM
    ddp_model: torch.nn.Module  # the model itself with one process
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    rng: random.Random  # row draws, the same on every rank
    prompts: list[list[int]]
    responses: list[list[int]]
    val: list[Task]
    run_id: int | None = None  # results DB (rank 0)


def run_sft(cfg: SFTConfig, progress: bool = True) -> list[dict]:
    """Train, writing ``out_dir/step_N`` checkpoints with ``metrics.json``; returns their metrics."""
    run = _setup(cfg)
    results: list[dict] = []
    bar = tqdm(range(1, cfg.steps + 1), desc="sft", disable=not progress or not dist.is_main())
    for step in bar:
        metrics = _train_step(run)
        if dist.is_main() and (step % cfg.eval_every == 0 or step == cfg.steps):
            metrics.update(evaluate(run.model, run.tok, run.val, max_new_tokens=cfg.max_new_tokens))
            results.append(_save(run, step, metrics))
            bar.set_postfix(loss=f"{metrics[names.SFT_LOSS]:.3f}", ent=f"{metrics[names.ENTROPY]:.3f}",
                            acc=f"{metrics[names.VAL_ACC]:.2f}")
        tracking.log(run.run_id, step, metrics)
    tracking.finish(run.run_id)
    dist.barrier()
    return results


def _setup(cfg: SFTConfig) -> SFTRun:
    """Model, optimiser with warm-up, encoded traces and the validation tasks; the run's config file."""
    torch.set_num_threads(cfg.threads)
    dist.init()
    if cfg.batch_size % dist.world_size():
        raise ValueError(f"batch_size={cfg.batch_size} must split evenly over {dist.world_size()} ranks")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    tok = load_tokenizer(cfg.model_dir)  # first: it refuses a directory that is not a checkpoint
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = BailingMoeForCausalLM.from_pretrained(cfg.model_dir)
    model.train()
    ddp_model = dist.wrap(model)
    train, val = split(cfg.n_train, cfg.n_val, cfg.seed, cfg.kinds, cfg.max_operand)
    prompts, responses = encode_tasks(tok, train)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    warmup = max(1, cfg.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    run = SFTRun(cfg, out, tok, model, ddp_model, opt, sched, rng, prompts, responses, val)
    if dist.is_main():
        if cfg.log_db:
            run.run_id = tracking.start_run(f"sft-{out.name}", "sft", asdict(cfg))
        (out / "sft_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return run


def _train_step(run: SFTRun) -> dict[str, float]:
    """One optimiser step on this rank's share of a random batch of traces."""
    t0 = time.perf_counter()
    idx = dist.shard([run.rng.randrange(len(run.prompts)) for _ in range(run.cfg.batch_size)])
    batch = pad_batch([run.prompts[i] for i in idx], [run.responses[i] for i in idx], run.tok.pad_id)
    loss, ce = sft_step_loss(run.ddp_model, batch)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = float(torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0))
    run.opt.step()
    run.sched.step()
    return {names.SFT_LOSS: dist.all_reduce_mean(ce), names.GRAD_NORM: gnorm,
            names.STEP_TIME_S: time.perf_counter() - t0}


def _save(run: SFTRun, step: int, metrics: dict[str, float]) -> dict:
    """``step_N`` with the weights and ``metrics.json`` (rank 0); returns the record."""
    ckpt = run.out / f"step_{step:06d}"
    run.model.save_pretrained(ckpt, source_dir=run.cfg.model_dir)
    record = {"step": step, "path": str(ckpt), "seed": run.cfg.seed, **metrics}
    (ckpt / "metrics.json").write_text(json.dumps(record, indent=2))
    return record
