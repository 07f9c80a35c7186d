"""`POST /v1/spn/map` in the reward app: answers, limits and error codes (in-process client)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from ring_serve.reward.app import RewardSettings, create_app  # noqa: E402
from spn import textformat  # noqa: E402
from spn.generate import random_spn  # noqa: E402
from spn.solvers import solve  # noqa: E402

SPN = random_spn(10, 400, seed=6)
TEXT = textformat.format_spn(SPN)


def client(**settings) -> TestClient:
    return TestClient(create_app(RewardSettings(warm=False, workers=1, **settings)))


def test_map_answers_like_the_library():
    with client() as http:
        got = http.post("/v1/spn/map", json={"spn": TEXT, "query": [0, 1, 2, 3], "evidence": {"5": 1}})
    assert got.status_code == 200, got.text
    body = got.json()
    expected = solve(SPN, [0, 1, 2, 3], {5: 1}, "exact")
    assert body["optimal"] and np.isclose(body["log_value"], expected.log_value)
    assert body["assignment"] == {str(k): v for k, v in expected.assignment.items()}


def test_default_query_is_every_non_evidence_variable():
    with client() as http:
        body = http.post("/v1/spn/map", json={"spn": TEXT, "evidence": {"0": 0}, "method": "kbt", "k": 3}).json()
    assert sorted(map(int, body["assignment"])) == list(range(1, 10))


@pytest.mark.parametrize("payload, status, message", [
    ({"spn": "spn 1\nleaf 0 0 2\n"}, 422, "line 2: leaf value 2 is not 0 or 1"),
    ({"spn": TEXT, "query": [0], "evidence": {"0": 1}}, 422, "both a query and an evidence"),
    ({"spn": TEXT, "method": "magic"}, 422, "unknown MAP method"),
    ({"spn": TEXT, "k": 0, "method": "kbt"}, 422, "greater than or equal to 1"),
])
def test_bad_requests_get_422_with_the_reason(payload, status, message):
    with client() as http:
        got = http.post("/v1/spn/map", json=payload)
    assert got.status_code == status and message in got.text


def test_exact_gets_best_so_far_within_the_deadline():
    big = textformat.format_spn(random_spn(200, 12000, seed=1))
    with client() as http:
        got = http.post("/v1/spn/map", json={"spn": big, "timeout_s": 3.0})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["optimal"] is False and body["stats"]["timed_out"] and body["elapsed_s"] < 3.5


def test_body_limit_applies():
    with client(max_body_bytes=1000) as http:
        got = http.post("/v1/spn/map", json={"spn": TEXT})
    assert got.status_code == 413
