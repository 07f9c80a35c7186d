"""One declaration per training option (trainer.config + trainer.options), and the metric names.

`ring train sft|rl|eval` and `python -m trainer.torchrun sft|rl` / `python -m trainer.heldout` are
built from the same dataclass fields, so they must list the same options with the same defaults;
every flag the README, tests and benchmarks use must still parse; the dashboard's metric order
must name metrics the trainer logs. Fast: no model is loaded.
"""
from __future__ import annotations

import dataclasses
import re

import pytest
import typer
from typer.testing import CliRunner

from ring_serve.cli import app as ring_app
from ring_serve.ray_placement import PANEL, RayPlacement
from ring_serve.served_eval import ServedEvalConfig
from trainer import metric_names, torchrun
from trainer.config import HeldoutConfig, RLConfig, SFTConfig
from trainer.heldout import app as heldout_app
from trainer.options import build, cli_fields, command

runner = CliRunner()


def _ring(name: str):
    return typer.main.get_command(ring_app).commands["train"].commands[name]


def _torchrun(name: str):
    return typer.main.get_command(torchrun.app).commands[name]


def _params(cmd) -> dict[str, tuple]:
    return {p.name: (tuple(p.opts), tuple(p.secondary_opts), p.default, p.required, getattr(p, "help", None))
            for p in cmd.params if p.name != "help"}


def _options_panel(args_app, args: list[str]) -> str:
    """The help text from the first option line on (the usage line names the program)."""
    r = runner.invoke(args_app, args, terminal_width=200)
    assert r.exit_code == 0, r.output
    return r.output[r.output.index("--"):]


@pytest.mark.parametrize("name", ["sft", "rl"])
def test_ring_train_and_torchrun_list_the_same_options_and_defaults(name):
    # `ring train rl` alone adds the rollout placement options, in a panel of their own
    placement = {f.name for f in cli_fields(RayPlacement)} if name == "rl" else set()
    ring = _params(_ring(name))
    assert set(ring) - set(_params(_torchrun(name))) == placement
    assert {k: v for k, v in ring.items() if k not in placement} == _params(_torchrun(name))
    ring_help = _options_panel(ring_app, ["train", name, "--help"])
    assert ring_help.split(f"╭─ {PANEL}")[0].rstrip() == _options_panel(torchrun.app, [name, "--help"]).rstrip()
    # and the help shows every declared option with the dataclass default
    cls = {"sft": SFTConfig, "rl": RLConfig}[name]
    for f in cli_fields(cls):
        flag = f.metadata["cli"].flags or (f"--{f.name.replace('_', '-')}",)
        if not f.metadata["cli"].positional:
            assert flag[0].split("/")[0] in ring_help, f.name
        if f.default not in (dataclasses.MISSING, None) and not isinstance(f.default, bool):
            shown = ",".join(f.default) if isinstance(f.default, tuple) else str(f.default)
            assert re.search(rf"\[default: {re.escape(shown)}\]", ring_help), (f.name, shown)


def test_cli_defaults_are_the_dataclass_defaults():
    for cls, cmd in ((SFTConfig, _ring("sft")), (RLConfig, _ring("rl")), (ServedEvalConfig, _ring("eval"))):
        params = {p.name: p for p in cmd.params}
        for f in cli_fields(cls):
            if f.default is dataclasses.MISSING:
                continue
            want = ",".join(f.default) if isinstance(f.default, tuple) else f.default
            assert params[f.name].default == want, (cls.__name__, f.name)
    # the one sampler default, whichever entry builds the run
    assert _ring("rl").params[0].name == "policy_dir"
    assert {p.name: p.default for p in _torchrun("rl").params}["sampler"] == RLConfig.sampler == "vllm"


def test_heldout_and_served_eval_share_their_options():
    heldout = _params(typer.main.get_command(heldout_app))
    served = _params(_ring("eval"))
    assert set(served) - set(heldout) == {"top_p"}
    assert {k: v for k, v in served.items() if k != "top_p"} == heldout


