"""`ring serve` fails fast with the engine's own error instead of hanging."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ring_core.service import free_port
from ring_serve.vllm_server import ServeOptions, build_command, vllm_flavour


def test_command_has_ring_lite_presets(tmp_path):
    opts = ServeOptions(model=str(tmp_path), port=1234, api_key="k", max_model_len=4096).resolved()
    cmd = build_command(opts)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert "--reasoning-parser ring_think" in joined and "--api-key k" in joined
    plugin = cmd[cmd.index("--reasoning-parser-plugin") + 1]
    assert plugin.endswith("reasoning_parser.py") and "ring_think" in open(plugin).read()
    assert "--trust-remote-code" in cmd and "--max-model-len 4096" in joined
    gen = json.loads(cmd[cmd.index("--override-generation-config") + 1])
    assert gen == {"temperature": 1.0, "top_p": 0.95}
    if vllm_flavour() == "cpu":
        assert cmd[cmd.index("--dtype") + 1] == "float32"


@pytest.mark.vllm
def test_broken_model_dir_fails_fast_with_engine_error(tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text('{"architectures": ["NoSuchArchForCausalLM"], "model_type": "nonsense"}')
    ring = Path(sys.executable).with_name("ring")
    t0 = time.monotonic()
    out = subprocess.run([str(ring), "serve", str(bad), "--port", str(free_port()), "--timeout", "600"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "vLLM exited with code" in out.stderr and time.monotonic() - t0 < 300


def test_vllm_options_without_a_model_keep_the_default_model(monkeypatch):
    """`ring serve --enforce-eager` (compose's default): the option goes to vLLM, not into MODEL."""
    from typer.testing import CliRunner

    import ring_serve.vllm_server as vs
    from ring_serve.cli import app

    seen = {}

    class Recorder:
        def __init__(self, opts):
            seen["opts"], self.opts, self.log_path = opts, opts, "-"

        def start(self, timeout_s):
            raise KeyboardInterrupt  # stop before any engine starts

        def stop(self):
            pass

    monkeypatch.setattr(vs, "VllmServer", Recorder)
    monkeypatch.setattr("ring_serve.extras.require", lambda *a: None)
    out = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--enforce-eager", "--max-num-seqs", "4"])
    assert out.exit_code == 0, out.output
    assert seen["opts"].model is None
    assert seen["opts"].extra_args == ["--enforce-eager", "--max-num-seqs", "4"]
