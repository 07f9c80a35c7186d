"""Asynchronous RL rollouts: the staleness gate, interruptible generation on a real vLLM server, weight sync.

The server tests share one vLLM dev-mode server (``rollout_server`` in conftest); each test pushes
the weights it reasons about first, so the order of the tests does not matter.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import torch

from ring_core.service import free_port
from trainer.modeling import BailingMoeForCausalLM
from trainer.packing import response_logprobs
from trainer.rollout_client import RolloutClient, RolloutError
from trainer.staleness import StalenessGate, sample_staleness
from trainer.weight_sync import (ShmReloadSync, WeightSync, WeightSyncError, _check_reload_answer,
                                 served_logprob_gap, write_checkpoint_file)

PROMPT = list(range(5, 25))


class FailingSync(WeightSync):
    def push(self, state_dict, version):
        raise RuntimeError("disk full")


def admit_all(gate: StalenessGate) -> int:
    n = 0
    while gate.try_admit():
        n += 1
    return n


# --- the staleness gate (no server) ---------------------------------------------------------------

def test_eta_0_is_synchronous():
    gate = StalenessGate(batch_size=4, eta=0, max_running=100)
    assert admit_all(gate) == 4
    for _ in range(4):
        gate.on_finish(accepted=True)
    assert not gate.try_admit()  # version 1's samples wait until the trainer finished step 0
    gate.on_version(1)
    assert admit_all(gate) == 4


@pytest.mark.parametrize("eta", [1, 2])
def test_eta_bounds_how_far_rollouts_run_ahead(eta):
    gate = StalenessGate(batch_size=3, eta=eta, max_running=100)
    assert admit_all(gate) == (eta + 1) * 3
    for _ in range((eta + 1) * 3):
        gate.on_finish(accepted=True)
    assert not gate.try_admit()
    gate.on_version(1)
    assert admit_all(gate) == 3  # one more batch per trainer step, never more
    assert gate.snapshot().running == 3


def test_rejected_rollouts_free_their_slot_and_the_cap_holds():
    gate = StalenessGate(batch_size=4, eta=1, max_running=3)
    assert admit_all(gate) == 3  # the concurrency cap, below (eta + 1) * B = 8
    gate.on_finish(accepted=False)
    gate.on_finish(accepted=True)
    assert admit_all(gate) == 2
    snap = gate.snapshot()
    assert (snap.accepted, snap.rejected, snap.running) == (1, 1, 3)


def test_resume_resets_accepted_from_the_version_so_nothing_bursts():
    gate = StalenessGate(batch_size=4, eta=1, max_running=100)
    for version in range(1, 4):  # three trainer steps' worth of samples
        admit_all(gate)
        while gate.snapshot().running:
            gate.on_finish(accepted=True)
        gate.on_version(version)
    resumed = StalenessGate.from_state(gate.state())
    assert resumed.snapshot().version == 3
    assert resumed.snapshot().capacity == (1 + 1) * 4  # as many as a live gate at version 3 allows
    assert StalenessGate.from_state(gate.state(), ready=3).snapshot().capacity == 8 - 3
    naive = StalenessGate(batch_size=4, eta=1, max_running=100)
    naive.on_version(3)  # counts from zero: would admit three versions' worth at once
    assert naive.snapshot().capacity == (1 + 3 + 1) * 4 - 0


def test_gate_refuses_misuse_and_wakes_waiters():
    gate = StalenessGate(batch_size=1, eta=0, max_running=4)
    with pytest.raises(RuntimeError, match="unbalanced"):
        gate.on_finish(accepted=True)
    assert gate.wait_admit(timeout_s=0.01)
    gate.on_finish(accepted=True)
    t0 = time.perf_counter()
    assert not gate.wait_admit(timeout_s=0.1)
    assert time.perf_counter() - t0 < 2
    threading.Timer(0.1, gate.on_version, args=(1,)).start()
    assert gate.wait_admit(timeout_s=10)
    with pytest.raises(ValueError, match="went back"):
        gate.on_version(0)
    assert sample_staleness([2, 2, 3], trainer_version=4) == 2


# --- what is pushed (no server) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from ring_serve.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "ring-tiny")


def test_pushed_file_is_byte_for_byte_the_saved_checkpoint(tiny_dir, tmp_path):
    model = BailingMoeForCausalLM.from_pretrained(tiny_dir)
    saved = model.save_pretrained(tmp_path / "saved") / "model.safetensors"
    pushed = write_checkpoint_file(model.state_dict(), tmp_path / "pushed")
    assert pushed.read_bytes() == saved.read_bytes()
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}  # as a DDP module names them
    assert write_checkpoint_file(wrapped, tmp_path / "ddp").read_bytes() == saved.read_bytes()


def test_a_server_without_our_extension_is_named_with_the_fix():
    answer = httpx.Response(500, text="'CPUWorker' object has no attribute 'ring_reload_weights'")
    with pytest.raises(WeightSyncError, match="--worker-extension-cls trainer.vllm_worker_ext.RingWeightLoader"):
        _check_reload_answer("http://127.0.0.1:1", answer, 67)
    with pytest.raises(WeightSyncError, match="VLLM_SERVER_DEV_MODE=1"):
        _check_reload_answer("http://127.0.0.1:1", httpx.Response(404), 67)


def test_least_loaded_and_round_robin_spread_requests():
    async def picks(balance, loads):
        client = RolloutClient(["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"], balance=balance)
        for server, load in zip(client.servers, loads):
            server.in_flight = load
        chosen = [client._pick().url[-1] for _ in range(6)]
        await client.aclose()
        return chosen

    assert asyncio.run(picks("least_loaded", [2, 0, 1])) == ["2"] * 6
    assert asyncio.run(picks("least_loaded", [0, 0, 0])) == ["1", "2", "3", "1", "2", "3"]
    assert asyncio.run(picks("round_robin", [5, 0, 0])) == ["1", "2", "3", "1", "2", "3"]


# --- dead servers (no vLLM needed) ----------------------------------------------------------------

def test_nothing_listening_gives_a_clear_error_within_the_timeout():
    url = f"http://127.0.0.1:{free_port()}"

    async def scenario():
        async with RolloutClient([url], timeout_s=3, connect_timeout_s=2) as client:
            with pytest.raises(RolloutError, match=f"{url}: GET /v1/models failed"):
                await client.generate(PROMPT, 8)
            with pytest.raises(RolloutError, match=f"{url}: POST /pause failed"):
                await client.update_weights(FailingSync(), {}, 1)
            return client.metrics()

    t0 = time.perf_counter()
    metrics = asyncio.run(scenario())
    assert time.perf_counter() - t0 < 10
    assert metrics["pauses"] == metrics["resumes"] == 1 and metrics["failed_updates"] == 1
    sync = ShmReloadSync([url], timeout_s=3)
    try:
        with pytest.raises(WeightSyncError, match=f"{url}: POST /collective_rpc"):
            sync.push({"w": torch.zeros(2)}, 1)
    finally:
        sync.close()


def test_a_server_that_never_answers_times_out_instead_of_hanging():
    with socket.socket() as hole:  # accepts connections (kernel backlog) and never says a word
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"

        async def scenario():
            async with RolloutClient([url], timeout_s=2, connect_timeout_s=2) as client:
                await client.generate(PROMPT, 8)

        t0 = time.perf_counter()
        with pytest.raises(RolloutError, match=f"{url}: GET /v1/models failed: timed out"):
            asyncio.run(scenario())
        assert time.perf_counter() - t0 < 8


def test_a_stream_cut_by_an_update_is_an_interruption_not_an_error():
    """Under load vLLM can close a stream it aborted for /pause without a chunk that carries
    finish_reason="abort" (seen in benchmarks/async_vs_sync.py at eta=1); such a stream counts as
    interrupted only while an update is under way or after one, never otherwise."""
    client = RolloutClient(["http://127.0.0.1:9"], version=3)
    assert not client.updating_since(3)
    client._serving.clear()  # what update_weights does before it pauses the servers
    assert client.updating_since(3)
    client._serving.set()
    client.version = 4  # the update finished before the stream's end was read
    assert client.updating_since(3) and not client.updating_since(4)
    asyncio.run(client.aclose())


# --- a real vLLM dev-mode server ------------------------------------------------------------------

def perturbed(model_dir, seed: int) -> BailingMoeForCausalLM:
    """The tiny model with every weight moved (so a push that did not arrive shows)."""
    model = BailingMoeForCausalLM.from_pretrained(model_dir).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    return model


async def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.vllm
def test_push_then_served_logprobs_match_our_model(rollout_server):
    url, sync = rollout_server.base_url, ShmReloadSync([rollout_server.base_url])
    base = BailingMoeForCausalLM.from_pretrained(rollout_server.model_dir).eval()
    continuation = list(range(40, 100))
    try:
        timings = []
        for version in (1, 2, 3):
            model = perturbed(rollout_server.model_dir, seed=version)
            seconds = sync.push(model.state_dict(), version)
            timings.append((seconds, sync.last.write_s, sync.last.reload_s))
            assert served_logprob_gap(url, model, PROMPT, continuation) < 1e-3
        assert served_logprob_gap(url, base, PROMPT, continuation) > 1e-2  # the weights did move
        sync.push(base.state_dict(), 4)
        assert served_logprob_gap(url, base, PROMPT, continuation) < 1e-3
    finally:
        sync.close()
    print("weight push (total / write to tmpfs / reload RPC), ms: "
          + ", ".join(f"{t * 1e3:.0f} / {w * 1e3:.0f} / {r * 1e3:.0f}" for t, w, r in timings))


async def interrupt_a_generation(client: RolloutClient, update, n: int, tries: int = 5):
    """Start a generation and run ``update(try)`` once its first tokens arrived; the finished
    generation and the try. Tried again while a generation outran the pause: on a busy machine
    the stream can lag the engine, which may finish all ``n`` tokens before the pause lands."""
    for attempt in range(tries):
        before = client.metrics()["tokens"]
        task = asyncio.create_task(client.generate(PROMPT, n, seed=attempt, ignore_eos=True))
        await wait_for(lambda: client.metrics()["tokens"] > before, 120, "the first tokens")
        await update(attempt)
        gen = await asyncio.wait_for(task, 300)
        if gen.interrupted_count:
            return gen, attempt
    raise AssertionError(f"no generation was interrupted in {tries} tries")


@pytest.mark.vllm
def test_an_update_interrupts_generation_which_keeps_its_tokens_and_versions(rollout_server):
    models = [perturbed(rollout_server.model_dir, seed) for seed in range(10, 16)]  # version v: models[v]
    sync, n = ShmReloadSync([rollout_server.base_url]), 400

    async def scenario():
        async with RolloutClient([rollout_server.base_url], timeout_s=60) as client:
            await client.update_weights(sync, models[0].state_dict(), 0)
            gen, attempt = await interrupt_a_generation(
                client, lambda i: client.update_weights(sync, models[i + 1].state_dict(), i + 1), n)
            return gen, attempt, client.metrics()

    try:
        gen, attempt, metrics = asyncio.run(scenario())
    finally:
        sync.close()
    old, new = attempt, attempt + 1
    assert len(gen.tokens) == len(gen.logprobs) == len(gen.versions) == n and gen.finish_reason == "length"
    k = gen.versions.index(new)
    assert 0 < k < n and gen.versions == [old] * k + [new] * (n - k)
    assert gen.interrupted_count == 1 and metrics["interrupted"] == 1
    assert metrics["pauses"] == metrics["resumes"] == metrics["updates"] == attempt + 2
    # every token's log-prob is the one the weights of its version give, in the full context
    lp_old = response_logprobs(models[old], [PROMPT], [gen.tokens])[0]
    lp_new = response_logprobs(models[new], [PROMPT], [gen.tokens])[0]
    served = torch.tensor(gen.logprobs)
    assert (served[:k] - lp_old[:k]).abs().max() < 1e-3
    assert (served[k:] - lp_new[k:]).abs().max() < 1e-3
    print(f"interrupted at token {k} of {n} (try {attempt + 1}); update took {metrics['update_s'] * 1e3:.0f} ms "
          f"(push {metrics['push_s'] * 1e3:.0f} ms)")


@pytest.mark.vllm
def test_pause_and_resume_stay_balanced_when_the_push_raises(rollout_server):
    url = rollout_server.base_url

    async def failing_update(client):
        with pytest.raises(RuntimeError, match="disk full"):
            await client.update_weights(FailingSync(), {}, 6)
        assert httpx.get(url + "/is_paused", timeout=10).json()["is_paused"] is False

    async def scenario():
        async with RolloutClient([url], version=5, timeout_s=60) as client:
            gen, attempt = await interrupt_a_generation(client, lambda _: failing_update(client), 400)
            return gen, attempt, client.metrics(), client.version

    gen, attempt, metrics, version = asyncio.run(scenario())
    assert version == 5 and metrics["updates"] == 0
    assert metrics["pauses"] == metrics["resumes"] == metrics["failed_updates"] == attempt + 1
    assert len(gen.tokens) == 400 and set(gen.versions) == {5} and gen.interrupted_count == 1
