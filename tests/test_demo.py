"""The README's first command: `ring demo` runs the whole recipe on the tiny model, end to end.

The end-to-end tests share one full default run on a scratch RING_HOME (about 10-12 minutes on 2
cores): build, SFT, select, serve + eval, reward service + RL, serve + eval, report, dashboard. Then:
the results DB holds what the issue lists, Chromium finds both models on the dashboard the demo
started, Ctrl-C stops it with no process left, a second run reuses every stage, and an interrupt or
a failure mid-stage stops every child too. The first tests are fast checks of the pieces.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluators.runner.scoring import sign_test
from ring_core.service import Service, ServiceError, free_port
from ring_serve.demo.children import Children
from ring_serve.demo.jobs import Job
from ring_serve.demo.report import paired
from ring_serve.demo.state import DemoState

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
DEMO_TIMEOUT_S = 1800  # the budget is about 12 minutes; a shared CI box can be twice as slow


# --- the pieces --------------------------------------------------------------------------------

def test_sign_test_is_the_exact_two_sided_binomial():
    assert sign_test(0, 0) == 1.0 and sign_test(5, 5) == 1.0
    assert sign_test(3, 0) == pytest.approx(0.25)  # 2 * (1/2)^3
    assert sign_test(0, 3) == sign_test(3, 0)
    assert sign_test(37, 10) == pytest.approx(9.85e-5, rel=1e-3)  # trainer/README.md's figure
    assert 0 < sign_test(900, 100) < 1e-100  # exact integers: no underflow to 0 or nan
    with pytest.raises(ValueError):
        sign_test(-1, 2)


def test_paired_counts_per_problem_wins_losses_and_ties():
    before = {"per_problem": {"a": {"avg": 0.0}, "b": {"avg": 0.5}, "c": {"avg": 1.0}, "d": {"avg": 0.25}}}
    after = {"per_problem": {"a": {"avg": 0.5}, "b": {"avg": 0.5}, "c": {"avg": 0.75}, "d": {"avg": 1.0}}}
    p = paired(before, after)
    assert (p.wins, p.losses, p.ties) == (2, 1, 1)
    assert p.p_value == sign_test(2, 1)


def test_state_reuses_a_stage_only_with_the_same_inputs_and_its_artefacts(tmp_path):
    art = tmp_path / "ckpt"
    art.mkdir()
    state = DemoState(tmp_path / "state.json")
    state.record("sft", {"steps": 400}, {"dir": str(art)}, [art], 12.0)
    again = DemoState(tmp_path / "state.json")  # read back from disk
    assert again.reusable("sft", {"steps": 400})["artefacts"] == {"dir": str(art)}
    assert again.reusable("sft", {"steps": 300}) is None
    art.rmdir()
    assert again.reusable("sft", {"steps": 400}) is None
    again.forget("sft")
    assert DemoState(tmp_path / "state.json").stages == {}


def test_redoing_a_stage_redoes_the_stages_built_on_it(tmp_path, monkeypatch):
    from rich.console import Console

    from ring_serve.demo import pipeline
    from ring_serve.demo.progress import StageBoard
    from ring_serve.demo.recipe import STAGES, Recipe
    from ring_serve.demo.stages import Ctx, Outcome

    runs = {"model": 0, "sft": 0}

    def fake(key):
        def run(ctx):
            runs[key] += 1
            (tmp_path / f"{key}.bin").touch()
            return Outcome({"n": runs[key]}, [tmp_path / f"{key}.bin"])
        return (lambda ctx: {}), run, (lambda artefacts: True)

    monkeypatch.setattr(pipeline, "STAGE_STEPS", {k: fake(k) for k in runs})
    state = DemoState(tmp_path / "state.json")

    def run_both():
        with StageBoard(Recipe(), Console(file=open(os.devnull, "w"))) as board:
            ctx = Ctx(Recipe(), board, Children())
            for stage in [s for s in STAGES if s.key in runs]:
                pipeline._run_stage(ctx, state, stage)

    run_both()
    run_both()
    assert runs == {"model": 1, "sft": 1}  # the second pass reused both
    (tmp_path / "model.bin").unlink()
    run_both()
    assert runs == {"model": 2, "sft": 2}  # model's artefact went: model redone, and sft (intact) after it


def test_fresh_drops_the_seeds_directory_and_only_its_db_rows(tmp_path, monkeypatch):
    from ring_core.store import api, db
    from ring_serve.demo.state import start_over

    monkeypatch.setenv("RING_HOME", str(tmp_path))
    monkeypatch.delenv("RING_DB_URL", raising=False)
    db.upgrade()
    with db.session() as s:
        bench = api.get_or_create_benchmark(s, "heldout", "1", "sha")
        for name in ("demo-sft-seed0/step_000400", "demo-rl-seed0/step_000100", "someone-else/step_1"):
            run = api.get_or_create_run(s, api.get_or_create_model(s, name), bench, {}, "math-1", 1)
            s.flush()
            api.add_samples(s, run.id, [{"problem_id": "p", "sample_index": 0, "correct": True, "score": 1.0}])
        for name in ("sft-demo-sft-seed0", "rl-math-demo-rl-seed0", "rl-math-mine"):
            api.create_training_run(s, name=name, algo="c3po", config={})
    seed_dir = tmp_path / "demo" / "seed0"
    (seed_dir / "demo-sft-seed0").mkdir(parents=True)
    start_over(seed_dir, ["demo-sft-seed0", "demo-rl-seed0"], ["sft-demo-sft-seed0", "rl-math-demo-rl-seed0"])
    assert not seed_dir.exists()
    assert db_rows(tmp_path, "select name from models") == [("someone-else/step_1",)]
    assert db_rows(tmp_path, "select count(*) from samples") == [(1,)]  # the others' runs went with them
    assert db_rows(tmp_path, "select name from training_runs") == [("rl-math-mine",)]
    db.dispose_engines()


def test_a_failing_job_raises_with_the_childs_own_error(tmp_path):
    job = Job("ring train select", ["train", "select", str(tmp_path / "missing")], tmp_path / "select.log")
    with pytest.raises(ServiceError) as err:
        job.run(poll_s=0.1)
    assert "exited with code 2" in str(err.value) and "no checkpoint directory" in str(err.value)
    assert not job.alive()


def test_sigterm_unwinds_and_stops_every_child(tmp_path):
    port = free_port()
    http = Service("http", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                   f"http://127.0.0.1:{port}/", log_path=tmp_path / "http.log")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with Children().guard() as children:
            children.start(http, timeout_s=30)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert not http.alive()
    assert signal.getsignal(signal.SIGTERM) == before  # the demo's handlers are gone again


# --- the full demo, end to end -----------------------------------------------------------------

def wait_for(proc: subprocess.Popen, pattern: str, timeout_s: float) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = Path(proc_log(proc)).read_text(errors="replace")
        if m := re.search(pattern, text):
            return m
        if proc.poll() is not None:
            pytest.fail(f"`ring demo` exited with {proc.returncode} before {pattern!r}:\n{text[-6000:]}")
        time.sleep(2)
    proc.send_signal(signal.SIGINT)
    pytest.fail(f"no {pattern!r} within {timeout_s}s:\n{Path(proc_log(proc)).read_text()[-6000:]}")


_LOGS: dict[int, str] = {}


def start_demo(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RING_HOME": str(home), "COLUMNS": "160"}
    for var in ("RING_DB_URL", "RING_API_KEY"):
        env.pop(var, None)
    log_path = home / f"demo-{len(_LOGS)}.out"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("ring")), "demo", *args], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _LOGS[proc.pid] = str(log_path)
    return proc


def proc_log(proc: subprocess.Popen) -> str:
    return _LOGS[proc.pid]


def finish(proc: subprocess.Popen, timeout_s: float) -> tuple[int, str]:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"`ring demo` still running after {timeout_s}s:\n{Path(proc_log(proc)).read_text()[-6000:]}")
    return proc.returncode, Path(proc_log(proc)).read_text(errors="replace")


def leftovers(home: Path, wait_s: float = 20.0) -> list[str]:
    """Processes still alive that were started under this RING_HOME (children inherit it)."""
    import psutil

    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                if p.pid != os.getpid() and p.environ().get("RING_HOME") == str(home):
                    found.append(f"{p.pid}: {' '.join(p.info['cmdline'] or [])[:200]}")
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def db_rows(home: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "ring.db") as con:
        return con.execute(sql).fetchall()


def stage_state(home: Path) -> dict:
    return json.loads((home / "demo" / "seed0" / "state.json").read_text())["stages"]


def demo_models(home: Path) -> tuple[str, str]:
    """The names the demo scored: the SFT checkpoint `ring train select` picked, and the RL policy."""
    stages = stage_state(home)
    return stages["eval-sft"]["artefacts"]["model"], stages["eval-rl"]["artefacts"]["model"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One full default `ring demo`, left running at its dashboard; stopped by the Ctrl-C test."""
    home = tmp_path_factory.mktemp("ring-demo-home")
    t0 = time.monotonic()
    proc = start_demo(home)
    url = wait_for(proc, r"dashboard: (http://\S+)", DEMO_TIMEOUT_S).group(1)
    yield {"home": home, "proc": proc, "url": url, "wall_s": time.monotonic() - t0}
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        finish(proc, 60)


