"""OpenRLHF 0.11.2's own reward clients (``SingleTurnAgentExecutor``) against our reward code.

Over HTTP it posts ``{"query", "prompts", "labels"}`` to ``--remote_rm_url`` (``ring reward serve``'s
``/get_reward``); given a ``.py`` file it loads that file's ``reward_func`` (evaluators/compat/openrlhf.py).
A null label must cost only its own item: reward 0, the request still 200, nothing retried.
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import openrlhf.utils.agent as agent  # scripts/setup.sh --dev installs it (--no-deps); never skipped
import pytest

from ring_serve.reward.spawn import reward_server

REPO = Path(__file__).resolve().parents[1]
PROMPTS = ["Q: 3/4 as a decimal?", "Q: 1+1?", "Q: 2+2?", "Q: 6*7?"]
RESPONSES = [" So \\boxed{0.75}", " \\boxed{2}", " It is \\boxed{5}", " \\boxed{42}"]
LABELS = ["\\frac{3}{4}", None, "4", "42"]  # the second label is missing
EXPECTED = [1.0, 0.0, 0.0, 1.0]


def _queries() -> list[str]:
    # OpenRLHF sends the detokenised prompt + response; the service strips the prompt
    return [p + r for p, r in zip(PROMPTS, RESPONSES)]


def _get_reward_statuses(base_url: str) -> dict[str, float]:
    text = httpx.get(base_url + "/metrics", timeout=30).text
    pattern = re.compile(r'^ring_reward_requests_total\{route="/get_reward",status="(\d+)"\} (\S+)$', re.M)
    return {status: float(n) for status, n in pattern.findall(text)}


@pytest.fixture(scope="module")
def server():
    with reward_server(["--workers", "2", "--deadline", "20"]) as s:
        yield s


def test_http_client_batch_with_a_null_label(server):
    """Needs the routes' per-item errors (a null label is that item's reward 0, HTTP 200)."""
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=server.base_url + "/get_reward")
    before = _get_reward_statuses(server.base_url)
    shards = asyncio.run(executor._fetch_rewards_via_http(_queries(), PROMPTS, LABELS))
    assert len(shards) == 1  # one endpoint, one request for the whole batch
    out = shards[0]
    assert out["rewards"] == EXPECTED and out["scores"] == EXPECTED
    assert out["extra_logs"]["error"] == [0.0, 1.0, 0.0, 0.0]
    assert out["extra_logs"]["correct"] == EXPECTED
    # exactly one request and it was a 200: OpenRLHF retried nothing (it retries 5x on any error)
    after = _get_reward_statuses(server.base_url)
    assert {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k)} == {"200": 1.0}


def test_http_client_shards_across_endpoints(server):
    url = server.base_url + "/get_reward"
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=[url, url + "?verifier=math"])
    shards = asyncio.run(executor._fetch_rewards_via_http(_queries(), PROMPTS, LABELS))
    assert [s["rewards"] for s in shards] == [EXPECTED[:2], EXPECTED[2:]]


def test_python_file_reward_func_with_a_null_label():
    """``--remote_rm_url evaluators/compat/openrlhf.py``: OpenRLHF imports the file itself."""
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(REPO / "evaluators/compat/openrlhf.py"))
    assert executor.reward_func is not None
    # OpenRLHF's func path grades one sample per call, in a thread
    outs = asyncio.run(executor._fetch_rewards_via_func(_queries(), PROMPTS, LABELS))
    assert [float(o["rewards"][0]) for o in outs] == EXPECTED
    assert [float(o["extra_logs"]["correct"][0]) for o in outs] == EXPECTED
