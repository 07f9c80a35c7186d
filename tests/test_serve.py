"""`ring serve` on the real vLLM engine, driven through the OpenAI Python SDK."""
from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.vllm

MSG = [{"role": "user", "content": "What is 2 + 3?"}]
NO_EOS = {"ignore_eos": True}  # exact token counts; the untrained model may sample EOS early


def test_models_endpoint_lists_served_name(tiny_server):
    ids = [m.id for m in tiny_server.client().models.list().data]
    assert ids == ["ring-tiny"]


def test_health_open_but_v1_needs_key(tiny_server):
    assert httpx.get(tiny_server.base_url + "/health").status_code == 200
    r = httpx.post(tiny_server.v1 + "/chat/completions", json={"model": "ring-tiny", "messages": MSG})
    assert r.status_code == 401
    r = httpx.post(tiny_server.v1 + "/chat/completions", json={"model": "ring-tiny", "messages": MSG},
                   headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_chat_and_completions(tiny_server):
    c = tiny_server.client()
    chat = c.chat.completions.create(model="ring-tiny", messages=MSG, max_tokens=8, seed=1, extra_body=NO_EOS)
    assert chat.usage.completion_tokens == 8 and chat.usage.prompt_tokens > 5
    assert chat.choices[0].finish_reason == "length"
    comp = c.completions.create(model="ring-tiny", prompt="The answer is", max_tokens=6, seed=1, extra_body=NO_EOS)
    assert comp.usage.completion_tokens == 6 and isinstance(comp.choices[0].text, str)


def test_untrained_output_without_think_end_is_reasoning(tiny_server):
    """The ring_think parser (DeepSeek-R1's split): text with no </think> is all reasoning, content
    stays null, and every reply token past an opening <think> counts as a reasoning token."""
    c = tiny_server.client()
    for seed in range(5, 25):
        r = c.chat.completions.create(model="ring-tiny", messages=MSG, max_tokens=12, seed=seed, logprobs=True)
        tokens = [t.token for t in r.choices[0].logprobs.content]
        if "</think>" not in tokens and r.choices[0].finish_reason == "length":
            msg = r.choices[0].message
            assert msg.content is None and msg.reasoning
            opened = tokens.index("<think>") + 1 if "<think>" in tokens else 0
            assert r.usage.completion_tokens_details.reasoning_tokens == len(tokens) - opened == 12 - opened
            return
    pytest.fail("every seed sampled </think> or stopped")


def test_n_samples(tiny_server):
    r = tiny_server.client().chat.completions.create(model="ring-tiny", messages=MSG, n=4, max_tokens=6, seed=2, extra_body=NO_EOS)
    assert sorted(ch.index for ch in r.choices) == [0, 1, 2, 3]
    assert r.usage.completion_tokens == 24


def test_logprobs_and_top_logprobs(tiny_server):
    r = tiny_server.client().chat.completions.create(model="ring-tiny", messages=MSG, max_tokens=5, seed=3, extra_body=NO_EOS,
                                                     logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == 5
    for tok in content:
        assert tok.logprob <= 0
        tops = [t.logprob for t in tok.top_logprobs]
        # vLLM lists the sampled token first, then the most likely others in order
        assert len(tops) == 3 and tops[0] == pytest.approx(tok.logprob, abs=1e-5)
        assert tops[1:] == sorted(tops[1:], reverse=True)
        assert all(t.logprob <= 0 for t in tok.top_logprobs)


def test_same_seed_same_text_other_seed_differs(tiny_server):
    c = tiny_server.client()

    def gen(seed):
        return c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=16, seed=seed).choices[0].text

    assert gen(11) == gen(11)
    assert any(gen(s) != gen(11) for s in (12, 13, 14))


def test_paper_sampling_defaults_apply(tiny_server):
    """No temperature/top_p in the request = the paper's 1.0 / 0.95, not greedy."""
    c = tiny_server.client()

    def gen(seed, **kw):
        return c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=16, seed=seed, **kw).choices[0].text

    for seed in (21, 22):
        assert gen(seed) == gen(seed, temperature=1.0, top_p=0.95)
    assert any(gen(s) != gen(s, temperature=0.0) for s in (21, 22, 23))


