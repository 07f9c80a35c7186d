"""Distillation SFT of a BailingMoe on synthetic teacher traces (``trainer.data``).

Cross-entropy on response tokens only (the prompt is context), plus the MoE load-balance and
router z-losses. Every ``eval_every`` steps a checkpoint is written with the two numbers the
checkpoint selection needs (``trainer.select``):

- ``entropy``: the mean next-token entropy of the model on the held-out traces' response tokens
  (teacher forced), which the Ring-lite paper calls the "entropy loss";
- ``val_acc``: greedy accuracy on the held-out prompts, each graded by its task's verifier
  (math, gpqa, or the sandboxed code verifier; ``trainer.rewards``).

Data parallel (``torchrun -m trainer.launch sft ...``, ``trainer.distributed``): ``batch_size`` is
global; every rank draws the same rows and trains on its contiguous share through DDP (the
gradient is the mean of the ranks' token-mean cross-entropies, which is the global token mean
when the shards have equal token counts). Rank 0 alone evaluates, logs and writes checkpoints.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from trainer import distributed as dist
from trainer.batching import TokenizerInfo, load_tokenizer, pad_batch
from trainer.data import Task, chat_prompt, response_tokens, split
from trainer.generate import generate
from trainer.losses import shift_for_next_token, token_entropy, token_logprobs
from trainer.modeling import BailingMoeForCausalLM
from trainer.modeling.aux_losses import LOAD_BALANCE_COEF, Z_LOSS_COEF, load_balance_loss, router_z_loss
from trainer.rewards import rewards
from trainer import tracking


@dataclass
class SFTConfig:
    model_dir: str
    out_dir: str
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 100
    n_train: int = 360
    n_val: int = 48
    max_operand: int = 20
    kinds: tuple[str, ...] = ("add",)
    max_new_tokens: int | None = None  # None: long enough for the kinds' traces (40, code 64)
    log_db: bool = True
    threads: int = 1  # torch intra-op threads; >1 on a busy small CPU box makes OpenMP spin (10-30x slower)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_size and eval_every must be >= 1")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        self.kinds = tuple(self.kinds)
        if self.max_new_tokens is None:
            self.max_new_tokens = response_tokens(self.kinds)


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
    return {"entropy": ent_sum / n_tok, "val_loss": nll_sum / n_tok, "val_acc": sum(correct) / len(correct)}


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


def run_sft(cfg: SFTConfig, progress: bool = True) -> list[dict]:
    """Train, writing ``out_dir/step_N`` checkpoints with ``metrics.json``; returns their metrics."""
    torch.set_num_threads(cfg.threads)
    dist.init()
    if cfg.batch_size % dist.world_size():
        raise ValueError(f"batch_size={cfg.batch_size} must split evenly over {dist.world_size()} ranks")
    main = dist.is_main()
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(cfg.model_dir)
    model = BailingMoeForCausalLM.from_pretrained(cfg.model_dir)
    model.train()
    ddp_model = dist.wrap(model)  # the model itself with one process
    train, val = split(cfg.n_train, cfg.n_val, cfg.seed, cfg.kinds, cfg.max_operand)
    prompts, responses = encode_tasks(tok, train)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    warmup = max(1, cfg.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    run_id = None
    if cfg.log_db and main:
        run_id = tracking.start_run(f"sft-{Path(cfg.out_dir).name}", "sft", asdict(cfg))
    results: list[dict] = []
    if main:
        (out / "sft_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    bar = tqdm(range(1, cfg.steps + 1), desc="sft", disable=not progress or not main)
    for step in bar:
        t0 = time.perf_counter()
        idx = dist.shard([rng.randrange(len(train)) for _ in range(cfg.batch_size)])
        batch = pad_batch([prompts[i] for i in idx], [responses[i] for i in idx], tok.pad_id)
        loss, ce = sft_step_loss(ddp_model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
        sched.step()
        metrics = {"sft_loss": dist.all_reduce_mean(ce), "grad_norm": gnorm, "step_time_s": time.perf_counter() - t0}
        if main and (step % cfg.eval_every == 0 or step == cfg.steps):
            metrics.update(evaluate(model, tok, val, max_new_tokens=cfg.max_new_tokens))
            ckpt = out / f"step_{step:06d}"
            model.save_pretrained(ckpt, source_dir=cfg.model_dir)
            record = {"step": step, "path": str(ckpt), "seed": cfg.seed, **metrics}
            (ckpt / "metrics.json").write_text(json.dumps(record, indent=2))
            results.append(record)
            bar.set_postfix(loss=f"{ce:.3f}", ent=f"{metrics['entropy']:.3f}", acc=f"{metrics['val_acc']:.2f}")
        tracking.log(run_id, step, metrics)
    tracking.finish(run_id)
    dist.barrier()
    return results
