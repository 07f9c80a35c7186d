"""`ring dashboard`: the Streamlit leaderboard (``dashboard.server``)."""
from __future__ import annotations

import typer

app = typer.Typer()


@app.command("dashboard")
def dashboard(port: int = typer.Option(8501, help="Port for the Streamlit server."),
              host: str = typer.Option("127.0.0.1", help="Address to bind."),
              headless: bool = typer.Option(True, help="Do not open a browser window.")) -> None:
    """Open the leaderboard (Streamlit) over the results DB."""
    from dashboard.server import launch
    from ring_serve.extras import require

    require("streamlit", "altair", "pandas")

    raise typer.Exit(launch(port=port, host=host, headless=headless))