def test_stop_strings_cut_the_text(tiny_server):
    c = tiny_server.client()
    full = c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=40, seed=7,
                                extra_body=NO_EOS).choices[0].text
    # plain ASCII only: a partial UTF-8 byte shows as U+FFFD and is held back while streaming stops
    visible = [i for i in range(6, len(full) - 3) if full[i:i + 3].isascii() and full[i:i + 3].isprintable()
               and full[i:i + 3].strip()]
    assert visible, f"no printable stop candidate in {full!r}"
    stop = full[visible[0]:visible[0] + 3]
    cut = c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=40, seed=7, stop=[stop],
                               extra_body=NO_EOS).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.text == full[:full.index(stop)]


def test_streaming_with_usage(tiny_server):
    c = tiny_server.client()
    plain = c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=12, seed=9, extra_body=NO_EOS)
    chunks = list(c.completions.create(model="ring-tiny", prompt="Compute", max_tokens=12, seed=9, stream=True, extra_body=NO_EOS,
                                       stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == plain.choices[0].text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


def test_metrics_exposed(tiny_server):
    r = httpx.get(tiny_server.base_url + "/metrics")
    assert r.status_code == 200 and "vllm:" in r.text


@pytest.mark.parametrize("body,status", [
    ({"model": "no-such-model", "messages": MSG}, 404),
    ({"model": "ring-tiny", "messages": MSG, "max_tokens": 100000}, 400),
    ({"model": "ring-tiny", "messages": MSG, "temperature": -1}, 400),
    ({"model": "ring-tiny", "messages": "not a list"}, 400),
])
def test_bad_requests_get_4xx_with_message(tiny_server, body, status):
    r = httpx.post(tiny_server.v1 + "/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == status or (status == 400 and r.status_code == 422), r.text
    body = r.json()
    assert (body.get("error") or {}).get("message") or body.get("detail") or body.get("message")
    assert httpx.get(tiny_server.base_url + "/health").status_code == 200


def test_malformed_json_is_4xx_and_server_survives(tiny_server):
    r = httpx.post(tiny_server.v1 + "/chat/completions", content=b'{"model": "ring-tiny", "messages": [',
                   headers={"Authorization": f"Bearer {API_KEY}", "content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.text
    ok = tiny_server.client().chat.completions.create(model="ring-tiny", messages=MSG, max_tokens=2)
    assert ok.usage.completion_tokens == 2 and tiny_server.alive()


def test_sdk_raises_clean_errors(tiny_server):
    with pytest.raises(openai.NotFoundError):
        tiny_server.client().chat.completions.create(model="missing", messages=MSG, max_tokens=2)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=tiny_server.v1, api_key="wrong", max_retries=0).models.list()


def test_reasoning_split_from_known_output(scripted_server):
    c = scripted_server.client()
    reply = c.chat.completions.create(model="ring-scripted", messages=MSG, max_tokens=40)
    msg = reply.choices[0].message
    assert msg.reasoning == "add"
    # the tokens of "add" only: not the tags, not the answer
    assert 0 < reply.usage.completion_tokens_details.reasoning_tokens <= 3 < reply.usage.completion_tokens
    assert msg.content == "The answer is \\boxed{42}"
    stream = c.chat.completions.create(model="ring-scripted", messages=MSG, max_tokens=40, stream=True)
    reasoning, content = "", ""
    for ch in stream:
        if ch.choices:
            d = ch.choices[0].delta
            reasoning += getattr(d, "reasoning", None) or ""
            content += d.content or ""
    assert (reasoning, content) == ("add", "The answer is \\boxed{42}")
