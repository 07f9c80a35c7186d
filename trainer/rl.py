"""RL stage of the Ring-lite recipe: rollouts -> verifier rewards -> C3PO (or GRPO) update.

One step:
  1. draw ``prompts_per_step`` prompts of the stage's tasks, sample ``group_size`` responses each;
  2. reward R = 1 if the task's verifier accepts the response, else 0 (no format reward):
     math for arithmetic, the sandboxed code verifier (all tests pass) for code, gpqa for
     science; in-process, or by the reward service at ``reward_url`` (``trainer.rewards``);
  3. group-normalised advantages (``trainer.advantages``);
  4. C3PO: take responses greedily until the token budget Phi is reached (``trainer.budget``);
     left-overs are dropped, or with ``defer=True`` queued first for the next step (at most
     ``max_staleness`` steps after they were sampled, as AReaL bounds staleness); GRPO: take all;
  5. pack the selected samples (``trainer.packing``: each prompt once, no padding to the longest
     response, micro-batches of ``micro_tokens``), recompute their log-probs with our torch model
     (proximal = current weights) and the frozen reference policy's, then one AdamW step on
        L = L_policy (``trainer.losses``) + 1e-5 * L_balance + 1e-7 * L_z  (``trainer.modeling.aux_losses``)
     with gradients accumulated over the micro-batches;
  6. push the new weights into the sampler in place and time it.

Fresh samples were drawn by the current weights, so their behaviour log-probs are the proximal
ones of step 5. Deferred responses were sampled by an older policy: their behaviour log-probs
are fixed when they are deferred (the sampler's own, which the step checks against our model as
``sampler_logp_gap``; recomputed with our model if the sampler reports none), and the decoupled
objective weights them by pi_prox/pi_behav.
Metrics go to the results DB per step; checkpoints (weights + optimizer + step + RNG + deferred
queue) every ``save_every`` steps, and ``resume=True`` continues from the newest one.

Stages: ``math`` trains on arithmetic chains; ``code-science`` on stdin -> stdout programs graded
by hidden tests in the sandbox, mixed with GPQA-style multiple-choice science questions.

Data parallel (``trainer.distributed``, ``torchrun -m trainer.launch rl ...``): ``prompts_per_step``
is the global number of prompts; every rank draws the same prompts and keeps its contiguous share
(whole groups), samples, grades and normalises advantages locally, selects with its own budget
Phi (per rank, as in the paper) and keeps its own deferred queue. The model is DDP-wrapped, so the
backward averages gradients; the skip-if-no-signal decision and the metrics are all-reduced, and
rank 0 alone logs, shows progress and writes the checkpoint (ranks > 0 add their RNG and deferred
queue as ``trainer_state.rank{r}.pt``). With one process (no torchrun) nothing changes.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from trainer.advantages import group_advantages
from trainer.batching import load_tokenizer
from trainer import distributed as dist
from trainer.budget import select_by_budget
from trainer.data import chat_prompt, response_tokens, split
from trainer.losses import LossConfig, policy_loss, response_weights
from trainer.modeling import BailingMoeForCausalLM
from trainer.modeling.aux_losses import LOAD_BALANCE_COEF, Z_LOSS_COEF, load_balance_loss, router_z_loss
from trainer.rewards import rewards as grade_rewards
from trainer import packing, tracking

STAGE_KINDS = {"math": ("add", "chain"), "code-science": ("code", "science")}
ADDITIVE_STATS = ("loss", "pg_loss")  # a micro-batch's share of the step's value (the others are means)


@dataclass
class RLConfig:
    policy_dir: str
    out_dir: str
    stage: str = "math"
    # tiny model (README "Measured on the tiny model"): 100 steps of 8 x 8 at lr 5e-5, Phi 1024 raised
    # held-out greedy accuracy 0.225 -> 0.296/0.310 (2 seeds); 30 steps of 8 x 4 at lr 2e-4, Phi 512 did not
    steps: int = 100
    prompts_per_step: int = 8
    group_size: int = 8
    max_new_tokens: int | None = None  # None: long enough for the stage's traces (40 math, 64 code)
    temperature: float = 1.0
    lr: float = 5e-5
    mode: str = "c3po"
    budget: int = 1024  # Phi: tokens per step
    defer: bool = False
    max_staleness: int = 1  # defer: a left-over is trained at most this many steps after it was sampled
    exact: bool = False  # C3PO: train on only the first tokens of the response that crosses Phi
    kl_beta: float = 1e-3
    entropy_alpha: float = 5e-4
    seed: int = 0
    save_every: int = 20
    resume: bool = False
    sampler: str = "vllm"
    max_operand: int = 20
    n_train: int = 360
    n_val: int = 48  # held-out suite of the same seed/kinds (as in SFT): never trained on
    data_seed: int | None = None  # seed of the train/held-out split (the SFT run's); None: ``seed``.
    # Set it to vary the RL seed (sampling, prompt order) without moving the held-out suite.
    log_db: bool = True
    threads: int = 1
    # grade with `ring reward serve` at this URL (key from $RING_API_KEY) instead of in-process
    reward_url: str | None = None
    kinds: tuple[str, ...] | None = None  # task kinds; None: the stage's (STAGE_KINDS)
    # packed update (trainer.packing): row width and tokens per micro-batch (bounds memory; raise on GPUs)
    row_tokens: int = packing.ROW_TOKENS
    micro_tokens: int = packing.MICRO_TOKENS

    def __post_init__(self) -> None:
        if self.stage not in STAGE_KINDS:
            raise ValueError(f"unknown stage {self.stage!r}; expected one of {sorted(STAGE_KINDS)}")
        self.kinds = tuple(self.kinds) if self.kinds else STAGE_KINDS[self.stage]
        if self.max_new_tokens is None:
            self.max_new_tokens = response_tokens(self.kinds)
        if self.sampler not in ("vllm", "torch"):
            raise ValueError("sampler must be 'vllm' or 'torch'")
        if self.steps < 1 or self.prompts_per_step < 1 or self.group_size < 2:
            raise ValueError("need steps >= 1, prompts_per_step >= 1, group_size >= 2")
        if self.max_staleness < 1:
            raise ValueError("max_staleness must be >= 1")
        if self.row_tokens < 1 or self.micro_tokens < 1:
            raise ValueError("row_tokens and micro_tokens must be positive")
        LossConfig(mode=self.mode, budget=self.budget)  # validates mode/budget


@dataclass
class Sample:
    prompt: list[int]
    response: list[int]
    adv: float
    # log-probs of the response under the policy that sampled it; None: the current weights
    # (a fresh sample), whose log-probs the update recomputes anyway as pi_prox
    behav_logp: torch.Tensor | None = None
    sampler_logp: list[float] | None = None  # the sampler's own report, to check the weight sync
    train_tokens: int | None = None  # train on the first n response tokens only (C3PO exact)
    step: int = 0  # the RL step that sampled it


@dataclass
class Update:
    stats: dict[str, float]  # loss (policy loss, without the aux losses), pg_loss, kl, entropy, clip_frac
    grad_norm: float  # before clipping
    prox_logp: list[torch.Tensor]  # per sample: log-probs under the weights before the update
    tokens: int  # response tokens trained on
    forward_tokens: int  # tokens through the model (each group's prompt once)
    micro_batches: int


def policy_update(model, ref, opt, samples: list[Sample], loss_cfg: LossConfig, *, step: bool = True,
                  max_grad_norm: float = 1.0, aux_coefs: tuple[float, float] = (LOAD_BALANCE_COEF, Z_LOSS_COEF),
                  row_tokens: int = packing.ROW_TOKENS, micro_tokens: int = packing.MICRO_TOKENS,
                  pad_id: int = 0) -> Update:
    """One C3PO/GRPO update on this rank's samples: loss, backward, clip, optimiser step.

    The samples are packed (``trainer.packing``: one copy of each prompt, no padding to the
    longest response) into micro-batches of about ``micro_tokens`` tokens; the per-response
    weights (``trainer.losses.response_weights``) are fixed for the whole step, so the gradients
    accumulated over micro-batches are those of one big batch, and the work follows the tokens.
    ``model`` may be DDP-wrapped (``trainer.distributed.wrap``): gradients are averaged over ranks
    at the last micro-batch, and every rank must call this with ``step`` equal on all of them.
    The proximal policy is the current weights. ``aux_coefs``: the weights of the MoE
    load-balance and router z-losses (per micro-batch, weighted by its share of the tokens).
    """
    inner = dist.unwrap(model)
    mbs = packing.plan([s.prompt for s in samples], [s.response for s in samples], row_tokens=row_tokens,
                       micro_tokens=micro_tokens, pad_id=pad_id)
    n_train = torch.tensor([len(s.response) if s.train_tokens is None else min(s.train_tokens, len(s.response))
                            for s in samples])
    weights = response_weights(n_train, loss_cfg.mode, loss_cfg.budget)
    adv = torch.tensor([s.adv for s in samples])
    fwd_tokens = sum(mb.tokens for mb in mbs)
    prox_out: list[torch.Tensor] = [torch.empty(0)] * len(samples)
    totals: dict[str, float] = {}  # loss and pg_loss add up over micro-batches; the rest are token means
    counted = 0.0
    opt.zero_grad(set_to_none=True)
    for k, mb in enumerate(mbs):
        with dist.no_sync(model, k < len(mbs) - 1):
            with torch.no_grad():
                ref_logp = packing.forward(ref, mb).logp
            out = packing.forward(model, mb, entropy=True)
            prox = out.logp.detach()
            mask, behav = mb.mask.clone(), prox.clone()
            for j, i in enumerate(mb.index):
                n = len(samples[i].response)
                mask[j, int(n_train[i]):] = 0.0
                if samples[i].behav_logp is not None:
                    behav[j, :n] = samples[i].behav_logp.to(behav.dtype)
                prox_out[i] = prox[j, :n].clone()
            loss, st = policy_loss(out.logp, mask, adv[mb.index], behav, loss_cfg, ref_logp=ref_logp,
                                   entropy=out.entropy, prox_logp=prox, weights=weights[mb.index])
            real = mb.real.reshape(-1)
            aux = (mb.tokens / fwd_tokens) * (
                aux_coefs[0] * load_balance_loss(out.router_logits, inner.config.num_experts_per_tok, real)
                + aux_coefs[1] * router_z_loss(out.router_logits, real))
            (loss + aux).backward()
        n_tok = float(mask.sum())
        for key, v in st.items():
            totals[key] = totals.get(key, 0.0) + v * (1.0 if key in ADDITIVE_STATS else n_tok)
        counted += n_tok
    gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
    if step:
        opt.step()
    stats = {k: v if k in ADDITIVE_STATS else v / max(counted, 1.0) for k, v in totals.items()}
    return Update(stats, gnorm, prox_out, int(n_train.sum()), fwd_tokens, len(mbs))


def _sampler_gap(samples: list[Sample], prox: list[torch.Tensor]) -> float | None:
    """Mean |log p_sampler - log p_torch| over fresh response tokens: near 0 iff the weight sync works."""
    diffs = [torch.tensor(s.sampler_logp) - lp for s, lp in zip(samples, prox)
             if s.behav_logp is None and s.sampler_logp is not None and len(s.sampler_logp) == len(lp)]
    if not diffs:
        return None
    return float(torch.cat(diffs).abs().mean())


def _behaviour_logprobs(model, samples: list[Sample]) -> None:
    """Fix the behaviour log-probs of fresh samples that outlive this step (deferred): the
    sampler's own when it reports them, else recomputed with the current weights."""
    todo = [s for s in samples if s.behav_logp is None]
    for s in todo:
        if s.sampler_logp is not None and len(s.sampler_logp) == len(s.response):
            s.behav_logp = torch.tensor(s.sampler_logp)
    todo = [s for s in todo if s.behav_logp is None]
    if todo:
        lps = packing.response_logprobs(dist.unwrap(model), [s.prompt for s in todo], [s.response for s in todo])
        for s, lp in zip(todo, lps):
            s.behav_logp = lp


def latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = sorted(out_dir.glob("step_*/trainer_state.pt"))
    return ckpts[-1].parent if ckpts else None


def run_rl(cfg: RLConfig, progress: bool = True) -> list[dict]:
    """Train; returns the per-step metrics."""
    torch.set_num_threads(cfg.threads)
    dist.init()
    rank, world = dist.rank(), dist.world_size()
    if cfg.prompts_per_step % world:
        raise ValueError(f"prompts_per_step={cfg.prompts_per_step} must split evenly over {world} ranks")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_dir = Path(cfg.policy_dir)
    resume_from = latest_checkpoint(out) if cfg.resume else None
    tok = load_tokenizer(start_dir)
    model = BailingMoeForCausalLM.from_pretrained(resume_from or start_dir)
    ref = BailingMoeForCausalLM.from_pretrained(start_dir).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    loss_cfg = LossConfig(mode=cfg.mode, budget=cfg.budget, kl_beta=cfg.kl_beta, entropy_alpha=cfg.entropy_alpha)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    first_step, deferred = 1, []
    if resume_from is not None:
        state = torch.load(resume_from / "trainer_state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        first_step, deferred = state["step"] + 1, state["deferred"]
        rank_state = resume_from / f"trainer_state.rank{rank}.pt"
        if rank and rank_state.exists():
            rs = torch.load(rank_state, weights_only=False)
            torch.set_rng_state(rs["torch_rng"])
            deferred = rs["deferred"]
        elif rank:
            deferred = []
    data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
    train, _ = split(cfg.n_train, cfg.n_val, data_seed, cfg.kinds, cfg.max_operand)
    prompt_ids = [tok.encode(chat_prompt(t.question)) for t in train]
    sampler = _make_sampler(cfg, model, tok, resume_from or start_dir)
    ddp_model = dist.wrap(model)  # the model itself with one process
    run_id = None
    if cfg.log_db and dist.is_main():
        run_id = tracking.start_run(f"rl-{cfg.stage}-{Path(cfg.out_dir).name}", cfg.mode, asdict(cfg))
    history: list[dict] = []
    model.train()
    bar = tqdm(range(first_step, cfg.steps + 1), desc=f"rl-{cfg.stage}-{cfg.mode}",
               disable=not progress or not dist.is_main())
    for step in bar:
        t0 = time.perf_counter()
        # the same global draw on every rank (same rng), each rank keeps its share of whole groups
        idx = dist.shard([rng.randrange(len(train)) for _ in range(cfg.prompts_per_step)])
        rolls = sampler.sample([prompt_ids[i] for i in idx], cfg.group_size, cfg.max_new_tokens, cfg.temperature)
        t_roll = time.perf_counter() - t0
        tasks = [train[i] for i in idx for _ in range(cfg.group_size)]
        texts = [tok.decode([t for t in r.response if t != tok.eos_id]) for r in rolls]
        rewards = grade_rewards(texts, tasks, cfg.reward_url)
        adv = group_advantages(rewards, cfg.group_size)
        t_reward = time.perf_counter() - t0 - t_roll
        t_update = time.perf_counter()
        fresh = [Sample(r.prompt, r.response, float(a), sampler_logp=r.logprobs, step=step)
                 for r, a in zip(rolls, adv)]
        candidates = deferred + fresh
        if cfg.mode == "c3po":
            sel = select_by_budget([len(s.response) for s in candidates], cfg.budget, defer=cfg.defer,
                                   exact=cfg.exact)
            chosen = [replace(candidates[i], train_tokens=sel.keep_tokens.get(i)) for i in sel.selected]
            # left-overs queue for the next step (first in line), unless they would be too stale by then
            deferred = [candidates[i] for i in sel.left
                        if cfg.defer and step + 1 - candidates[i].step <= cfg.max_staleness]
            _behaviour_logprobs(model, deferred)  # before the update moves the weights
        else:
            chosen, deferred = candidates, []
        # no response with a non-zero advantage (on any rank): no policy signal, and Adam would turn
        # the tiny KL/entropy/aux gradients into full-size steps, so the weights stay as they are
        signal = dist.all_reduce_max(float(any(s.adv != 0.0 for s in chosen))) > 0
        upd = policy_update(ddp_model, ref, opt, chosen, loss_cfg, step=signal, row_tokens=cfg.row_tokens,
                            micro_tokens=cfg.micro_tokens, pad_id=tok.pad_id)
        stats, gnorm = upd.stats, upd.grad_norm
        gap = _sampler_gap(chosen, upd.prox_logp)
        update_s = time.perf_counter() - t_update
        sync_s = sampler.push_weights(model.state_dict()) if signal else 0.0
        step_s = time.perf_counter() - t0
        lengths = [len(r.response) for r in rolls]
        n_tok = upd.tokens
        metrics = {"reward_mean": statistics.fmean(rewards), "accuracy": statistics.fmean(rewards),
                   "entropy": stats["entropy"], "kl": stats.get("kl", 0.0), "grad_norm": gnorm,
                   "loss": stats["loss"], "clip_frac": stats["clip_frac"],
                   "response_len_mean": statistics.fmean(lengths), "response_len_max": max(lengths),
                   "tokens_in_step": n_tok, "forward_tokens": upd.forward_tokens, "responses_in_step": len(chosen),
                   "deferred": len(deferred), "step_time_s": step_s, "rollout_time_s": t_roll,
                   "reward_time_s": t_reward, "update_time_s": update_s, "tokens_per_s": n_tok / step_s,
                   "weight_sync_s": sync_s, "updated": float(signal)}
        if world > 1:  # means over ranks; token/response counts are global sums
            maxes = ["response_len_max", "step_time_s", "rollout_time_s", "reward_time_s", "update_time_s",
                     "weight_sync_s"]
            metrics = dist.reduce_metrics(metrics, sums=["tokens_in_step", "forward_tokens", "responses_in_step",
                                                         "deferred"],
                                          maxes=maxes)
            metrics["tokens_per_s"] = metrics["tokens_in_step"] / metrics["step_time_s"]
            n_gap = dist.all_reduce_sum(float(gap is not None))  # ranks with sampler log-probs
            gap_sum = dist.all_reduce_sum(gap or 0.0)
            gap = gap_sum / n_gap if n_gap else None
        if gap is not None:
            metrics["sampler_logp_gap"] = gap
        history.append({"step": step, **metrics})
        tracking.log(run_id, step, metrics)
        bar.set_postfix(reward=f"{metrics['reward_mean']:.2f}", tok=n_tok, sync=f"{sync_s:.2f}s")
        if step % cfg.save_every == 0 or step == cfg.steps:
            ckpt = out / f"step_{step:06d}"
            if dist.is_main():
                save_checkpoint(ckpt, model, opt, step, rng, deferred, start_dir, cfg)
            else:
                ckpt.mkdir(parents=True, exist_ok=True)
                torch.save({"torch_rng": torch.get_rng_state(), "deferred": deferred},
                           ckpt / f"trainer_state.rank{rank}.pt")
            dist.barrier()
    tracking.finish(run_id)
    sampler.close()
    return history


def save_checkpoint(path: Path, model, opt, step: int, rng: random.Random, deferred: list, source_dir: Path,
                    cfg: RLConfig) -> None:
    model.save_pretrained(path, source_dir=source_dir)
    torch.save({"optimizer": opt.state_dict(), "step": step, "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(), "deferred": deferred}, path / "trainer_state.pt")
    (path / "rl_config.json").write_text(json.dumps(asdict(cfg), indent=2))


def _make_sampler(cfg: RLConfig, model, tok, weights_dir: Path):
    from trainer.rollout import TorchSampler, VllmSampler

    if cfg.sampler == "torch":
        return TorchSampler(model, tok.eos_id, tok.pad_id, seed=cfg.seed + dist.rank())
    return VllmSampler(str(weights_dir), seed=cfg.seed + dist.rank())
