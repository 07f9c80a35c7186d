"""A small synchronous client for ``ring reward serve`` that backs off on 429."""
from __future__ import annotations

import threading
import time
from typing import Any, Sequence

import httpx

CHUNK = 256  # items per request: well under the server's default batch limit


class RewardServiceError(RuntimeError):
    pass


class RewardClient:
    def __init__(self, url: str, api_key: str | None = None, *, patience_s: float = 600.0,
                 http_timeout_s: float = 330.0):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.patience_s = patience_s  # total time to keep retrying a refused or failed request
        self._http = httpx.Client(headers=headers, timeout=http_timeout_s)
        self.retries = 0  # requests repeated after 429/503 or a transport error

    def grade(self, items: Sequence[dict[str, Any]], timeout_s: float | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(items), CHUNK):
            body: dict[str, Any] = {"items": [_wire(it) for it in items[start:start + CHUNK]]}
            if timeout_s:
                body["timeout_s"] = timeout_s
            out.extend(self._post("/v1/reward", body)["results"])
        return out

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        give_up = time.monotonic() + self.patience_s
        delay = 0.5
        while True:
            try:
                r = self._http.post(self.url + path, json=body)
            except httpx.TransportError as exc:
                if time.monotonic() + delay > give_up:
                    raise RewardServiceError(f"reward service at {self.url} unreachable: {exc}") from exc
                self.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if r.status_code == 429 or r.status_code == 503:
                wait = _retry_after(r, delay)
                if time.monotonic() + wait > give_up:
                    raise RewardServiceError(f"reward service at {self.url} stayed overloaded")
                self.retries += 1
                time.sleep(wait)
                delay = min(delay * 2, 10.0)
                continue
            if r.status_code != 200:
                raise RewardServiceError(f"reward service answered {r.status_code}: {r.text[:500]}")
            return r.json()

    def close(self) -> None:
        self._http.close()


def _wire(item: dict[str, Any]) -> dict[str, Any]:
    out = {"verifier": item["verifier"], "response": item["response"], "reference": item["reference"]}
    for key in ("options", "id"):
        if item.get(key) is not None:
            out[key] = item[key]
    return out


def _retry_after(response: httpx.Response, fallback: float) -> float:
    try:
        return max(0.05, float(response.headers.get("retry-after", fallback)))
    except ValueError:
        return fallback


_clients: dict[tuple[str, str | None], RewardClient] = {}
_lock = threading.Lock()


def client_for(url: str, api_key: str | None) -> RewardClient:
    """One pooled client per (url, key): reward functions are called once per batch, many times."""
    with _lock:
        key = (url, api_key)
        if key not in _clients:
            _clients[key] = RewardClient(url, api_key)
        return _clients[key]
