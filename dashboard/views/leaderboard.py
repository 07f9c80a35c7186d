"""Leaderboard: models x benchmarks, avg@k with 95% CI and k, filters, paper reference row."""
from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from dashboard import queries as q
from dashboard.paper_reference import load_reference, reference_scores
from dashboard.views.common import csv_download, fmt_score, open_run, run_label

HIDDEN_BY_DEFAULT = {"failed", "cancelled"}


def build_table(scores: pd.DataFrame, numeric: bool, reference: dict[str, float] | None,
                reference_label: str) -> pd.DataFrame:
    """Pivot the per-run scores into the models x benchmarks table shown on the page."""
    benches = sorted(scores["benchmark"].unique())
    values = scores.pivot_table(index="model", columns="benchmark", values="avg_at_k",
                                aggfunc="first").reindex(columns=benches)
    table = pd.DataFrame(index=values.index)
    if numeric:
        table = values.copy()
    else:
        cells = {(r.model, r.benchmark): fmt_score(r.avg_at_k, r.ci95, r.k)
                 for r in scores.itertuples()}
        for b in benches:
            table[b] = [cells.get((m, b), "–") for m in values.index]
    table["Mean"] = values.mean(axis=1, skipna=True)
    table["Mean"] = table["Mean"].round(2)
    table = table.reset_index().rename(columns={"model": "Model"})
    table.columns.name = None
    if reference:
        row = {"Model": reference_label}
        for b in benches:
            v = reference.get(b)
            row[b] = v if numeric else (f"{v:.2f} (paper)" if v is not None else "–")
        known = [reference[b] for b in benches if reference.get(b) is not None]
        # A mean over a subset of benchmarks would not compare with the models' means.
        complete = known and len(known) == len(benches)
        row["Mean"] = round(sum(known) / len(known), 2) if complete else None
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return table


def _filters(url: str) -> dict:
    opts = q.cached.filter_options(url)
    with st.expander("Filters", expanded=True):
        c1, c2, c3 = st.columns(3)
        suites = c1.multiselect("Suite", opts["suites"], key="lb_suites")
        tags = c2.multiselect("Tag", opts["tags"], key="lb_tags")
        default_status = [s for s in opts["statuses"] if s not in HIDDEN_BY_DEFAULT]
        statuses = c3.multiselect("Run status", opts["statuses"], default=default_status,
                                  key="lb_status")
        since = until = None
        if opts["first"] is not None:
            first, last = opts["first"].date(), opts["last"].date()
            picked = st.date_input("Run date", value=(first, last), key="lb_dates")
            if isinstance(picked, (tuple, list)) and len(picked) == 2:
                # An untouched end of the range stays open, so runs started later still show.
                since = datetime.combine(picked[0], time.min) if picked[0] > first else None
                until = datetime.combine(picked[1], time.max) if picked[1] < last else None
    return {"suites": suites, "tags": tags, "statuses": statuses, "since": since, "until": until}


def render(url: str) -> None:
    st.header("Leaderboard")
    f = _filters(url)
    scores = q.cached.run_scores(url, **f)
    if scores.empty:
        st.info("No runs match these filters yet. Run `ring eval ...` to add results.")
        return
    c1, c2, c3 = st.columns([2, 2, 1])
    numeric = c1.radio("Cells", ["avg@k ± 95% CI (k)", "avg@k only (numeric)"],
                       horizontal=True, key="lb_cells") != "avg@k ± 95% CI (k)"
    benches = sorted(scores["benchmark"].unique())
    sort_by = c2.selectbox("Sort by", ["Mean", *benches, "Model"], key="lb_sort")
    show_ref = c3.checkbox("Paper reference row", value=True, key="lb_ref")
    ref_data = load_reference()
    ref = reference_scores(benches) if show_ref else None
    table = build_table(scores, numeric, ref, ref_data["label"])

    # Sort our models by the numeric value; the reference row always stays last.
    is_ref = table["Model"] == ref_data["label"]
    ours, ref_rows = table[~is_ref], table[is_ref]
    if sort_by == "Model":
        order = ours["Model"].sort_values().index
    else:
        key = scores.pivot_table(index="model", columns="benchmark", values="avg_at_k",
                                 aggfunc="first")
        key["Mean"] = key.mean(axis=1)
        order_vals = ours["Model"].map(key[sort_by] if sort_by in key else {})
        order = order_vals.sort_values(ascending=False, na_position="last").index
    table = pd.concat([ours.loc[order], ref_rows], ignore_index=True)

    num_cols = ["Mean", *benches] if numeric else ["Mean"]
    st.dataframe(table, hide_index=True, width="stretch", key="lb_table",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in num_cols})
    caption = ("avg@k = mean over problems of the fraction of k samples graded correct (percent); "
               "± is the 95% normal CI over problems (1.96 standard errors; `ring eval` prints the same). "
               "Newest run per model and benchmark.")
    if show_ref:
        caption += f" Reference row: {ref_data['source']}"
    st.caption(caption)
    csv_download(table, "leaderboard.csv", key="lb_csv")

    st.subheader("Runs behind the table")
    details = scores.rename(columns={"avg_at_k": "avg@k", "ci95": "ci95 (±)"})
    st.dataframe(details, hide_index=True, width="stretch", key="lb_details",
                 column_config={"avg@k": st.column_config.NumberColumn(format="%.2f"),
                                "ci95 (±)": st.column_config.NumberColumn(format="%.2f")})
    csv_download(details, "runs.csv", key="lb_details_csv")

    labels = {int(r["run_id"]): run_label(r) for _, r in scores.iterrows()}
    pick = st.selectbox("Open a run", list(labels), format_func=labels.get, key="lb_open_pick")
    if st.button("Open run page", on_click=open_run, args=("lb_open_pick",),
                 key="lb_open", disabled=pick is None):
        # Only reached inside the live-refresh fragment, which reruns alone; the callback
        # already switched the page, so rerun the whole app to show it.
        st.rerun()
