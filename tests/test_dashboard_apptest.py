"""Every dashboard page under streamlit's AppTest, on a DB seeded through the store's own API.

Expected numbers are computed here from the seeded correctness matrices, independently of the
dashboard's SQL.
"""
from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest

from evaluators.registry import suite_for
from ring_core.store import api, db

st_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = st_testing.AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
REFERENCE = json.loads((Path(APP).parent / "reference_ring_lite.json").read_text())
TIMEOUT = 60


def _matrix(n_problems: int, k: int, rule) -> list[list[bool]]:
    return [[bool(rule(p, i)) for i in range(k)] for p in range(n_problems)]


# model -> benchmark -> correctness matrix [problem][sample]
SEED = {
    "ring-lite": {
        "aime_2024": _matrix(5, 4, lambda p, i: p < 3 or (p == 3 and i < 2)),
        "livecodebench_v5": _matrix(3, 2, lambda p, i: p != 1),
    },
    "baseline-7b": {
        "aime_2024": _matrix(5, 4, lambda p, i: p == 0 or (p == 4 and i == 0)),
        "livecodebench_v5": _matrix(3, 2, lambda p, i: p == 1 and i == 0),
    },
}
TRAINING = {  # name -> (algo, reward at step s)
    "c3po-run": ("c3po", lambda s: 0.1 * s),
    "grpo-run": ("grpo", lambda s: 0.05 * s),
}
STEPS = 6


def expected(matrix) -> tuple[float, float]:
    """(avg@k percent, 95% CI half-width percent) by the textbook formulas."""
    per_problem = [sum(row) / len(row) for row in matrix]
    mean = statistics.fmean(per_problem)
    half = 1.959964 * statistics.stdev(per_problem) / len(per_problem) ** 0.5
    return mean * 100, half * 100


def cell(matrix) -> str:
    avg, ci = expected(matrix)
    return f"{avg:.1f} ± {ci:.1f} (k={len(matrix[0])})"


def _seed(url: str) -> dict[tuple[str, str], int]:
    ids = {}
    with db.session(url) as s:
        for model, per_bench in SEED.items():
            tag = "ours" if model == "ring-lite" else "baseline"
            m = api.get_or_create_model(s, model, tags=tag)
            for bench, matrix in per_bench.items():
                b = api.get_or_create_benchmark(s, bench, "1", f"sha256-{bench}", suite=suite_for(bench))
                if model == "ring-lite" and bench == "aime_2024":
                    # An older run with other settings: the leaderboard must show the newer one.
                    old = api.get_or_create_run(s, m, b, {"temperature": 1.0}, "math-0", 4)
                    api.add_samples(s, old.id, [{"problem_id": f"p{p}", "sample_index": i,
                                                 "correct": False} for p in range(5)
                                                for i in range(4)])
                    api.set_run_status(s, old.id, "done")
                k = len(matrix[0])
                run = api.get_or_create_run(s, m, b, {"temperature": 0.6, "top_p": 0.95},
                                            "math-1" if "aime" in bench else "code-1", k,
                                            tags="nightly")
                api.add_samples(s, run.id, [
                    {"problem_id": f"p{p}", "sample_index": i, "correct": ok, "score": float(ok),
                     "prompt": f"Problem {p} of {bench}", "reasoning": f"thinking about {p}",
                     "answer": f"The answer is \\boxed{{{p * 10 + i}}}",
                     "extracted": str(p * 10 + i), "reason": "match" if ok else "mismatch",
                     "tokens": 1000 + 10 * p + i, "latency_s": 0.5 + p}
                    for p, row in enumerate(matrix) for i, ok in enumerate(row)])
                api.set_run_status(s, run.id, "done")
                ids[(model, bench)] = run.id
        broken = api.get_or_create_model(s, "broken-model")
        b = api.get_or_create_benchmark(s, "aime_2024", "1", "sha256-aime_2024", suite="math")
        failed = api.get_or_create_run(s, broken, b, {}, "math-1", 1)
        api.add_samples(s, failed.id, [{"problem_id": "p0", "sample_index": 0, "correct": True}])
        api.set_run_status(s, failed.id, "failed")
        for name, (algo, reward) in TRAINING.items():
            tr = api.create_training_run(s, name, algo, {"lr": 1e-6})
            for step in range(STEPS):
                api.log_training_metrics(s, tr.id, step, {"reward": reward(step),
                                                          "entropy": 1.0 - 0.1 * step})
    return ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "ring.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    ids = _seed(url)
    old = os.environ.get("RING_DB_URL")
    os.environ["RING_DB_URL"] = url
    yield url, ids
    if old is None:
        os.environ.pop("RING_DB_URL", None)
    else:
        os.environ["RING_DB_URL"] = old
    db.dispose_engines()


