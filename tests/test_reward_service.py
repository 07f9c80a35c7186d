"""The reward service over real HTTP: uvicorn in a subprocess on a free loopback port."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from evaluators import get_verifier
from evaluators.compat import grade_items
from evaluators.compat.reward_client import RewardClient
from evaluators.compat.trl import reward_func
from evaluators.compat.verl import compute_score, compute_score_batch
from ring_serve.reward.spawn import reward_server

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"
KEY = "reward-test-key"
STDIN_ECHO = {"tests": [{"input": "3\n", "output": "6\n", "testtype": "stdin"}]}
DOUBLE = "```python\nprint(int(input()) * 2)\n```"


def _sleeper(seconds: float) -> str:
    return f"```python\nimport time\ntime.sleep({seconds})\nprint(6)\n```"


@pytest.fixture(scope="module")
def server():
    with reward_server(["--workers", "4", "--deadline", "20"]) as s:
        yield s


@pytest.fixture(scope="module")
def small():
    """Keyed server with a tiny queue, batch and body limit."""
    with reward_server(["--workers", "2", "--queue-size", "4", "--max-batch", "8", "--max-body-mb", "0.05"],
                       api_key=KEY) as s:
        yield s


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(small):
    with httpx.Client(base_url=small.base_url, timeout=60, headers=small.headers()) as c:
        yield c


def _aime_rows(n: int) -> list[dict]:
    path = SHARED / "aime_2024.jsonl"
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path}")
    with open(path) as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


# -- endpoints -------------------------------------------------------------------------------

def test_health_and_verifiers(http):
    h = http.get("/health").json()
    assert h["status"] == "ok" and h["queue_depth"] == 0 and h["queue_size"] == 256
    info = {v["name"]: v for v in http.get("/v1/verifiers").json()["verifiers"]}
    assert set(info) == {"math", "gpqa", "code"}
    assert info["math"]["version"] == get_verifier("math").version
    assert "timeout_s" in info["math"]["options"] and "per_test_timeout_s" in info["code"]["options"]
    assert http.get("/docs").status_code == 200
    assert "/v1/reward/{verifier}" in http.get("/openapi.json").json()["paths"]


def test_single_item_matches_in_process_grader(http):
    r = http.post("/v1/reward/math", json={"response": "so \\boxed{\\frac{1}{2}}", "reference": "0.5", "id": "a"})
    assert r.status_code == 200
    [res] = r.json()["results"]
    local = get_verifier("math").grade("so \\boxed{\\frac{1}{2}}", "0.5")
    assert (res["score"], res["correct"], res["extracted"], res["reason"]) == \
           (local.score, local.correct, local.extracted, local.reason)
    assert res["id"] == "a" and res["elapsed_s"] >= 0


def test_batch_keeps_order_and_isolates_bad_items(http):
    body = {"items": [{"response": "Answer: B", "reference": "B"},
                      {"response": "Answer: B", "reference": "not a letter"},
                      {"response": "Answer: A", "reference": "C"}]}
    results = http.post("/v1/reward/gpqa", json=body).json()["results"]
    assert [r["score"] for r in results] == [1.0, 0.0, 0.0]
    assert results[1]["error"] and "letters" in results[1]["error"]
    assert results[0]["error"] is None and results[2]["extracted"] == "A"


def test_in_process_and_service_give_identical_results(server):
    """The same good and bad items through grade_items in-process and over HTTP: same fields."""
    items = [{"verifier": "gpqa", "response": "Answer: B", "reference": "B", "id": "good-gpqa"},
             {"verifier": "gpqa", "response": "Answer: B", "reference": "not a letter", "id": "bad-gpqa"},
             {"verifier": "math", "response": "so \\boxed{\\frac{1}{2}}", "reference": "0.5"},
             {"verifier": "math", "response": "\\boxed{1}", "reference": ["1"], "id": "bad-math"}]
    local = grade_items(items)
    remote = grade_items(items, url=server.base_url)
    assert [r.model_dump(exclude={"elapsed_s"}) for r in remote] == [r.model_dump(exclude={"elapsed_s"}) for r in local]
    assert [r.reason for r in local][1::2] == ["invalid item", "invalid item"]
    assert all(r.error for r in local[1::2]) and not any(r.error for r in local[::2])


def test_code_item_runs_in_sandbox(http):
    body = {"items": [{"response": DOUBLE, "reference": STDIN_ECHO},
                      {"response": "```python\nprint(7)\n```", "reference": json.dumps(STDIN_ECHO)}]}
    ok, bad = http.post("/v1/reward/code", json=body).json()["results"]
    assert ok["correct"] and ok["details"]["backend"] and ok["details"]["n_passed"] == 1
    assert not bad["correct"] and "failed" in bad["reason"]


def test_mixed_batch_by_verifier_and_data_source(http):
    items = [{"data_source": "aime_2024", "response": "\\boxed{204}", "reference": "204"},
             {"data_source": "lighteval/MATH-500", "response": "\\boxed{3}", "reference": "4"},
             {"data_source": "gpqa_diamond", "response": "Answer: D", "reference": "D"},
             {"data_source": "livecodebench", "response": DOUBLE, "reference": STDIN_ECHO},
             {"verifier": "math", "response": "\\boxed{x^2+2x+1}", "reference": "(x+1)^2"}]
    results = http.post("/v1/reward", json={"items": items}).json()["results"]
    assert [r["verifier"] for r in results] == ["math", "math", "gpqa", "code", "math"]
    assert [r["score"] for r in results] == [1.0, 0.0, 1.0, 1.0, 1.0]


def test_openrlhf_get_reward_strips_prompt(http):
    prompt = "Compute 2+2 and put it in \\boxed{}. "  # the prompt's own \boxed{} must not be graded
    body = {"query": [prompt + "It is \\boxed{4}", prompt + "It is \\boxed{5}"],
            "prompts": [prompt, prompt], "labels": ["4", "4"]}
    out = http.post("/get_reward", json=body).json()
    assert out["rewards"] == [1.0, 0.0] and out["scores"] == out["rewards"]
    assert out["extra_logs"]["correct"] == [1.0, 0.0]
    code = http.post("/get_reward?verifier=code", json={"query": ["Q" + DOUBLE], "prompts": ["Q"],
                                                         "labels": [STDIN_ECHO]}).json()
    assert code["rewards"] == [1.0]
    # OpenRLHF sends a null label for a sample without one: that sample scores 0, the rest are graded
    nulls = http.post("/get_reward", json={"query": [prompt + "\\boxed{4}", prompt + "\\boxed{4}", "q"],
                                           "prompts": [prompt, prompt, "q"], "labels": ["4", None, "1"],
                                           "data_source": ["math500", "math500", "imagenet"]})
    assert nulls.status_code == 200, nulls.text
    assert nulls.json()["rewards"] == [1.0, 0.0, 0.0] and nulls.json()["extra_logs"]["error"] == [0.0, 1.0, 1.0]
    mismatch = http.post("/get_reward", json={"query": ["a", "b"], "labels": ["1"]})
    assert mismatch.status_code == 422 and "labels" in mismatch.json()["detail"]


def test_metrics_count_requests_and_items(http):
    http.post("/v1/reward/gpqa", json={"response": "Answer: A", "reference": "A"})
    text = http.get("/metrics").text
    assert 'ring_reward_items_total{outcome="correct",verifier="gpqa"}' in text
    assert 'ring_reward_requests_total{route="/v1/reward/{verifier}",status="200"}' in text
    assert "ring_reward_request_seconds_bucket" in text and "ring_reward_queue_depth" in text
    assert "ring_reward_timeouts_total" in text or "ring_reward_timeouts" in text


# -- bad input ---------------------------------------------------------------------------------

def test_unknown_verifier_is_404_with_known_names(http):
    r = http.post("/v1/reward/nope", json={"response": "x", "reference": "1"})
    assert r.status_code == 404 and all(n in r.json()["detail"] for n in ("math", "gpqa", "code"))


def test_one_bad_item_costs_that_item_only(http):
    """Per-item problems are per-item results (score 0, error), the request still 200."""
    good = {"verifier": "math", "response": "\\boxed{2}", "reference": "2"}
    bad = [({"verifier": "nope", "response": "x", "reference": "1"}, "unknown verifier 'nope'"),
           ({"data_source": "imagenet", "response": "x", "reference": "1"}, "imagenet"),
           ({"response": "x", "reference": "1"}, "data_source"),
           ({"verifier": "math", "response": "x", "reference": None}, "null"),
           ({"verifier": "math", "response": "x", "reference": "1", "options": {"in_process": True}}, "in_process"),
           ({"verifier": "gpqa", "response": "Answer: A", "reference": "Z"}, "letters")]
    r = http.post("/v1/reward", json={"items": [good, *[b for b, _ in bad], good]})
    assert r.status_code == 200, r.text
    first, *middle, last = r.json()["results"]
    assert first["correct"] and last["correct"]
    for result, (_, word) in zip(middle, bad):
        assert result["score"] == 0.0 and result["reason"] == "invalid item" and word in result["error"], result
    batch = http.post("/v1/reward/math", json={"items": [{"response": "\\boxed{3}", "reference": None},
                                                         {"response": "\\boxed{3}", "reference": "3"}]}).json()
    assert [x["score"] for x in batch["results"]] == [0.0, 1.0] and "null" in batch["results"][0]["error"]
    # the same items in-process: the same verdicts
    local = grade_items([good, bad[0][0], bad[3][0]])
    assert [x.score for x in local] == [1.0, 0.0, 0.0] and all(x.error for x in local[1:])


@pytest.mark.parametrize("body, where", [
    ({"response": 5, "reference": "1"}, "response"),
    ({"items": [{"response": "x"}]}, "reference"),
    ({"items": [], "timeout_s": -1}, "timeout_s"),
])
def test_schema_errors_are_422_with_fields(http, body, where):
    r = http.post("/v1/reward/math", json=body)
    assert r.status_code == 422
    assert any(where in [str(p) for p in e["loc"]] for e in r.json()["detail"])


def test_value_errors_are_422(http):
    cases = [("/v1/reward/math", {"response": "x", "reference": "1", "options": {"in_process": True}}, "in_process"),
             ("/v1/reward/code", {"response": "x", "reference": "1", "options": {"backend": "process"}}, "backend"),
             ("/v1/reward/math", {"response": "x", "reference": "1", "options": {"timeout_s": 1e9}}, "timeout_s"),
             ("/v1/reward/gpqa", {"response": "Answer: A", "reference": "Z"}, "letters"),
             ("/v1/reward/math", {"response": "x", "reference": None}, "null"),
             ("/v1/reward/math", {"items": [], "options": {"in_process": True}}, "in_process")]
    for path, body, word in cases:
        r = http.post(path, json=body)
        assert r.status_code == 422, (path, body, r.text)
        assert word in json.dumps(r.json()["detail"])
    bad_json = http.post("/v1/reward/math", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422


def test_odd_text_never_500(http):
    odd = ["\x00" * 100, "\\boxed{" * 5000, "9" * 20000, "\\boxed{10^{10^{10^{10}}}}", "\\boxed{1/0}"]
    body = json.dumps({"items": [{"response": t, "reference": "1"} for t in odd]})
    r = http.post("/v1/reward/math", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert len(r.json()["results"]) == len(odd) and all(x["score"] == 0.0 for x in r.json()["results"])
    # a lone surrogate is not text: refused with the field named, never a 500
    body = json.dumps({"items": [{"response": "\ud800 \\boxed{1}", "reference": "1"}]}, ensure_ascii=True)
    r = http.post("/v1/reward/math", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "string_unicode" in r.text


# -- deadlines and hung graders ---------------------------------------------------------------

def test_deadline_times_out_one_item_rest_returns_and_slot_freed(http):
    body = {"timeout_s": 1.5,
            "items": [{"verifier": "code", "response": "```python\nwhile True: pass\n```", "reference": STDIN_ECHO,
                       "options": {"per_test_timeout_s": 8}},
                      {"verifier": "math", "response": "\\boxed{2}", "reference": "2"}]}
    t0 = time.monotonic()
    hung, fine = http.post("/v1/reward", json=body).json()["results"]
    assert time.monotonic() - t0 < 8  # answered at the deadline, not when the program stops
    assert hung["reason"] == "timeout" and hung["score"] == 0.0
    assert fine["correct"]
    assert http.get("/health").json()["abandoned_threads"] >= 1
    # the admission slot came back at the deadline although the grader thread still runs
    assert http.get("/health").json()["queue_depth"] == 0
    assert http.post("/v1/reward/math", json={"response": "\\boxed{1}", "reference": "1"}).json()["results"][0]["correct"]
    assert "ring_reward_timeouts_total" in http.get("/metrics").text


# -- auth, limits, overload --------------------------------------------------------------------

def test_api_key(small):
    item = {"response": "Answer: A", "reference": "A"}
    url = small.base_url + "/v1/reward/gpqa"
    assert httpx.post(url, json=item).status_code == 401
    assert httpx.post(url, json=item, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=item, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert httpx.post(url, json=item, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(small.base_url + "/metrics").status_code == 401
    assert httpx.get(small.base_url + "/health").status_code == 200  # probes need no key


def test_body_and_batch_limits(keyed):
    big = {"response": "x" * 60_000, "reference": "1"}
    assert keyed.post("/v1/reward/math", json=big).status_code == 413

    def chunks():  # no Content-Length: the limit must hold for streamed bodies too
        yield b'{"response": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'", "reference": "1"}'

    r = keyed.post("/v1/reward/math", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    batch = {"items": [{"response": "Answer: A", "reference": "A"}] * 9}
    r = keyed.post("/v1/reward/gpqa", json=batch)
    assert r.status_code == 413 and "8" in r.json()["detail"]


def _hold_queue(small, n_items: int, seconds: float):
    """Start a batch that occupies n_items queue slots for about ``seconds``; returns its thread."""
    import threading

    box = {}
    body = {"items": [{"response": _sleeper(seconds), "reference": STDIN_ECHO}] * n_items, "timeout_s": 30}

    def run():
        box["r"] = httpx.post(small.base_url + "/v1/reward/code", json=body, headers=small.headers(), timeout=60)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while httpx.get(small.base_url + "/health").json()["queue_depth"] < n_items:
        assert time.monotonic() < deadline, "the holding batch was never admitted"
        time.sleep(0.05)
    return t, box


def test_full_queue_answers_429_with_retry_after(small, keyed):
    t, box = _hold_queue(small, 4, 2.0)
    r = keyed.post("/v1/reward/gpqa", json={"response": "Answer: A", "reference": "A"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    t.join()
    assert box["r"].status_code == 200 and [x["correct"] for x in box["r"].json()["results"]] == [True] * 4
    assert keyed.post("/v1/reward/gpqa", json={"response": "Answer: A", "reference": "A"}).status_code == 200
    assert "ring_reward_rejected_total 1.0" in keyed.get("/metrics").text or \
           "ring_reward_rejected_total" in keyed.get("/metrics").text


def test_overload_only_200_and_429_and_nothing_lost(small):
    """48 concurrent clients against a queue of 4: refused ones retry; every request is answered."""
    n = 48

    async def one(client, i):
        statuses = []
        answer = str(i % 7)
        body = {"items": [{"response": f"\\boxed{{{answer}}}", "reference": answer},
                          {"response": "\\boxed{x^2-1}", "reference": "(x-1)(x+1)"}]}
        for _ in range(400):
            r = await client.post("/v1/reward/math", json=body)
            statuses.append(r.status_code)
            if r.status_code != 429:
                return statuses, r
            await asyncio.sleep(min(float(r.headers["retry-after"]), 0.2))
        return statuses, None

    async def main():
        async with httpx.AsyncClient(base_url=small.base_url, headers=small.headers(), timeout=120,
                                     limits=httpx.Limits(max_connections=n)) as client:
            return await asyncio.gather(*(one(client, i) for i in range(n)))

    outcomes = asyncio.run(main())
    seen = {s for statuses, _ in outcomes for s in statuses}
    assert seen <= {200, 429}, seen
    assert 429 in seen  # the queue really overflowed
    for statuses, final in outcomes:
        assert final is not None and final.status_code == 200
        assert [x["correct"] for x in final.json()["results"]] == [True, True]
    assert httpx.get(small.base_url + "/health").json()["queue_depth"] == 0


# -- adapters against the live service -------------------------------------------------------

def test_verl_adapter_remote_equals_local(server):
    rows = _aime_rows(4)
    sols = [f"Thus \\boxed{{{r['answer']}}}" if i % 2 == 0 else "Thus \\boxed{-1}" for i, r in enumerate(rows)]
    truths = [str(r["answer"]) for r in rows]
    sources = ["aime_2024"] * len(rows)
    remote = compute_score_batch(sources, sols, truths, url=server.base_url)
    local = compute_score_batch(sources, sols, truths)
    assert remote == local == [1.0, 0.0, 1.0, 0.0]
    one = compute_score("aime_2024", sols[0], truths[0], {"split": "test"}, url=server.base_url, return_dict=True)
    assert one["score"] == 1.0 and one["acc"] is True and one["pred"] == truths[0]
    with pytest.raises(ValueError, match="imagenet"):
        compute_score("imagenet", "x", "y", url=server.base_url)


def test_trl_adapter_remote_and_local(server, monkeypatch):
    completions = [[{"role": "assistant", "content": "\\boxed{12}"}], [{"role": "assistant", "content": "Answer: C"}]]
    cols = {"solution": ["12", "B"], "data_source": ["math500", "gpqa"]}
    remote = reward_func(reference_key="solution", url=server.base_url)
    assert remote.__name__ == "ring_mixed_reward"
    assert remote(prompts=["p", "q"], completions=completions, **cols) == [1.0, 0.0]
    monkeypatch.setenv("RING_REWARD_URL", server.base_url)  # the env var selects the remote path too
    math_only = reward_func("math", reference_key="solution")
    assert math_only(prompts=["p"], completions=["\\boxed{12}"], solution=["12"], trainer_state=None) == [1.0]
    monkeypatch.delenv("RING_REWARD_URL")
    assert reward_func(reference_key="solution")(prompts=["p", "q"], completions=completions, **cols) == [1.0, 0.0]


def test_client_with_key_backs_off_until_admitted(small):
    t, _ = _hold_queue(small, 4, 1.5)
    client = RewardClient(small.base_url, KEY)
    results = client.grade([{"verifier": "gpqa", "response": "Answer: B", "reference": "B"}])
    t.join()
    assert results[0]["correct"] and client.retries >= 1
    with pytest.raises(Exception, match="401"):
        RewardClient(small.base_url, "wrong").grade([{"verifier": "gpqa", "response": "A", "reference": "A"}])
    remote = grade_items([{"verifier": "gpqa", "response": "Answer: A", "reference": "B"}],
                         url=small.base_url, api_key=KEY)
    assert remote[0].score == 0.0 and remote[0].extracted == "A"
