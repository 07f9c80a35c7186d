"""verl reward functions: ``reward.custom_reward_function.path`` (verl 0.9) may point at this file.

``compute_score`` follows verl's per-sample signature (the default ``naive`` reward manager);
``compute_score_async`` is the same as a coroutine, the reward-loop form verl 0.9's managers
await; ``compute_score_batch`` follows older verl's batch manager (``reward_manager: batch``, not
registered in verl 0.9). Extra keyword arguments come from ``reward_kwargs``: ``url``/``api_key``
grade through a remote ``ring reward serve``; ``return_dict=True`` adds acc/pred/reason to verl's logs.
"""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

from evaluators.compat import GradeResult, grade_items, verifier_for


def _item(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None) -> dict[str, Any]:
    info = extra_info if isinstance(extra_info, dict) else {}
    name = info.get("verifier") or verifier_for(data_source)
    return {"verifier": name, "response": solution_str, "reference": ground_truth,
            "options": info.get("grader_options")}


def _shape(result: GradeResult, return_dict: bool) -> float | dict[str, Any]:
    if not return_dict:
        return result.score
    # verl logs one string per sample: an unusable item's message goes with its reason
    reason = f"{result.reason}: {result.error}" if result.error else result.reason
    return {"score": result.score, "acc": result.correct, "pred": result.extracted or "", "reason": reason}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  *, url: str | None = None, api_key: str | None = None, return_dict: bool = False,
                  timeout_s: float | None = None, **_: Any) -> float | dict[str, Any]:
    """Reward of one sample (1.0 correct, 0.0 not) from the verifier matching ``data_source``."""
    result = grade_items([_item(data_source, solution_str, ground_truth, extra_info)], url=url,
                         api_key=api_key, timeout_s=timeout_s)[0]
    return _shape(result, return_dict)


async def compute_score_async(data_source: str, solution_str: str, ground_truth: Any,
                              extra_info: dict | None = None, *, url: str | None = None,
                              api_key: str | None = None, return_dict: bool = False,
                              timeout_s: float | None = None, **_: Any) -> float | dict[str, Any]:
    """``compute_score`` for verl 0.9's reward loop: graded in a thread, the event loop stays free."""
    return await asyncio.to_thread(compute_score, data_source, solution_str, ground_truth, extra_info, url=url,
                                   api_key=api_key, return_dict=return_dict, timeout_s=timeout_s)


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str],
                        ground_truths: Sequence[Any], extra_infos: Sequence[dict | None] | None = None,
                        *, url: str | None = None, api_key: str | None = None, return_dict: bool = False,
                        timeout_s: float | None = None, **_: Any) -> list[float | dict[str, Any]]:
    """Rewards of many samples at once (graded concurrently); same order as the inputs."""
    n = len(solution_strs)
    if not (len(data_sources) == len(ground_truths) == n):
        raise ValueError("data_sources, solution_strs and ground_truths must have the same length")
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    items = [_item(d, s, g, e) for d, s, g, e in zip(data_sources, solution_strs, ground_truths, infos)]
    return [_shape(r, return_dict) for r in grade_items(items, url=url, api_key=api_key, timeout_s=timeout_s)]
