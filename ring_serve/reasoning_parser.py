"""vLLM reasoning parser ``ring_think``: DeepSeek-R1's ``<think>`` split with a token count to match.

Loaded by vLLM from this file (``--reasoning-parser-plugin``). The split is DeepSeek-R1's: the
reply is reasoning up to the first ``</think>`` (an opening ``<think>`` is optional, since chat
templates often put it in the prompt), the rest is content. vLLM 0.32's own count only counts
tokens between an opening and a closing tag in the reply, so a reply whose ``<think>`` came from
the prompt reports 0 reasoning tokens; this count follows the split instead, so
``usage.completion_tokens_details.reasoning_tokens`` is the length of ``message.reasoning``.
"""
from __future__ import annotations

from collections.abc import Sequence

from vllm.reasoning import ReasoningParserManager
from vllm.reasoning.deepseek_r1_reasoning_parser import DeepSeekR1ReasoningParser

NAME = "ring_think"


@ReasoningParserManager.register_module(NAME)
class RingThinkReasoningParser(DeepSeekR1ReasoningParser):
    """DeepSeek-R1 reasoning split; reasoning tokens counted the way the split reads them."""

    def count_reasoning_tokens(self, token_ids: Sequence[int]) -> int:
        ids = list(token_ids)
        start = ids.index(self.start_token_id) + 1 if self.start_token_id in ids else 0
        end = ids.index(self.end_token_id, start) if self.end_token_id in ids[start:] else len(ids)
        return end - start
