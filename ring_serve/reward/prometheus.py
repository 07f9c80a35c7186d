"""Prometheus metrics of one reward service (its own registry, so apps in a process do not clash)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class RewardMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ring_reward_requests", "HTTP requests by route and status code",
                                ["route", "status"], registry=r)
        self.latency = Histogram("ring_reward_request_seconds", "HTTP request latency by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.items = Counter("ring_reward_items", "Graded items by verifier and outcome "
                             "(correct, incorrect, timeout, error)", ["verifier", "outcome"], registry=r)
        self.grade_seconds = Histogram("ring_reward_grade_seconds", "Per-item grading time by verifier",
                                       ["verifier"], buckets=LATENCY_BUCKETS, registry=r)
        self.timeouts = Counter("ring_reward_timeouts", "Items answered with reason timeout",
                                ["verifier"], registry=r)
        self.rejected = Counter("ring_reward_rejected", "Requests refused with 429 (queue full)",
                                registry=r)
        self.queue_depth = Gauge("ring_reward_queue_depth", "Items admitted and not yet answered",
                                 registry=r)
        self.abandoned = Gauge("ring_reward_abandoned_threads",
                               "Grader threads still running after their deadline", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
