"""Pack prompt + response samples into dense rows for the trainer's forward passes.

The update's cost should follow the tokens it trains on; that is what C3PO's budget fixes.
Padding every sequence to the longest one makes the cost follow (responses x longest) instead,
and the K responses of a group would repeat their prompt K times. So each prompt is laid out
once, followed by the responses that share it (a prefix tree):

    row:  [p0 p1 p2 | a0 a1 a2 a3 | b0 b1 | ... ]     positions  0 1 2 | 3 4 5 6 | 3 4 | ...

Every response token attends to the prompt and to its own earlier tokens, never to a sibling,
and positions restart after the prompt for each response, so the model sees exactly what it saw
when the response was sampled; the first token of every response is predicted from the prompt's
last position. Several such trees share a row (block-diagonal mask). Rows share a width close
to total / rows and are filled best-fit, a group whole where it fits, so a step's cells stay
close to its tokens; they are grouped into micro-batches of about ``micro_tokens`` tokens, and the
caller accumulates gradients over them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from trainer.config import MICRO_TOKENS, ROW_TOKENS
from trainer.losses import token_entropy, token_logprobs


@dataclass
class MicroBatch:
    index: list[int]  # the samples in this micro-batch (positions in the caller's list)
    input_ids: torch.Tensor  # [R, W]
    position_ids: torch.Tensor  # [R, W]
    attn_mask: torch.Tensor  # [R, W, W] bool, query x key
    real: torch.Tensor  # [R, W] bool: not padding
    src_row: torch.Tensor  # [n, L]: where the logits predicting response token t of sample index[j] are
    src_col: torch.Tensor  # [n, L]
    target: torch.Tensor  # [n, L]: that token
    mask: torch.Tensor  # [n, L] float: 1 on response tokens, 0 on padding of shorter responses

    @property
    def tokens(self) -> int:
        return int(self.real.sum())


def _groups(prompts: Sequence[Sequence[int]]) -> list[tuple[list[int], list[int]]]:
    """(prompt, sample indices) per distinct prompt, in order of first appearance."""
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(prompts):
        by_prompt.setdefault(tuple(p), []).append(i)
    return [(list(k), v) for k, v in by_prompt.items()]


def _fill(groups, lengths: Sequence[int], width: int) -> list[list[tuple[list[int], list[int]]]]:
    """Rows of pieces (prompt, sample indices), each row at most ``width`` tokens.

    Largest group first: a group goes whole into the fullest row it fits in; one that fits
    nowhere fills the emptiest row (its longest responses that fit, after a copy of the prompt)
    and the rest carries on. So prompts are rarely copied and rows end up nearly full.
    """
    rows: list[list[tuple[list[int], list[int]]]] = []
    free: list[int] = []

    def put(r: int, prompt: list[int], members: list[int]) -> None:
        rows[r].append((prompt, sorted(members)))
        free[r] -= len(prompt) + sum(lengths[i] for i in members)

    for prompt, members in sorted(groups, key=lambda g: -(len(g[0]) + sum(lengths[i] for i in g[1]))):
        rest = sorted(members, key=lambda i: -lengths[i])
        while rest:
            need = len(prompt) + sum(lengths[i] for i in rest)
            fits = [r for r in range(len(rows)) if free[r] >= need]
            if fits:
                put(min(fits, key=lambda r: free[r]), prompt, rest)
                break
            r = max(range(len(rows)), key=lambda r: free[r], default=None)
            if r is None or free[r] < len(prompt) + lengths[rest[-1]]:
                rows.append([])
                free.append(width)
                r = len(rows) - 1
            room, take = free[r] - len(prompt), []
            for i in rest:
                if lengths[i] <= room:
                    take.append(i)
                    room -= lengths[i]
            put(r, prompt, take)
            rest = [i for i in rest if i not in take]
    return rows


def _layout(rows, responses) -> tuple[list[tuple[list[int], ...]], dict[int, list[tuple[int, int, int]]]]:
    """Flatten rows into token/position/segment/branch lists and the source of each response token."""
    out = []
    src: dict[int, list[tuple[int, int, int]]] = {}
    for r, pieces in enumerate(rows):
        ids, pos, seg, branch = [], [], [], []
        for s, (prompt, members) in enumerate(pieces, start=1):
            start = len(ids)
            ids += prompt
            pos += range(len(prompt))
            seg += [s] * len(prompt)
            branch += [0] * len(prompt)
            last_prompt = start + len(prompt) - 1
            for b, i in enumerate(members, start=1):
                resp = list(responses[i])
                col0 = len(ids)
                ids += resp
                pos += range(len(prompt), len(prompt) + len(resp))
                seg += [s] * len(resp)
                branch += [b] * len(resp)
                cols = [last_prompt] + list(range(col0, col0 + len(resp) - 1))
                src[i] = [(r, c, t) for c, t in zip(cols, resp)]
        out.append((ids, pos, seg, branch))
    return out, src


def plan(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], *, row_tokens: int = ROW_TOKENS,
         micro_tokens: int = MICRO_TOKENS, pad_id: int = 0) -> list[MicroBatch]:
    """Micro-batches covering every sample once (a sample never spans two rows)."""
    if len(prompts) != len(responses) or not prompts:
        raise ValueError("need the same, non-zero number of prompts and responses")
    if any(len(p) < 1 for p in prompts) or any(len(r) < 1 for r in responses):
        raise ValueError("every sample needs >= 1 prompt token and >= 1 response token")
    if row_tokens < 1 or micro_tokens < 1:
        raise ValueError("row_tokens and micro_tokens must be positive")
    lengths = [len(r) for r in responses]
    groups = _groups(prompts)
    longest = max(len(prompts[i]) + lengths[i] for i in range(len(prompts)))
    total = sum(len(p) + sum(lengths[i] for i in m) for p, m in groups)
    n_rows = max(1, math.ceil(total / max(row_tokens, longest)))
    width = max(longest, math.ceil(total / n_rows))
    rows = _fill(groups, lengths, width)
    while len(rows) > n_rows:  # responses do not split evenly: widen a little until they fit
        width += max(1, width // 64)
        rows = _fill(groups, lengths, width)
    flat, src = _layout(rows, responses)
    width = max(len(ids) for ids, *_ in flat)
    per_micro = max(1, micro_tokens // width)
    n_micro = math.ceil(len(flat) / per_micro)
    bounds = [round(k * len(flat) / n_micro) for k in range(n_micro + 1)]
    return [_tensors(flat[lo:hi], src, range(lo, hi), width, pad_id) for lo, hi in zip(bounds, bounds[1:])]


def _tensors(rows, src, row_ids: range, width: int, pad_id: int) -> MicroBatch:
    n_rows = len(rows)
    ids = torch.full((n_rows, width), pad_id, dtype=torch.long)
    pos = torch.zeros_like(ids)
    seg = torch.zeros_like(ids)
    branch = torch.zeros_like(ids)
    for r, (i, p, s, b) in enumerate(rows):
        ids[r, :len(i)] = torch.tensor(i)
        pos[r, :len(p)] = torch.tensor(p)
        seg[r, :len(s)] = torch.tensor(s)
        branch[r, :len(b)] = torch.tensor(b)
    real = seg > 0
    q_seg, k_seg = seg[:, :, None], seg[:, None, :]
    q_br, k_br = branch[:, :, None], branch[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()[None]
    attn = (q_seg == k_seg) & real[:, None, :] & causal & ((k_br == 0) | (k_br == q_br))
    first = row_ids.start
    index = sorted((i for i, tok in src.items() if tok[0][0] in row_ids), key=lambda i: (src[i][0][0], src[i][0][1]))
    n_tok = max(len(src[i]) for i in index)
    src_row = torch.zeros(len(index), n_tok, dtype=torch.long)
    src_col = torch.zeros_like(src_row)
    target = torch.full_like(src_row, pad_id)
    mask = torch.zeros(len(index), n_tok)
    for j, i in enumerate(index):
        t = torch.tensor(src[i])
        n = len(t)
        src_row[j, :n], src_col[j, :n], target[j, :n] = t[:, 0] - first, t[:, 1], t[:, 2]
        mask[j, :n] = 1.0
    return MicroBatch(index=index, input_ids=ids, position_ids=pos, attn_mask=attn, real=real,
                      src_row=src_row, src_col=src_col, target=target, mask=mask)


@dataclass
class TokenOutputs:
    logp: torch.Tensor  # [n, L] log-prob of each response token
    entropy: torch.Tensor | None  # [n, L] entropy of the distribution it was drawn from
    router_logits: list[torch.Tensor]  # per MoE layer, [R * W, E]


def forward(model, mb: MicroBatch, *, entropy: bool = False) -> TokenOutputs:
    """Run ``model`` on a micro-batch and pick out each response token's log-prob (and entropy)."""
    out = model(mb.input_ids, mb.real.long(), position_ids=mb.position_ids, attn_mask=mb.attn_mask)
    logits = out.logits[mb.src_row, mb.src_col]  # [n, L, V]
    return TokenOutputs(token_logprobs(logits, mb.target), token_entropy(logits) if entropy else None,
                        out.router_logits)


@torch.no_grad()
def response_logprobs(model, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]],
                      **plan_kw) -> list[torch.Tensor]:
    """log pi(response token) for every sample, without gradient (e.g. behaviour log-probs)."""
    result: list[torch.Tensor] = [torch.empty(0)] * len(prompts)
    for mb in plan(prompts, responses, **plan_kw):
        lp = forward(model, mb).logp
        for j, i in enumerate(mb.index):
            result[i] = lp[j, :len(responses[i])].clone()
    return result
