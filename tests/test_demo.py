"""The README's first command: `ring demo` serves, chats, evaluates and stores, end to end."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.vllm


def test_ring_demo_end_to_end(tmp_path):
    ring = Path(sys.executable).with_name("ring")
    env = {**os.environ, "RING_HOME": str(tmp_path)}
    env.pop("RING_DB_URL", None)
    env.pop("RING_API_KEY", None)
    out = subprocess.run([str(ring), "demo"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "vLLM ready" in out.stdout and "answer:" in out.stdout and "avg@" in out.stdout
    assert (tmp_path / "models" / "ring-tiny" / "model.safetensors").exists()
    with sqlite3.connect(tmp_path / "ring.db") as con:
        per_run = dict(con.execute("select run_id, count(*) from samples group by run_id").fetchall())
        statuses = {s for (s,) in con.execute("select status from runs")}
    assert sorted(per_run.values()) == [8, 8] and statuses == {"done"}