@pytest.fixture()
def app(seeded):
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _goto(at, page: str):
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _frame(at, *columns):
    """The first table shown whose columns include ``columns`` (tables carry no key)."""
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_leaderboard_shows_avg_ci_k_and_reference(app):
    table = _frame(app, "Model", "Mean")
    label = REFERENCE["label"]
    assert list(table["Model"]) == ["ring-lite", "baseline-7b", label]  # sorted by mean
    ours = table.set_index("Model")
    for model, per_bench in SEED.items():
        for bench, matrix in per_bench.items():
            assert ours.loc[model, bench] == cell(matrix)
        means = [expected(m)[0] for m in per_bench.values()]
        assert ours.loc[model, "Mean"] == pytest.approx(statistics.fmean(means), abs=0.01)
    assert ours.loc[label, "aime_2024"] == f"{REFERENCE['scores']['aime_2024']:.2f} (paper)"
    assert ours.loc[label, "livecodebench_v5"] == \
        f"{REFERENCE['scores']['livecodebench']:.2f} (paper)"
    assert "broken-model" not in ours.index  # failed runs hidden by default
    assert any("paper" in c.value and "2506.14731" in c.value for c in app.caption)

    details = _frame(app, "avg@k", "n_samples").set_index(["model", "benchmark"])
    matrix = SEED["ring-lite"]["aime_2024"]
    row = details.loc[("ring-lite", "aime_2024")]
    assert row["avg@k"] == pytest.approx(expected(matrix)[0])
    assert row["ci95 (±)"] == pytest.approx(expected(matrix)[1])
    assert (row["k"], row["n_problems"], row["n_samples"]) == (4, 5, 20)
    # CSV export of both tables; the file name says which table it is.
    files = sorted(b.proto.url.rsplit(".", 1)[-1] for b in app.get("download_button"))
    assert [b.proto.label for b in app.get("download_button")] == ["Download CSV"] * 2
    assert files == ["csv", "csv"]


def test_leaderboard_sort_numeric_and_no_reference(app):
    app.selectbox(key="lb_sort").set_value("livecodebench_v5")
    app.radio(key="lb_cells").set_value("avg@k only (numeric)")
    app.checkbox(key="lb_ref").uncheck().run()
    table = _frame(app, "Model", "Mean")
    lcb = {m: expected(b["livecodebench_v5"])[0] for m, b in SEED.items()}
    assert list(table["Model"]) == sorted(lcb, key=lcb.get, reverse=True)
    assert dict(zip(table["Model"], table["livecodebench_v5"])) == pytest.approx(lcb)
    assert REFERENCE["label"] not in set(table["Model"])


def test_leaderboard_filters(app):
    app.multiselect(key="lb_suites").set_value(["code"]).run()
    table = _frame(app, "Model", "Mean")
    assert [c for c in table.columns if c not in ("Model", "Mean")] == ["livecodebench_v5"]

    app.multiselect(key="lb_suites").set_value([])
    app.multiselect(key="lb_tags").set_value(["baseline"]).run()
    table = _frame(app, "Model", "Mean")
    assert set(table["Model"]) - {REFERENCE["label"]} == {"baseline-7b"}

    app.multiselect(key="lb_tags").set_value([])
    app.multiselect(key="lb_status").set_value(["failed"]).run()
    table = _frame(app, "Model", "Mean")
    assert set(table["Model"]) - {REFERENCE["label"]} == {"broken-model"}
    assert table.set_index("Model").loc["broken-model", "aime_2024"] == "100.0 (k=1)"


