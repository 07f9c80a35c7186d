"""benchmarks/async_sim.py: the staleness gate, the eta=0 = synchronous identity, and the paper's speedup."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "async_sim.py"


def load_sim():
    # benchmarks/ is not a package: load the script as a module (dataclasses need it in sys.modules)
    spec = importlib.util.spec_from_file_location("async_sim", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["async_sim"] = module
    spec.loader.exec_module(module)
    return module


sim = load_sim()
QUICK = replace(sim.Setup(), **sim.QUICK)


def throughput(s, schedule, eta=0, interruptible=True, objective="grpo"):
    return sim.simulate(s, schedule, eta, interruptible, objective).metrics(s.warmup)["throughput"]


# --------------------------------------------------------------------------- the gate

@pytest.mark.parametrize("eta, expected", [(0, 4), (1, 8), (2, 12)])
def test_gate_fresh_start(eta, expected):
    # B = 4, nothing generated yet: (eta + 0 + 1) * 4 rollouts may start
    assert sim.admit_quota(eta, 4, 0, accepted=0, running=0, cap=100) == expected


@pytest.mark.parametrize("eta, expected", [(0, 1), (1, 5), (2, 9)])
def test_gate_mid_run(eta, expected):
    # version 1, 5 finished + 2 running: (eta + 2) * 4 - 7
    assert sim.admit_quota(eta, 4, 1, accepted=5, running=2, cap=100) == expected


def test_gate_closed_and_capped():
    assert sim.admit_quota(0, 4, 0, accepted=3, running=1, cap=100) == 0  # batch 0 fully issued
    assert sim.admit_quota(2, 4, 1, accepted=5, running=2, cap=3) == 1  # concurrency cap binds first
    assert sim.admit_quota(0, 4, 0, accepted=9, running=0, cap=100) == 0  # never negative


def test_gate_matches_one_by_one_admission():
    # the quota is the number of admissions the inequality (eta + v + 1) * B > accepted + running allows in a row
    for eta in range(3):
        for v in range(3):
            for accepted in range(0, 20, 3):
                for running in range(0, 6):
                    n = 0
                    while (eta + v + 1) * 4 > accepted + running + n and running + n < 7:
                        n += 1
                    assert sim.admit_quota(eta, 4, v, accepted, running, cap=7) == n


@pytest.mark.parametrize("eta", [0, 1, 2])
def test_gate_in_a_trainer_bound_run(eta):
    # a trainer so slow that generation always catches up: by the last step the gate has let exactly
    # (eta + steps) * B prompts in, no more
    s = replace(QUICK, train_mfu=1e-4, cap_groups=4 * QUICK.batch_groups)
    assert sim.run_async(s, eta).admitted == (eta + s.steps) * s.batch_groups


# --------------------------------------------------------------------------- schedules

@pytest.mark.parametrize("interruptible", [False, True])
def test_eta0_is_the_synchronous_schedule(interruptible):
    sync = sim.simulate(QUICK, "split")
    eta0 = sim.simulate(QUICK, "async", 0, interruptible)
    assert eta0.total_time == pytest.approx(sync.total_time, rel=1e-12)
    assert [r.end for r in eta0.steps] == pytest.approx([r.end for r in sync.steps], rel=1e-12)
    assert eta0.admitted == sync.admitted == QUICK.steps * QUICK.batch_groups


def test_speedup_grows_with_eta_and_saturates():
    # a cap of 4B lets the gate, not the cap, limit small eta; from eta = 4 the cap binds
    s = replace(QUICK, cap_groups=4 * QUICK.batch_groups)
    tp = [throughput(s, "async", eta) for eta in sim.ETAS]
    assert tp[1] > 1.5 * tp[0]
    assert tp[2] > 1.1 * tp[1]
    assert all(b >= 0.99 * a for a, b in zip(tp, tp[1:]))
    assert tp[-1] == pytest.approx(tp[-2], rel=0.02)


def test_paper_cap_saturates_at_eta1():
    # with the paper's cap (= B) the trainer outpaces generation, so only eta = 0 is gated
    tp = [throughput(QUICK, "async", eta) for eta in sim.ETAS]
    assert tp[1] > 1.5 * tp[0]
    assert tp[2:] == pytest.approx([tp[1]] * 3, rel=0.01)


def test_async_rollout_idles_less_than_sync():
    idle = {k: sim.simulate(QUICK, *a).metrics(QUICK.warmup)["rollout_idle"]
            for k, a in {"colocated": ("colocated",), "split": ("split",), "async": ("async", 4)}.items()}
    assert idle["async"] < 0.5 * idle["split"]
    assert idle["async"] < 0.5 * idle["colocated"]


def test_staleness_is_zero_when_synchronous_and_positive_when_async():
    sync = sim.simulate(QUICK, "colocated").metrics(QUICK.warmup)
    fast = sim.simulate(QUICK, "async", 4).metrics(QUICK.warmup)
    assert sync["stale_mean"] == 0 and sync["stale_max"] == 0
    assert 0 < fast["stale_mean"] <= fast["stale_max"]


def test_deterministic_for_a_seed():
    a, b = sim.run_async(QUICK, 2), sim.run_async(QUICK, 2)
    assert [r.end for r in a.steps] == [r.end for r in b.steps]
    assert sim.run_async(replace(QUICK, seed=1), 2).total_time != a.total_time


def test_default_setup_reproduces_the_paper_within_15_percent():
    speedup = sim.headline_speedup(sim.Setup())
    assert speedup == pytest.approx(sim.PAPER_SPEEDUP, rel=0.15)


# --------------------------------------------------------------------------- C3PO

@pytest.mark.parametrize("schedule", ["colocated", "async"])
def test_c3po_steadies_the_training_step(schedule):
    grpo = sim.simulate(QUICK, schedule, 4).metrics(QUICK.warmup)["train_cv"]
    c3po = sim.simulate(QUICK, schedule, 4, objective="c3po").metrics(QUICK.warmup)["train_cv"]
    assert c3po < 0.7 * grpo


def test_c3po_budget_is_reached_and_not_overshot_by_more_than_one_answer():
    budget = sim.default_budget(QUICK)
    run = sim.simulate(QUICK, "async", 4, objective="c3po")
    for step in run.steps:
        assert budget <= step.resp_tokens < budget + QUICK.max_new_tokens


def test_cli_quick_prints_both_tables(capsys):
    assert sim.main(["--quick", "--steps", "4", "--warmup", "2", "--batch-groups", "8", "--cap-groups", "8"]) == 0
    out = capsys.readouterr().out
    assert "headline:" in out and "C3PO fixed token budget" in out
    assert all(f"async eta={eta}" in out for eta in sim.ETAS)
