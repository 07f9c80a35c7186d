"""Async chat-completions client: bounded concurrency, retries with backoff, answer/reasoning split."""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from evaluators.answer import split_reasoning

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# how vLLM ("maximum context length") and OpenAI ("context_length_exceeded") reject prompt + max_tokens
CONTEXT_ERRORS = ("maximum context length", "context_length_exceeded", "max_model_len")
FATAL_STATUS = {401, 403, 404}  # wrong key, model or URL: every request would fail the same way


class RequestFailed(Exception):
    """A request that will not succeed by retrying (4xx) or ran out of retries."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable

    @property
    def fatal(self) -> bool:
        return self.status in FATAL_STATUS

    @property
    def context_exceeded(self) -> bool:
        return any(marker in str(self) for marker in CONTEXT_ERRORS)


@dataclass
class Completion:
    text: str | None  # the final answer (after reasoning); None when reasoning never closed
    reasoning: str | None
    raw: str  # content as sent by the server
    finish_reason: str | None
    tokens: int | None
    prompt_tokens: int | None
    latency_s: float
    attempts: int


def listed_context(entries: Any, model: str) -> int | None:
    """``max_model_len`` of ``model`` in a ``GET /models`` listing's ``data`` (vLLM), else None."""
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            value = entry.get("max_model_len")
            return value if isinstance(value, int) and value > 0 else None
    return None


def server_message(resp: httpx.Response, limit: int = 500) -> str:
    """The reason an error response gives (OpenAI's ``error.message``, FastAPI's ``detail``) or its text."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:limit]
    if isinstance(data, dict):
        err = data.get("error")
        for value in (err.get("message") if isinstance(err, dict) else err, data.get("detail"), data.get("message")):
            if isinstance(value, str) and value:
                return value[:limit]
    return resp.text[:limit]


def backoff_delay(attempt: int, base: float, cap: float, retry_after: str | None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): Retry-After if given, else jittered 2^n."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), cap)
        except ValueError:
            pass
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


class ChatClient:
    """POSTs to ``{endpoint}/chat/completions`` with at most ``concurrency`` requests in flight."""

    def __init__(self, endpoint: str, model: str, *, api_key: str | None = None, concurrency: int = 32,
                 timeout_s: float = 3600.0, max_retries: int = 6, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 60.0):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.url = self.endpoint + "/chat/completions"
        self.model = model
        self.max_model_len: int | None = None  # set by probe_context()
        self.max_retries = max_retries
        self.backoff = (backoff_base_s, backoff_cap_s)
        self._sem = asyncio.Semaphore(concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s, connect=30.0),
                                       limits=limits)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def probe_context(self) -> int | None:
        """The served model's context length as ``GET /models`` says (vLLM's ``max_model_len``).

        None when the endpoint does not list it (or the model); then nothing is capped up front.
        """
        try:
            resp = await self._http.get(self.endpoint + "/models")
            entries = resp.json().get("data") or [] if resp.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        self.max_model_len = listed_context(entries, self.model)
        return self.max_model_len

    def fits(self, max_tokens: int | None) -> bool:
        """Whether ``max_tokens`` leaves room for a prompt in the model's context (True if unknown)."""
        return max_tokens is None or self.max_model_len is None or max_tokens < self.max_model_len

    async def complete(self, prompt: str, **sampling: Any) -> Completion:
        """One chat completion; ``max_tokens`` is capped at what the prompt leaves of the context.

        A ``max_tokens`` the context cannot hold is dropped up front (see ``probe_context``), and a
        request the server rejects for prompt + ``max_tokens`` over its context is sent once more
        without it: the server then generates up to the end of the context.
        """
        if not self.fits(sampling.get("max_tokens")):
            sampling = {k: v for k, v in sampling.items() if k != "max_tokens"}
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], **sampling}
        try:
            return await self._send(body)
        except RequestFailed as exc:
            if "max_tokens" not in body or exc.status != 400 or not exc.context_exceeded:
                raise
        return await self._send({k: v for k, v in body.items() if k != "max_tokens"})

    async def _send(self, body: dict[str, Any]) -> Completion:
        async with self._sem:
            attempt = 0
            while True:
                attempt += 1
                t0 = time.monotonic()
                try:
                    resp = await self._http.post(self.url, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    err = RequestFailed(f"{type(exc).__name__}: {exc}", retryable=True)
                    retry_after = None
                else:
                    if resp.status_code == 200:
                        return self._parse(resp, time.monotonic() - t0, attempt)
                    err = RequestFailed(f"HTTP {resp.status_code}: {server_message(resp)}",
                                        status=resp.status_code,
                                        retryable=resp.status_code in RETRY_STATUS)
                    retry_after = resp.headers.get("retry-after")
                if not err.retryable:
                    raise err
                if attempt > self.max_retries:
                    raise RequestFailed(f"gave up after {attempt} attempts: {err}", status=err.status,
                                        retryable=True)
                await asyncio.sleep(backoff_delay(attempt, *self.backoff, retry_after))

    @staticmethod
    def _parse(resp: httpx.Response, latency: float, attempts: int) -> Completion:
        try:
            data = resp.json()
            choice = data["choices"][0]
            msg = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RequestFailed(f"malformed completion response: {exc}: {resp.text[:200]}",
                                status=resp.status_code, retryable=True) from None
        content = msg.get("content")
        reasoning = msg.get("reasoning_content", msg.get("reasoning"))
        text, thought = split_reasoning(content, reasoning)
        usage = data.get("usage") or {}
        return Completion(text, thought, content or "", choice.get("finish_reason"),
                          usage.get("completion_tokens"), usage.get("prompt_tokens"), latency, attempts)