def test_open_run_from_leaderboard_shows_run_page(app, seeded):
    _, ids = seeded
    run_id = ids[("ring-lite", "aime_2024")]
    app.selectbox(key="lb_open_pick").set_value(run_id)
    app.button(key="lb_open").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.sidebar.radio(key="page").value == "Run"
    assert app.selectbox(key="run_pick").value == run_id

    matrix = SEED["ring-lite"]["aime_2024"]
    avg, ci = expected(matrix)
    m = _metrics(app)
    assert m["avg@k"] == f"{avg:.2f}" and m["95% CI ±"] == f"{ci:.2f}"
    assert (m["k"], m["Problems"], m["Status"]) == ("4", "5", "done")
    assert any("ring-lite on aime_2024" in h.value for h in app.subheader)
    assert json.loads(app.json[0].value) == {"temperature": 0.6, "top_p": 0.95}
    prov = dict(zip(app.table[0].value["field"], app.table[0].value["value"]))
    assert prov["dataset hash"] == "sha256-aime_2024" and prov["verifier version"] == "math-1"

    pp = _frame(app, "problem_id", "accuracy", "samples")
    assert list(pp["accuracy"]) == pytest.approx([100 * sum(r) / len(r) for r in matrix])
    assert list(pp["correct"]) == [sum(r) for r in matrix]


def test_run_page_failures_and_drill_down(app, seeded):
    _, ids = seeded
    run_id = ids[("baseline-7b", "aime_2024")]
    _goto(app, "Run")
    app.selectbox(key="run_pick").set_value(run_id).run()
    matrix = SEED["baseline-7b"]["aime_2024"]
    rows = _frame(app, "sample_id", "sample_index")
    assert len(rows) == sum(len(r) for r in matrix)

    app.checkbox(key="run_failures").check().run()
    rows = _frame(app, "sample_id", "sample_index")
    assert len(rows) == sum(not ok for r in matrix for ok in r)
    assert not rows["correct"].any() and set(rows["reason"]) == {"mismatch"}

    app.selectbox(key="run_problem").set_value("p3").run()
    rows = _frame(app, "sample_id", "sample_index")
    assert list(rows["sample_index"]) == [0, 1, 2, 3]
    pick = int(rows.iloc[2]["sample_id"])
    app.selectbox(key="run_sample_pick").set_value(pick).run()
    m = _metrics(app)
    assert (m["Verdict"], m["Tokens"], m["Latency (s)"]) == ("wrong", str(1000 + 32), "3.50")
    shown = " ".join(t.value for t in app.text)
    assert "Problem 3 of aime_2024" in shown and "thinking about 3" in shown
    assert "\\boxed{32}" in shown
    assert any("`32`" in md.value and "mismatch" in md.value for md in app.markdown)


def test_compare_two_models_flips(app, seeded):
    _goto(app, "Compare")
    app.selectbox(key="cmp_model_a").set_value("baseline-7b")
    app.selectbox(key="cmp_model_b").set_value("ring-lite").run()
    app.selectbox(key="cmp_bench").set_value("aime_2024").run()
    a, b = SEED["baseline-7b"]["aime_2024"], SEED["ring-lite"]["aime_2024"]
    solved_a = [sum(r) / len(r) >= 0.5 for r in a]
    solved_b = [sum(r) / len(r) >= 0.5 for r in b]
    m = _metrics(app)
    assert m["Solved by A only"] == str(sum(x and not y for x, y in zip(solved_a, solved_b)))
    assert m["Solved by B only"] == str(sum(y and not x for x, y in zip(solved_a, solved_b)))
    flips = _frame(app, "accuracy_a", "flip")
    assert set(flips["problem_id"]) == {f"p{p}" for p in range(5) if solved_a[p] != solved_b[p]}
    app.checkbox(key="cmp_only_flips").uncheck().run()
    full = _frame(app, "accuracy_a", "flip")
    assert len(full) == 5
    delta = dict(zip(full["problem_id"], full["delta"]))
    assert delta["p3"] == pytest.approx(100 * (sum(b[3]) / 4 - sum(a[3]) / 4))


