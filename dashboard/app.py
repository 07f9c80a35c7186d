"""Ring Lab leaderboard: the Streamlit entry point (`ring dashboard` runs this file)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ (not the repo) on sys.path.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import queries as q  # noqa: E402
from dashboard.views import compare, leaderboard, run, training  # noqa: E402
from ring_core.store import db  # noqa: E402

PAGES = {"Leaderboard": leaderboard.render, "Run": run.render, "Compare": compare.render,
         "Training": training.render}
LIVE_EVERY_S = 5


@st.cache_resource(show_spinner="Preparing the results database…")
def _ready(url: str) -> str:
    """Bring the DB to the newest schema once per server (an empty DB then just shows nothing)."""
    db.upgrade(url)
    return url


def _initial_state() -> None:
    # Deep links: ?page=Run&run=12
    if "page" not in st.session_state:
        page = st.query_params.get("page", "Leaderboard")
        st.session_state["page"] = page if page in PAGES else "Leaderboard"
        run_param = st.query_params.get("run")
        if run_param and run_param.isdigit():
            st.session_state["run_pick"] = int(run_param)


def main() -> None:
    st.set_page_config(page_title="Ring Lab leaderboard", layout="wide")
    url = os.environ.get("RING_DB_URL") or db.database_url()
    try:
        _ready(url)
    except Exception as exc:  # a bad URL or unreachable server: say so instead of a traceback
        st.error(f"Cannot open the results database {db.redacted(url)}: {exc}")
        st.stop()

    _initial_state()
    with st.sidebar:
        st.title("Ring Lab")
        page = st.radio("Page", list(PAGES), key="page")
        live = st.toggle(f"Live refresh (every {LIVE_EVERY_S} s)", key="live")
        if st.button("Reload data", key="reload"):
            st.cache_data.clear()
        st.caption(f"DB: `{db.redacted(url)}`")
    st.query_params["page"] = page
    if page != "Run":
        st.query_params.pop("run", None)

    body = PAGES[page]
    if live:
        @st.fragment(run_every=LIVE_EVERY_S)
        def _live() -> None:
            n, updated = q.cached.last_write(url)
            st.caption(f"Live: {n} samples, last run update {updated or '–'}")
            body(url)

        _live()
    else:
        body(url)


main()
