"""Property-based fuzzing of the reward service from its own OpenAPI schema: never a 5xx."""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from ring_serve.reward.spawn import reward_server  # noqa: E402

MAX_EXAMPLES = 20  # per operation: keeps the whole run well under a minute


@pytest.fixture(scope="module")
def schema():
    # short deadline: a fuzzed program that loops must not stretch the run
    with reward_server(["--workers", "4", "--deadline", "3", "--max-body-mb", "1"]) as s:
        yield schemathesis.openapi.from_url(s.base_url + "/openapi.json")


def _operations(schema):
    ops = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in ops} >= {
        "POST /v1/reward/{verifier}", "POST /v1/reward", "POST /get_reward", "GET /v1/verifiers",
        "GET /health", "GET /metrics"}
    return ops


def test_no_server_errors(schema):
    statuses: dict[str, set[int]] = {}
    for op in _operations(schema):
        seen = statuses.setdefault(f"{op.method.upper()} {op.path}", set())

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call(timeout=30)
            seen.add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        fuzz()
    assert all(s and max(s) < 500 for s in statuses.values()), statuses
    # the fuzzer reached the graders, not only the validation layer
    assert 200 in statuses["POST /v1/reward/{verifier}"] or 200 in statuses["POST /v1/reward"]