def test_compare_two_runs(app, seeded):
    _, ids = seeded
    _goto(app, "Compare")
    app.radio(key="cmp_mode").set_value("Two runs").run()
    app.selectbox(key="cmp_run_a").set_value(ids[("ring-lite", "livecodebench_v5")])
    app.selectbox(key="cmp_run_b").set_value(ids[("baseline-7b", "livecodebench_v5")]).run()
    m = _metrics(app)
    a, b = SEED["ring-lite"]["livecodebench_v5"], SEED["baseline-7b"]["livecodebench_v5"]
    run_a, run_b = ids[("ring-lite", "livecodebench_v5")], ids[("baseline-7b", "livecodebench_v5")]
    assert m[f"avg@k A (run {run_a})"] == f"{expected(a)[0]:.2f}"
    assert m[f"avg@k B (run {run_b})"] == f"{expected(b)[0]:.2f}"

    def solved(row):
        return sum(row) / len(row) >= 0.5

    want = {f"p{p}": "A only" if solved(ra) else "B only"
            for p, (ra, rb) in enumerate(zip(a, b)) if solved(ra) != solved(rb)}
    assert want  # the seed must contain flips in both directions for this test to mean much
    assert set(want.values()) == {"A only", "B only"}
    flips = _frame(app, "accuracy_a", "flip")
    assert dict(zip(flips["problem_id"], flips["flip"])) == want


def test_training_page_latest_values_and_panels(app):
    _goto(app, "Training")
    runs = _frame(app, "training_run_id", "last_step")
    assert set(runs["name"]) == set(TRAINING) and set(runs["last_step"]) == {STEPS - 1}
    last = _frame(app, "label", "algo").set_index("algo")
    for algo, reward in TRAINING.values():
        assert last.loc[algo, "reward"] == pytest.approx(reward(STEPS - 1))
        assert last.loc[algo, "entropy"] == pytest.approx(1.0 - 0.1 * (STEPS - 1))
    # One chart per (metric, algo): reward/entropy for C3PO and GRPO side by side.
    charts = app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    assert len(charts) == 2 * len(TRAINING)
    app.multiselect(key="tr_metrics").set_value(["reward"]).run()
    charts = app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    assert len(charts) == len(TRAINING)


def test_live_refresh_shows_new_samples(app, seeded):
    url, ids = seeded
    app.sidebar.toggle(key="live").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    live = [c.value for c in app.caption if c.value.startswith("Live:")]
    assert live, "live caption missing"
    n_before = int(live[0].split()[1])
    with db.session(url) as s:
        run_id = ids[("ring-lite", "livecodebench_v5")]
        api.add_samples(s, run_id, [{"problem_id": "p9", "sample_index": 0, "correct": True}])
    import streamlit as st

    st.cache_data.clear()  # the TTL would expire within seconds; do not sleep in tests
    app.run()
    live = [c.value for c in app.caption if c.value.startswith("Live:")]
    assert int(live[0].split()[1]) == n_before + 1
    with db.session(url) as s:  # leave the module DB as seeded
        from sqlalchemy import delete

        from ring_core.store.models import Sample
        s.execute(delete(Sample).where(Sample.problem_id == "p9"))


def test_empty_db_shows_hints(tmp_path, monkeypatch):
    import streamlit as st

    st.cache_data.clear()
    monkeypatch.setenv("RING_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("No runs" in i.value for i in at.info)
    for page in ("Run", "Compare", "Training"):
        _goto(at, page)
        assert at.info, f"{page} shows no hint on an empty DB"


@pytest.mark.parametrize("bad_url", ["sqlite:////proc/no-such-dir/ring.db",
                                     "postgresql://ring:s3cret@127.0.0.1:1/ring"])
def test_unreachable_db_is_an_error_message_not_a_crash(monkeypatch, bad_url):
    monkeypatch.setenv("RING_DB_URL", bad_url)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and "Cannot open the results database" in at.error[0].value
    assert "s3cret" not in at.error[0].value  # the password never reaches the page


def test_open_run_while_live_refresh_is_on(app, seeded):
    # With live refresh the page body runs in a fragment; the click must still switch pages.
    _, ids = seeded
    app.sidebar.toggle(key="live").set_value(True).run()
    run_id = ids[("baseline-7b", "livecodebench_v5")]
    app.selectbox(key="lb_open_pick").set_value(run_id)
    app.button(key="lb_open").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.sidebar.radio(key="page").value == "Run"
    assert any("baseline-7b on livecodebench_v5" in h.value for h in app.subheader)


def test_launch_command_and_bad_port():
    from dashboard.server import APP as LAUNCHED
    from dashboard.server import command

    cmd = command(8599, "127.0.0.1", True)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(LAUNCHED)
    assert cmd[cmd.index("--server.port") + 1] == "8599"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert command(8599, "0.0.0.0", False)[cmd.index("--server.headless") + 1] == "false"
    with pytest.raises(ValueError):
        command(70000, "127.0.0.1", True)
