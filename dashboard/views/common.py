"""Small helpers the pages share (CSV export, labels)."""
from __future__ import annotations

import pandas as pd
import streamlit as st


def csv_download(df: pd.DataFrame, filename: str, key: str, label: str = "Download CSV") -> None:
    """A download button exporting ``df`` exactly as shown."""
    st.download_button(label, df.to_csv(index=False).encode(), file_name=filename,
                       mime="text/csv", key=key)


def run_label(row) -> str:
    return (f"#{row['run_id']} · {row['model']} · {row['benchmark']} v{row['version']} "
            f"({row['status']})")


def fmt_score(avg: float, ci: float, k: int) -> str:
    """'76.6 ± 1.2 (k=16)'; CI left out when there is a single problem."""
    if pd.isna(avg):
        return "–"
    if pd.isna(ci):
        return f"{avg:.1f} (k={k})"
    return f"{avg:.1f} ± {ci:.1f} (k={k})"


def open_run(pick_key: str) -> None:
    """Button callback: switch to the run page showing the run chosen in widget ``pick_key``."""
    # Read the widget's state, not a value bound at render time, so a pick changed in the
    # same interaction as the click is honoured.
    st.session_state["page"] = "Run"
    st.session_state["run_pick"] = int(st.session_state[pick_key])
