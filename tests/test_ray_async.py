"""`ring train rl --async --ray`: rollout servers and the trainer as Ray actors in a placement group.

The slow tests run a real single-node Ray cluster (``--ray local``: ``ray.init(num_cpus=2)``, not
local mode), the code path a cluster runs: one rollout-server actor (a real vLLM server) and the
trainer actor, 3 steps; afterwards every actor, server and bundle must be gone while the cluster
still runs. The fast tests check the options and the dispatch without starting Ray.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from typer.testing import CliRunner

from ring_serve.cli import app as ring_app
from ring_serve.ray_placement import RayPlacement
from trainer import metric_names as names
from trainer.config import RLConfig

ACTOR_TITLES = ("ray::RolloutServerActor", "ray::TrainerActor")
MARK = "RING_RAY_TEST_MARK"  # every process the cluster starts inherits it: others' processes are left out


def _marked(mark: str, words: tuple[str, ...] = ()) -> dict[int, psutil.Process]:
    """Live processes started under ``mark`` (not this one) whose command line holds one of ``words``."""
    found = {}
    for p in psutil.process_iter():
        try:
            if p.pid == os.getpid() or p.environ().get(MARK) != mark:
                continue
            if not words or any(w in " ".join(p.cmdline()) for w in words):
                found[p.pid] = p
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _alive_after(procs: dict[int, psutil.Process], timeout_s: float = 60.0) -> list[str]:
    """The command lines of ``procs`` still running after ``timeout_s``."""
    _, alive = psutil.wait_procs(list(procs.values()), timeout=timeout_s)
    left = []
    for p in alive:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(p.cmdline())[:120])
        except psutil.NoSuchProcess:
            continue
    return left


@pytest.fixture(scope="module")
def ray_cluster():
    """A single-node cluster of 2 CPUs on loopback, joined the way `--ray local` joins it; yields
    (ray, mark)."""
    ray = pytest.importorskip("ray")
    from ring_serve.ray_launch import connect

    mark = uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MARK, mark)
        t0 = time.monotonic()
        assert connect(RayPlacement(ray_address="local"))
        print(f"ray start {time.monotonic() - t0:.1f}s")
        assert ray.cluster_resources()["CPU"] == 2
        try:
            yield ray, mark
        finally:
            ray.shutdown()
    assert not _alive_after(_marked(mark)), "Ray processes left after shutdown"


class _ParityReward(BaseHTTPRequestHandler):
    """`ring reward serve`'s /v1/reward, grading by the parity of the response length: the random
    tiny model is never right, and without reward variance no step updates or pushes weights."""

    def do_POST(self):
        items = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["items"]
        results = [{"verifier": it["verifier"], "score": float(len(it["response"]) % 2 == 0),
                    "correct": len(it["response"]) % 2 == 0, "reason": "parity", "elapsed_s": 0.0} for it in items]
        body = json.dumps({"results": results}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def parity_reward_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ParityReward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _cfg(model_dir, out, **kw) -> RLConfig:
    base = dict(policy_dir=str(model_dir), out_dir=str(out), async_rollouts=True, steps=3, prompts_per_step=4,
                group_size=4, budget=256, log_db=False, save_every=100, rollout_concurrency=8,
                rollout_timeout_s=600, max_staleness=1)
    return RLConfig(**{**base, **kw})


def _assert_all_stopped(ray, mark: str) -> None:
    """No actor process, no vLLM process and no reserved bundle is left on the running cluster."""
    left = _alive_after(_marked(mark, ACTOR_TITLES + ("vllm", "VLLM")))
    assert not left, f"actor or vLLM processes left: {left}"
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # removing a placement group frees its bundles asynchronously
    assert ray.available_resources().get("CPU") == 2
    states = {pg["state"] for pg in ray.util.placement_group_table().values()}
    assert states <= {"REMOVED"}


@pytest.mark.vllm
@pytest.mark.slow
def test_async_rl_with_servers_and_trainer_as_ray_actors(ray_cluster, parity_reward_url, tmp_path):
    from ring_serve.ray_launch import run_rl_on_ray
    from ring_serve.tiny_model import build_tiny_model

    ray, mark = ray_cluster
    model = build_tiny_model(tmp_path / "ring-tiny")
    t0 = time.monotonic()
    # eta = 0: every step's samples come from the weights being trained, so steps 2 and 3 check the
    # log-prob gap after real pushes (eta >= 1 overlaps, but then fresh samples after a push are luck)
    cfg = _cfg(model, tmp_path / "rl", reward_url=parity_reward_url, max_staleness=0)
    hist = run_rl_on_ray(cfg, RayPlacement(ray_address="local"))
    print(f"3 steps on Ray {time.monotonic() - t0:.1f}s:", [{k: round(float(v), 4) for k, v in h.items() if k in (
        "step", names.UPDATED, names.WEIGHT_SYNC_S, names.STALENESS_MAX, names.SAMPLER_LOGP_GAP)} for h in hist])
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert max(h[names.STALENESS_MAX] for h in hist) <= 0 + 1  # eta + 1
    pushes = [h[names.WEIGHT_SYNC_S] for h in hist[:2] if h[names.UPDATED]]
    assert pushes and min(pushes) > 0  # the trainer actor pushed new weights into the server actor's engine
    gaps = [h.get(names.SAMPLER_LOGP_GAP) for h in hist]
    assert None not in gaps and max(gaps) < 1e-3  # and the server samples with the weights the trainer holds
    assert all(h[names.RESPONSES_IN_STEP] > 0 for h in hist)
    assert (tmp_path / "rl" / "step_000003" / "trainer_state.pt").exists()
    assert ray.is_initialized()  # it was joined before: the run leaves it up
    _assert_all_stopped(ray, mark)


@pytest.mark.slow
def test_an_actor_error_comes_back_with_its_message_and_everything_stops(ray_cluster, tmp_path):
    from ring_serve.ray_launch import RayLaunchError, run_rl_on_ray

    ray, mark = ray_cluster
    missing = tmp_path / "not-a-checkpoint"
    with pytest.raises(RayLaunchError, match=rf"rollout server 0 failed: FileNotFoundError: .*{missing.name}"):
        run_rl_on_ray(_cfg(missing, tmp_path / "rl"), RayPlacement(ray_address="local"))
    _assert_all_stopped(ray, mark)


def test_ring_train_rl_help_lists_the_placement_options():
    r = CliRunner().invoke(ring_app, ["train", "rl", "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    for flag in ("--ray ", "--rollout-servers", "--ray-rollout-cpus", "--ray-rollout-gpus", "--ray-trainer-cpus",
                 "--ray-trainer-gpus"):
        assert flag in r.output, flag


def test_ray_flags_reach_the_ray_launcher(monkeypatch, tmp_path):
    import ring_serve.ray_launch as ray_launch

    got = []
    monkeypatch.setattr(ray_launch, "run_rl_on_ray", lambda cfg, where: got.append((cfg, where)) or [])
    args = ["train", "rl", "P", "--out", str(tmp_path), "--async", "--no-db", "--ray", "auto", "--rollout-servers",
            "2", "--ray-rollout-cpus", "0.5", "--ray-rollout-gpus", "1", "--ray-trainer-cpus", "2",
            "--ray-trainer-gpus", "1"]
    r = CliRunner().invoke(ring_app, args)
    assert r.exit_code == 0, r.output
    (cfg, where), = got
    assert cfg.async_rollouts and cfg.rollout_urls == () and where.ray_address == "auto"
    assert where.bundles() == [{"CPU": 0.5, "GPU": 1}] * 2 + [{"CPU": 2, "GPU": 1}]
    assert RayPlacement(ray_address="local").local_cpus() == 2  # 1 server + trainer, 1 CPU each


@pytest.mark.parametrize("args, message", [
    (["--ray", "local"], "add --async"),
    (["--ray", "local", "--async", "--rollout-url", "http://127.0.0.1:1"], "drop --rollout-url"),
    (["--async", "--rollout-servers", "0"], "rollout_servers must be >= 1"),
    (["--ray", "local", "--async", "--ray-trainer-cpus", "0"], "needs some CPUs or GPUs"),
])
def test_bad_placement_is_a_clear_error(args, message, tmp_path):
    r = CliRunner().invoke(ring_app, ["train", "rl", "P", "--out", str(tmp_path), "--no-db", *args])
    assert r.exit_code == 2 and message in r.output, r.output
