"""Training curves per training run, one panel per algorithm (C3PO vs GRPO side by side)."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries as q
from dashboard.views.common import csv_download


def _metric_order(names: list[str]) -> list[str]:
    known = [m for m in q.TRAINING_METRIC_ORDER if m in names]
    return known + sorted(set(names) - set(known))


def render(url: str) -> None:
    st.header("Training")
    runs = q.cached.training_runs(url)
    if runs.empty:
        st.info("No training runs logged yet (the trainer writes them with "
                "`log_training_metrics`).")
        return
    st.dataframe(runs, hide_index=True, width="stretch", key="tr_runs")
    labels = {int(r.training_run_id): f"{r.name} ({r.algo}, #{r.training_run_id})"
              for r in runs.itertuples()}
    chosen = st.multiselect("Training runs", list(labels), default=list(labels),
                            format_func=labels.get, key="tr_pick")
    if not chosen:
        return
    data = q.cached.training_metrics(url, chosen)
    if data.empty:
        st.info("The chosen runs have no metrics yet.")
        return
    data = data.assign(label=data["run"] + " #" + data["training_run_id"].astype(str))
    metrics = _metric_order(sorted(data["metric"].unique()))
    shown = st.multiselect("Metrics", metrics, default=metrics, key="tr_metrics")

    last = (data.sort_values("step").groupby(["label", "algo", "metric"])["value"].last()
            .unstack("metric").reset_index())
    st.markdown("**Latest value per run**")
    st.dataframe(last, hide_index=True, width="stretch", key="tr_last")
    csv_download(data, "training_metrics.csv", key="tr_csv")

    algos = sorted(data["algo"].unique())
    for metric in shown:
        sub = data[data["metric"] == metric]
        st.markdown(f"**{metric}**")
        # One y scale for all panels of a metric so the algorithms compare by eye.
        y_scale = alt.Scale(domain=[float(sub["value"].min()), float(sub["value"].max())])
        cols = st.columns(len(algos))
        for col, algo in zip(cols, algos):
            part = sub[sub["algo"] == algo]
            if part.empty:
                col.caption(f"{algo}: not logged")
                continue
            chart = (alt.Chart(part).mark_line(point=len(part) < 60)
                     .encode(x=alt.X("step:Q"), y=alt.Y("value:Q", title=metric, scale=y_scale),
                             color=alt.Color("label:N", title="run"),
                             tooltip=["label", "step", "value"])
                     .properties(title=algo, height=220))
            col.altair_chart(chart, width="stretch")