@pytest.mark.parametrize("argv", [
    # README.md, trainer/README.md, tests and benchmarks
    ["train", "sft", "--steps", "400", "--kinds", "add,chain", "--max-operand", "9", "--batch-size", "16",
     "--lr", "2e-3", "--seed", "0", "--eval-every", "100", "--n-val", "48", "--model", "M", "--out", "O"],
    ["train", "rl", "P", "--out", "O", "--stage", "code-science", "--steps", "1", "--prompts-per-step", "12",
     "--group-size", "2", "--mode", "grpo", "--budget", "256", "--defer", "--lr", "5e-5", "--seed", "1",
     "--save-every", "5", "--resume", "--sampler", "torch", "--max-operand", "9", "--max-new-tokens", "24",
     "--reward-url", "http://127.0.0.1:8100", "--micro-tokens", "64"],
    ["train", "eval", "A", "B", "--kinds", "add,chain", "--max-operand", "9", "--seed", "0", "--n-val", "600",
     "--k", "8", "--temperature", "1", "--top-p", "1", "--max-tokens", "40", "--sample-seed", "0"],
])
def test_existing_ring_train_flags_still_parse(argv):
    leaf = typer.main.get_command(ring_app).commands[argv[0]].commands[argv[1]]
    leaf.make_context(argv[1], argv[2:])  # raises on an unknown flag or a bad value


@pytest.mark.parametrize("entry, argv", [
    (torchrun.app, ["rl", "P", "--out", "O", "--sampler", "torch", "--budget", "256", "--no-db", "--defer"]),
    (torchrun.app, ["sft", "--model", "M", "--out", "O", "--batch-size", "16", "--kinds", "add", "--no-db"]),
    (torchrun.app, ["check", "M", "--out", "r.json", "--aux", "both", "--lr", "1e-3", "--micro-tokens", "24"]),
    (heldout_app, ["C", "--kinds", "add,chain", "--max-operand", "9", "--n-val", "600", "--temperature", "1",
                   "--samples", "8", "--eval-seed", "0", "--n-train", "360", "--train-n-val", "48"]),
])
def test_torchrun_and_heldout_flags_parse(entry, argv):
    cmd = typer.main.get_command(entry)
    if hasattr(cmd, "commands"):  # a group: parse the subcommand's own options
        cmd = cmd.commands[argv[0]]
        argv = argv[1:]
    cmd.make_context("x", list(argv))  # raises on an unknown flag or a bad value


def test_the_command_builds_the_config_once_from_the_parsed_options(tmp_path):
    got = []
    app = typer.Typer()
    app.command("rl")(command(RLConfig, lambda cfg: got.append(cfg) or 0, doc="test"))
    app.command("other")(lambda: None)  # a group, as in `ring train`
    r = runner.invoke(app, ["rl", "P", "--out", str(tmp_path), "--kinds", "add, chain", "--no-db", "--budget", "64"])
    assert r.exit_code == 0, r.output
    assert got == [RLConfig(policy_dir="P", out_dir=str(tmp_path), kinds=("add", "chain"), log_db=False, budget=64)]
    r = runner.invoke(app, ["rl", "P", "--out", str(tmp_path), "--micro-tokens", "0"])
    assert r.exit_code == 2 and "error: row_tokens and micro_tokens must be positive" in r.output
    # a field left unset is filled by the entry (ring train sft: the tiny model)
    cfg = build(SFTConfig, {f.name: None if f.name == "model_dir" else f.default for f in cli_fields(SFTConfig)},
                fill={"model_dir": lambda: "TINY"})
    assert cfg.model_dir == "TINY" and cfg.kinds == ("add",) and cfg.out_dir.endswith("sft-seed0")


def test_torchrun_refuses_the_vllm_sampler_with_several_ranks():
    from trainer.rl import _check_world

    _check_world(RLConfig(policy_dir="P", out_dir="O"), 1)
    with pytest.raises(ValueError, match="--sampler torch"):
        _check_world(RLConfig(policy_dir="P", out_dir="O"), 2)
    _check_world(RLConfig(policy_dir="P", out_dir="O", sampler="torch"), 2)


def test_dashboard_order_names_metrics_the_trainer_logs():
    from dashboard.queries import TRAINING_METRIC_ORDER

    logged = set(metric_names.RL_METRICS) | set(metric_names.SFT_METRICS)
    assert TRAINING_METRIC_ORDER == list(metric_names.DASHBOARD_ORDER)
    assert set(TRAINING_METRIC_ORDER) <= logged
    assert len(set(TRAINING_METRIC_ORDER)) == len(TRAINING_METRIC_ORDER)


def test_heldout_config_resolves_its_defaults():
    cfg = HeldoutConfig(kinds=("code", "science"), seed=3)
    assert cfg.eval_seed == 3 and cfg.max_new_tokens == 64
    with pytest.raises(ValueError):
        HeldoutConfig(samples=0)


def test_an_unknown_flag_is_a_usage_error():
    leaf = typer.main.get_command(ring_app).commands["train"].commands["rl"]
    with pytest.raises(Exception, match="--no-such-flag"):
        leaf.make_context("rl", ["P", "--no-such-flag"])
    assert torchrun.main(["rl"]) == 2  # missing POLICY, printed as usual
