"""Compare two models (newest runs on one benchmark) or two runs, problem by problem."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries as q
from dashboard.views.common import csv_download, run_label


def _pick_models(url: str) -> tuple[int, int] | None:
    models = q.cached.model_names(url)
    if len(models) < 2:
        st.info("Need at least two models with runs to compare.")
        return None
    c1, c2 = st.columns(2)
    a = c1.selectbox("Model A", models, index=0, key="cmp_model_a")
    b = c2.selectbox("Model B", models, index=1, key="cmp_model_b")
    benches = q.cached.common_benchmarks(url, a, b)
    if not benches:
        st.info(f"{a} and {b} have no benchmark in common.")
        return None
    bench = st.selectbox("Benchmark", benches, key="cmp_bench")
    return q.cached.latest_run_id(url, a, bench), q.cached.latest_run_id(url, b, bench)


def _pick_runs(url: str) -> tuple[int, int] | None:
    runs = q.cached.run_list(url)
    if len(runs) < 2:
        st.info("Need at least two runs to compare.")
        return None
    labels = {int(r["run_id"]): run_label(r) for _, r in runs.iterrows()}
    ids = list(labels)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Run A", ids, index=0, format_func=labels.get, key="cmp_run_a")
    b = c2.selectbox("Run B", ids, index=1, format_func=labels.get, key="cmp_run_b")
    return a, b


def render(url: str) -> None:
    st.header("Compare")
    mode = st.radio("Compare", ["Two models", "Two runs"], horizontal=True, key="cmp_mode",
                    label_visibility="collapsed")
    picked = _pick_models(url) if mode == "Two models" else _pick_runs(url)
    if picked is None:
        return
    run_a, run_b = picked
    table = q.cached.compare_runs(url, run_a, run_b)
    if table.empty:
        st.info("Neither run has samples yet.")
        return
    scores = q.cached.run_scores(url, [run_a, run_b], latest_only=False).set_index("run_id")
    c = st.columns(4)
    for col, name, rid in ((c[0], "A", run_a), (c[1], "B", run_b)):
        v = scores["avg_at_k"].get(rid)
        col.metric(f"avg@k {name} (run {rid})", "–" if v is None else f"{v:.2f}")
    c[2].metric("Solved by A only", int((table["flip"] == "A only").sum()))
    c[3].metric("Solved by B only", int((table["flip"] == "B only").sum()))
    st.caption("A problem counts as solved when at least half of its samples are correct; "
               "delta = accuracy B − accuracy A (percentage points).")

    chart = (alt.Chart(table.dropna(subset=["accuracy_a", "accuracy_b"])).mark_circle(size=60)
             .encode(x=alt.X("accuracy_a:Q", title="accuracy A (%)",
                             scale=alt.Scale(domain=[0, 100])),
                     y=alt.Y("accuracy_b:Q", title="accuracy B (%)",
                             scale=alt.Scale(domain=[0, 100])),
                     color=alt.Color("flip:N"), tooltip=["problem_id", "accuracy_a", "accuracy_b"])
             .properties(height=300))
    st.altair_chart(chart, width="stretch")

    only_flips = st.checkbox("Only problems that flipped", value=True, key="cmp_only_flips")
    shown = table[table["flip"].isin(["A only", "B only"])] if only_flips else table
    st.dataframe(shown, hide_index=True, width="stretch", key="cmp_table")
    csv_download(shown, f"compare_{run_a}_{run_b}.csv", key="cmp_csv")
