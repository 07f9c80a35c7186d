"""Start the Streamlit server for the dashboard: in the foreground (`ring dashboard`) or as a
background child service (``DashboardService``, what `ring demo` leaves running)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ring_core.service import Service, free_port

APP = Path(__file__).resolve().with_name("app.py")


def command(port: int, host: str, headless: bool) -> list[str]:
    """The streamlit command line `launch` runs."""
    if not 0 < int(port) < 65536:
        raise ValueError(f"port must be in 1..65535, got {port}")
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(int(port)), "--server.address", host,
            "--server.headless", "true" if headless else "false",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


def server_env() -> dict[str, str]:
    """The environment of the Streamlit child: the DB URL reaches the app through RING_DB_URL."""
    from ring_core.store.db import database_url

    env = dict(os.environ)
    env["RING_DB_URL"] = database_url()
    # Make `import dashboard` work when running from a checkout that is not pip-installed.
    root = str(APP.parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def launch(port: int = 8501, host: str = "127.0.0.1", headless: bool = True) -> int:
    """Run the dashboard until it exits."""
    try:
        return subprocess.call(command(port, host, headless), env=server_env())
    except KeyboardInterrupt:
        return 130


class DashboardService(Service):
    """The dashboard as a background child (own process group), healthy once Streamlit answers."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_path: str | Path | None = None):
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        super().__init__("dashboard", command(self.port, host, headless=True), self.url + "/_stcore/health",
                         env=server_env(), log_path=log_path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--headless", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    sys.exit(launch(args.port, args.host, args.headless))
