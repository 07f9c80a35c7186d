"""`ring reward serve` checks its code sandbox before serving (sandbox/preflight.py): it starts
when the sandbox isolates a probe program and refuses, exit 3 with the reason, when it cannot."""
from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from sandbox import preflight
from sandbox.results import ExecResult


@pytest.mark.skipif(not shutil.which("bwrap"), reason="needs bubblewrap (scripts/install_sandbox_deps.sh)")
def test_bwrap_isolates_the_probe(monkeypatch):
    monkeypatch.setenv("RING_API_KEY", "secret-key")  # must not reach the program
    assert preflight.check_isolation("bwrap") == "code sandbox: bwrap (no network, clean environment)"


def test_unisolated_process_backend_passes_only_with_a_warning():
    assert preflight.check_isolation("process").startswith("WARNING: code runs UNISOLATED")


@pytest.mark.skipif(not shutil.which("bwrap"), reason="needs bubblewrap")
def test_a_sandbox_that_cannot_start_is_refused(monkeypatch):
    monkeypatch.setenv("RINGLAB_SANDBOX_PYTHON", "/nonexistent/python3")
    with pytest.raises(preflight.SandboxUnavailable, match="bwrap code sandbox cannot start"):
        preflight.check_isolation("bwrap")


@pytest.mark.parametrize("seen, leak", [
    ({"ifaces": ["eth0", "lo"], "env": ["PATH"]}, "network interfaces \\['eth0'\\]"),
    ({"ifaces": ["lo"], "env": ["PATH", preflight.CANARY]}, "the service's environment"),
])
def test_a_leaky_sandbox_is_refused(monkeypatch, seen, leak):
    out = ExecResult("ok", 0, json.dumps(seen), "", 0.1, 0.1, 1.0, "bwrap")
    monkeypatch.setattr(preflight, "resolve_backend", lambda name: "bwrap")
    monkeypatch.setattr(preflight, "WorkerPool", lambda *a, **k: type("P", (), {"close": lambda self: None})())
    monkeypatch.setattr(preflight, "run", lambda *a, **k: out)
    with pytest.raises(preflight.SandboxUnavailable, match=leak):
        preflight.check_isolation()


def test_reward_serve_refuses_to_start_without_a_sandbox(monkeypatch):
    pytest.importorskip("fastapi")
    from ring_serve.cli import app

    def unavailable(backend=None):
        raise preflight.SandboxUnavailable("the bwrap code sandbox cannot start: no namespaces")

    started = []
    monkeypatch.setattr(preflight, "check_isolation", unavailable)
    monkeypatch.setattr("ring_serve.reward.app.serve", lambda **kw: started.append(kw))
    out = CliRunner().invoke(app, ["reward", "serve", "--port", "1"])
    assert out.exit_code == 3 and not started
    assert "refusing to start" in out.output and "no namespaces" in out.output
    out = CliRunner().invoke(app, ["reward", "serve", "--port", "1", "--no-sandbox-check"])
    assert out.exit_code == 0 and started