@pytest.mark.vllm
@pytest.mark.slow
def test_full_demo_fills_the_results_db(demo):
    home, text = demo["home"], Path(proc_log(demo["proc"])).read_text()
    SFT_MODEL, RL_MODEL = demo_models(home)
    assert SFT_MODEL.startswith("demo-sft-seed0/step_") and RL_MODEL.startswith("demo-rl-seed0/step_")
    models = {name for (name,) in db_rows(home, "select name from models")}
    assert models == {SFT_MODEL, RL_MODEL}
    runs = db_rows(home, "select m.name, b.name, r.status, r.k, r.metrics from runs r "
                         "join models m on m.id = r.model_id join benchmarks b on b.id = r.benchmark_id")
    per_model = {m: [r for r in runs if r[0] == m] for m in models}
    assert all(len(rs) == 2 and {r[2] for r in rs} == {"done"} for rs in per_model.values()), runs
    heldout = {r[0]: json.loads(r[4])[f"avg@{r[3]}"] for r in runs if r[1].startswith("heldout")}
    assert heldout[RL_MODEL] > heldout[SFT_MODEL], heldout
    curves = dict(db_rows(home, "select tr.name, count(*) from training_metrics tm "
                                "join training_runs tr on tr.id = tm.training_run_id group by tr.name"))
    assert curves.get("rl-math-demo-rl-seed0", 0) >= 100 and curves.get("sft-demo-sft-seed0", 0) > 0, curves
    rl = stage_state(home)["rl"]["artefacts"]
    assert rl["reward_service"]["reward_requests"] >= 100  # at least one graded batch per RL step
    for needle in ("before (SFT pick) / after (C3PO RL)", "paired sign test", "AIME 2024 scores 0",
                   "where things are", "reasoning:", "answer:"):
        assert needle in text, needle
    assert text.count("answer:") >= 2  # one chat reply per model
    assert re.search(r"✓ rl\s+\d+:\d\d", text)  # each stage's elapsed time


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="run scripts/install_browser.sh")
def test_dashboard_the_demo_started_shows_both_models(demo, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--window-size=1400,1100", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    SFT_MODEL, RL_MODEL = demo_models(demo["home"])
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=opts)
    try:
        driver.set_page_load_timeout(90)
        driver.get(demo["url"] + "/")

        def leaderboard_text(d) -> str:  # st.dataframe keeps an accessible <table> beside its canvas
            return " ".join(el.get_attribute("textContent") or ""
                            for el in d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'))

        WebDriverWait(driver, 120, poll_frequency=1).until(
            lambda d: SFT_MODEL in leaderboard_text(d) and RL_MODEL in leaderboard_text(d),
            message="the leaderboard never listed both demo models")
    finally:
        driver.quit()


@pytest.mark.vllm
@pytest.mark.slow
def test_ctrl_c_stops_the_dashboard_and_leaves_no_process(demo):
    demo["proc"].send_signal(signal.SIGINT)
    code, text = finish(demo["proc"], 60)
    assert code == 0, text[-3000:]
    assert "dashboard stopped" in text
    assert leftovers(demo["home"]) == []


@pytest.mark.vllm
@pytest.mark.slow
def test_second_run_reuses_every_finished_stage(demo):
    home = demo["home"]
    before = stage_state(home)
    t0 = time.monotonic()
    code, text = finish(start_demo(home, "--no-dashboard"), 300)
    took = time.monotonic() - t0
    assert code == 0, text[-3000:]
    for key in before:
        assert re.search(rf"↺ {re.escape(key)}\s+reused", text), key
        assert stage_state(home)[key]["finished_at"] == before[key]["finished_at"]
    assert took < 90 < demo["wall_s"], (took, demo["wall_s"])  # seconds, not the first run's minutes
    assert "before (SFT pick) / after (C3PO RL)" in text
    assert len(db_rows(home, "select id from models")) == 2
    assert leftovers(home) == []


@pytest.mark.vllm
@pytest.mark.slow
def test_ctrl_c_mid_stage_stops_its_server(demo):
    import psutil

    home = demo["home"]
    _forget(home, "eval-rl")
    proc = start_demo(home, "--no-dashboard")
    deadline = time.monotonic() + 300
    while not any("vllm.entrypoints" in " ".join(p.info["cmdline"] or [])
                  for p in psutil.process_iter(["cmdline"]) if _under(p, home)):
        assert proc.poll() is None and time.monotonic() < deadline, Path(proc_log(proc)).read_text()[-3000:]
        time.sleep(1)
    time.sleep(3)  # the engine is starting
    proc.send_signal(signal.SIGINT)
    code, text = finish(proc, 90)
    assert code == 130 and "interrupted" in text, text[-3000:]
    assert leftovers(home) == []
    assert "eval-rl" not in stage_state(home)


@pytest.mark.vllm
@pytest.mark.slow
def test_a_failing_stage_is_named_with_the_childs_error_and_leaves_no_process(demo):
    home = demo["home"]
    _forget(home, "eval-rl")
    config = Path(stage_state(home)["rl"]["artefacts"]["checkpoint"]) / "config.json"
    good = config.read_text()
    config.write_text("{ this is not json")
    try:
        code, text = finish(start_demo(home, "--no-dashboard"), 600)
    finally:
        config.write_text(good)
    assert code == 1, text[-3000:]
    assert "stage 'eval-rl' failed" in text
    assert "vLLM exited with code" in text  # the child's own log tail follows
    assert leftovers(home) == []


@pytest.mark.vllm
@pytest.mark.slow
def test_quick_path_serves_chats_and_scores(tmp_path):
    code, text = finish(start_demo(tmp_path, "--quick"), 900)
    assert code == 0, text[-3000:]
    assert "vLLM ready" in text and "answer:" in text and "avg@" in text
    assert (tmp_path / "models" / "ring-tiny" / "model.safetensors").exists()
    per_run = dict(db_rows(tmp_path, "select run_id, count(*) from samples group by run_id"))
    assert sorted(per_run.values()) == [8, 8]
    assert {s for (s,) in db_rows(tmp_path, "select status from runs")} == {"done"}
    assert leftovers(tmp_path) == []


def _forget(home: Path, key: str) -> None:
    path = home / "demo" / "seed0" / "state.json"
    data = json.loads(path.read_text())
    data["stages"].pop(key, None)
    path.write_text(json.dumps(data))


def _under(p, home: Path) -> bool:
    import psutil

    try:
        return p.environ().get("RING_HOME") == str(home)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
