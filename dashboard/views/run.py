"""Run page: per-problem accuracy, sample drill-down, sampling params, dataset hash, verifier."""
from __future__ import annotations

import json

import altair as alt
import streamlit as st

from dashboard import queries as q
from dashboard.views.common import csv_download, fmt_score, run_label


def _pick_run(url: str) -> int | None:
    runs = q.cached.run_list(url)
    if runs.empty:
        st.info("No runs in the database yet.")
        return None
    labels = {int(r["run_id"]): run_label(r) for _, r in runs.iterrows()}
    if st.session_state.get("run_pick") not in labels:
        st.session_state["run_pick"] = next(iter(labels))
    return st.selectbox("Run", list(labels), format_func=labels.get, key="run_pick")


def _header(url: str, info: dict) -> None:
    st.subheader(f"{info['model']} on {info['benchmark']} (v{info['version']})")
    score = q.cached.run_scores(url, [info["run_id"]], latest_only=False)
    row = score.iloc[0] if not score.empty else None
    c = st.columns(5)
    c[0].metric("avg@k", "–" if row is None or row.isna()["avg_at_k"] else f"{row['avg_at_k']:.2f}")
    c[1].metric("95% CI ±", "–" if row is None or row.isna()["ci95"] else f"{row['ci95']:.2f}")
    c[2].metric("k", info["k"])
    c[3].metric("Problems", 0 if row is None else int(row["n_problems"]))
    c[4].metric("Status", info["status"])
    st.caption(fmt_score(row["avg_at_k"], row["ci95"], info["k"]) if row is not None else "")
    left, right = st.columns(2)
    with left:
        st.markdown("**Sampling parameters**")
        st.json(info["sampling"] or {})
        if info["metrics"]:
            st.markdown("**Stored metrics**")
            st.json(info["metrics"])
    with right:
        st.markdown("**Provenance**")
        st.table({"field": ["dataset hash", "verifier version", "benchmark version", "suite",
                            "config hash", "tags", "created", "started", "finished"],
                  "value": [info["dataset_hash"], info["verifier_version"], info["version"],
                            info["suite"] or "–", info["config_hash"][:16], info["tags"] or "–",
                            str(info["created_at"]), str(info["started_at"] or "–"),
                            str(info["finished_at"] or "–")]})


def _per_problem(url: str, run_id: int) -> None:
    st.markdown("**Per-problem accuracy**")
    pp = q.cached.per_problem(url, run_id)
    if pp.empty:
        st.info("No samples stored for this run yet.")
        return
    chart = (alt.Chart(pp).mark_bar()
             .encode(x=alt.X("problem_id:N", sort=None, title="problem"),
                     y=alt.Y("accuracy:Q", title="accuracy (%)", scale=alt.Scale(domain=[0, 100])),
                     color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen",
                                                                   domain=[0, 100]), legend=None),
                     tooltip=["problem_id", "samples", "correct",
                              alt.Tooltip("accuracy:Q", format=".1f")])
             .properties(height=260))
    st.altair_chart(chart, width="stretch")
    with st.expander("Per-problem table"):
        st.dataframe(pp, hide_index=True, width="stretch", key="run_pp")
        csv_download(pp, f"run{run_id}_problems.csv", key="run_pp_csv")


def _samples(url: str, run_id: int) -> None:
    st.markdown("**Samples**")
    problems = ["(all)", *q.cached.per_problem(url, run_id)["problem_id"].tolist()]
    c1, c2 = st.columns([1, 2])
    failures = c1.checkbox("Failures only", key="run_failures")
    problem = c2.selectbox("Problem", problems, key="run_problem")
    rows = q.cached.samples(url, run_id, failures_only=failures,
                            problem_id=None if problem == "(all)" else problem)
    st.dataframe(rows, hide_index=True, width="stretch", key="run_samples")
    if len(rows) >= q.SAMPLE_LIMIT:
        st.caption(f"Showing the first {q.SAMPLE_LIMIT} samples; filter by problem to see others.")
    csv_download(rows, f"run{run_id}_samples.csv", key="run_samples_csv")
    if rows.empty:
        return
    labels = {int(r.sample_id): f"{r.problem_id} #{r.sample_index} {'✓' if r.correct else '✗'}"
              for r in rows.itertuples()}
    sid = st.selectbox("Sample drill-down", list(labels), format_func=labels.get,
                       key="run_sample_pick")
    d = q.cached.sample_detail(url, sid)
    if d is None:
        return
    c = st.columns(4)
    c[0].metric("Verdict", "correct" if d["correct"] else "wrong")
    c[1].metric("Score", f"{d['score']:.2f}")
    c[2].metric("Tokens", "–" if d["tokens"] is None else d["tokens"])
    c[3].metric("Latency (s)", "–" if d["latency_s"] is None else f"{d['latency_s']:.2f}")
    st.markdown(f"**Extracted answer:** `{d['extracted']}`  \n**Verdict reason:** {d['reason']}")
    with st.expander("Prompt"):
        st.text(d["prompt"] or "")
    with st.expander("Reasoning"):
        st.text(d["reasoning"] or "")
    st.markdown("**Final answer**")
    st.text(d["answer"] or "")
    if d["details"]:
        with st.expander("Verifier details"):
            st.code(json.dumps(d["details"], indent=2, default=str), language="json")


def render(url: str) -> None:
    st.header("Run")
    run_id = _pick_run(url)
    if run_id is None:
        return
    st.query_params["run"] = str(run_id)
    info = q.cached.run_info(url, run_id)
    if info is None:
        st.error(f"Run {run_id} does not exist.")
        return
    _header(url, info)
    _per_problem(url, run_id)
    _samples(url, run_id)
