"""Runner client against a loopback HTTP peer that fails on purpose: retries, backoff, fatal errors,
and the final-answer / reasoning split."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evaluators.answer import split_reasoning
from evaluators.runner.chat_client import ChatClient, RequestFailed, backoff_delay


class FlakyPeer:
    """Answers POST /v1/chat/completions with the next status from ``script`` (then 200s)."""

    def __init__(self, script: list[int], content: str = "<think>hm</think>The answer is 7"):
        self.script = list(script)
        self.calls: list[dict] = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with peer.lock:
                    peer.calls.append(body)
                    status = peer.script.pop(0) if peer.script else 200
                    peer.active += 1
                    peer.peak = max(peer.peak, peer.active)
                time.sleep(0.05)
                with peer.lock:
                    peer.active -= 1
                if status == 200:
                    out = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": content}}],
                                      "usage": {"prompt_tokens": 3, "completion_tokens": 5}}).encode()
                else:
                    out = b'{"error": "nope"}'
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer_factory():
    made = []

    def make(*a, **kw):
        made.append(FlakyPeer(*a, **kw))
        return made[-1]
    yield make
    for p in made:
        p.close()


def _complete(url, **kw):
    async def go():
        async with ChatClient(url, "m", backoff_base_s=0.01, **kw) as c:
            return await c.complete("hi", temperature=1.0, max_tokens=8)
    return asyncio.run(go())


def test_retries_429_and_5xx_then_succeeds(peer_factory):
    peer = peer_factory([429, 503, 500])
    c = _complete(peer.url, max_retries=5)
    assert c.attempts == 4 and len(peer.calls) == 4
    assert c.text == "The answer is 7" and c.reasoning == "hm" and c.tokens == 5
    assert peer.calls[0]["messages"] == [{"role": "user", "content": "hi"}]
    assert peer.calls[0]["max_tokens"] == 8 and peer.calls[0]["model"] == "m"


def test_gives_up_after_max_retries(peer_factory):
    peer = peer_factory([500] * 10)
    with pytest.raises(RequestFailed, match="gave up after 3 attempts") as info:
        _complete(peer.url, max_retries=2)
    assert info.value.retryable and len(peer.calls) == 3


def test_client_errors_are_not_retried(peer_factory):
    peer = peer_factory([400, 401])
    with pytest.raises(RequestFailed) as info:
        _complete(peer.url)
    assert info.value.status == 400 and not info.value.retryable and not info.value.fatal
    with pytest.raises(RequestFailed) as info:
        _complete(peer.url)
    assert info.value.fatal and len(peer.calls) == 2


def test_connection_refused_is_retried_then_reported():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(RequestFailed, match="gave up after 2 attempts"):
        _complete(f"http://127.0.0.1:{port}/v1", max_retries=1)


def test_concurrency_is_bounded(peer_factory):
    peer = peer_factory([])

    async def go():
        async with ChatClient(peer.url, "m", concurrency=3) as c:
            return await asyncio.gather(*(c.complete(f"q{i}") for i in range(12)))
    got = asyncio.run(go())
    assert len(got) == 12 and len(peer.calls) == 12
    assert 1 <= peer.peak <= 3


def test_split_reasoning():
    assert split_reasoning("<think>a</think> B", None) == ("B", "a")
    assert split_reasoning("a</think>B", None) == ("B", "a")  # template already opened the tag
    assert split_reasoning("<think>still going", None) == (None, "still going")
    assert split_reasoning("plain", None) == ("plain", None)
    assert split_reasoning("final", "thought") == ("final", "thought")  # server-side reasoning field
    assert split_reasoning(None, "thought") == (None, "thought")
    assert backoff_delay(3, 1.0, 60.0, "2") == 2.0
    assert 2.0 <= backoff_delay(3, 1.0, 60.0, None) <= 4.0
    with pytest.raises(ValueError):
        ChatClient("ftp://x", "m")
