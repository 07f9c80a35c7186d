"""One C3PO/GRPO policy update on this rank's samples: packed forward passes, loss, backward, step.

    L = L_policy (``trainer.losses``) + 1e-5 * L_balance + 1e-7 * L_z  (``trainer.modeling.aux_losses``)

The samples are packed (``trainer.packing``: each prompt once, no padding to the longest
response) into micro-batches of about ``micro_tokens`` tokens; the per-response weights
(``trainer.losses.response_weights``) are fixed for the whole step, so the gradients accumulated
over micro-batches are those of one big batch, and the work follows the tokens. The proximal
policy is the current weights; a sample's behaviour log-probs are those of the policy that drew
it (None: the current weights, i.e. a fresh sample).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer import distributed as dist
from trainer import packing
from trainer.config import MICRO_TOKENS, ROW_TOKENS
from trainer.losses import LossConfig, policy_loss, response_weights
from trainer.modeling.aux_losses import LOAD_BALANCE_COEF, Z_LOSS_COEF, load_balance_loss, router_z_loss

ADDITIVE_STATS = ("loss", "pg_loss")  # a micro-batch's share of the step's value (the others are means)


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


@dataclass
class _StepInputs:
    """What every micro-batch of one update shares."""
    samples: list[Sample]
    n_train: torch.Tensor  # response tokens trained on, per sample
    adv: torch.Tensor
    weights: torch.Tensor  # per-response loss weights, fixed for the step
    loss_cfg: LossConfig
    aux_coefs: tuple[float, float]
    forward_tokens: int


def policy_update(model, ref, opt, samples: list[Sample], loss_cfg: LossConfig, *, step: bool = True,
                  max_grad_norm: float = 1.0, aux_coefs: tuple[float, float] = (LOAD_BALANCE_COEF, Z_LOSS_COEF),
                  row_tokens: int = ROW_TOKENS, micro_tokens: int = MICRO_TOKENS, pad_id: int = 0) -> Update:
    """One update: loss and backward per micro-batch, clip, optimiser step (if ``step``).

    ``model`` may be DDP-wrapped (``trainer.distributed.wrap``): gradients are averaged over ranks
    at the last micro-batch, and every rank must call this with ``step`` equal on all of them.
    ``aux_coefs``: the weights of the MoE load-balance and router z-losses (per micro-batch,
    weighted by its share of the tokens).
    """
    mbs = packing.plan([s.prompt for s in samples], [s.response for s in samples], row_tokens=row_tokens,
                       micro_tokens=micro_tokens, pad_id=pad_id)
    n_train = torch.tensor([len(s.response) if s.train_tokens is None else min(s.train_tokens, len(s.response))
                            for s in samples])
    inputs = _StepInputs(samples, n_train, torch.tensor([s.adv for s in samples]),
                         response_weights(n_train, loss_cfg.mode, loss_cfg.budget), loss_cfg, aux_coefs,
                         sum(mb.tokens for mb in mbs))
    prox_out: list[torch.Tensor] = [torch.empty(0)] * len(samples)
    totals: dict[str, float] = {}  # loss and pg_loss add up over micro-batches; the rest are token means
    counted = 0.0
    opt.zero_grad(set_to_none=True)
    for k, mb in enumerate(mbs):
        with dist.no_sync(model, k < len(mbs) - 1):
            st, n_tok = _micro_batch_backward(model, ref, mb, inputs, prox_out)
        for key, v in st.items():
            totals[key] = totals.get(key, 0.0) + v * (1.0 if key in ADDITIVE_STATS else n_tok)
        counted += n_tok
    gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
    if step:
        opt.step()
    stats = {k: v if k in ADDITIVE_STATS else v / max(counted, 1.0) for k, v in totals.items()}
    return Update(stats, gnorm, prox_out, int(n_train.sum()), inputs.forward_tokens, len(mbs))


def _micro_batch_backward(model, ref, mb: packing.MicroBatch, inputs: _StepInputs,
                          prox_out: list[torch.Tensor]) -> tuple[dict[str, float], float]:
    """Forward, loss and backward of one micro-batch; fills its samples' ``prox_out``; returns
    its statistics and trained-token count."""
    with torch.no_grad():
        ref_logp = packing.forward(ref, mb).logp
    out = packing.forward(model, mb, entropy=True)
    prox = out.logp.detach()
    mask, behav = _masks(mb, prox, inputs, prox_out)
    loss, st = policy_loss(out.logp, mask, inputs.adv[mb.index], behav, inputs.loss_cfg, ref_logp=ref_logp,
                           entropy=out.entropy, prox_logp=prox, weights=inputs.weights[mb.index])
    real = mb.real.reshape(-1)
    top_k = dist.unwrap(model).config.num_experts_per_tok
    aux = (mb.tokens / inputs.forward_tokens) * (
        inputs.aux_coefs[0] * load_balance_loss(out.router_logits, top_k, real)
        + inputs.aux_coefs[1] * router_z_loss(out.router_logits, real))
    (loss + aux).backward()
    return st, float(mask.sum())


def _masks(mb: packing.MicroBatch, prox: torch.Tensor, inputs: _StepInputs,
           prox_out: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The trained-token mask (C3PO exact cuts a response short) and the behaviour log-probs
    (the proximal ones for fresh samples); keeps each sample's proximal log-probs in ``prox_out``."""
    mask, behav = mb.mask.clone(), prox.clone()
    for j, i in enumerate(mb.index):
        sample = inputs.samples[i]
        n = len(sample.response)
        mask[j, int(inputs.n_train[i]):] = 0.0
        if sample.behav_logp is not None:
            behav[j, :n] = sample.behav_logp.to(behav.dtype)
        prox_out[i] = prox[j, :n].clone()
    return mask, behav


def sampler_gap(samples: list[Sample], prox: list[torch.Tensor]) -> float | None:
    """Mean |log p_sampler - log p_torch| over fresh response tokens: near 0 iff the weight sync works."""
    diffs = [torch.tensor(s.sampler_logp) - lp for s, lp in zip(samples, prox)
             if s.behav_logp is None and s.sampler_logp is not None and len(s.sampler_logp) == len(lp)]
    if not diffs:
        return None
    return float(torch.cat(diffs).abs().mean())


def fix_behaviour_logprobs(model, samples: list[Sample]) -> None:
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
