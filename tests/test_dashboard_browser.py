"""`ring dashboard` in a real headless Chromium: the leaderboard shows the seeded scores and a
click opens the run page. Screenshots land in ``artifacts/`` (CI keeps them).

Needs Debian's chromium and chromium-driver (``scripts/install_browser.sh``).
"""
from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ring_core.service import free_port
from ring_core.store import api, db

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
WAIT_S = 90  # generous: the machine is shared and Streamlit's first page load compiles a lot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs /usr/bin/chromium and /usr/bin/chromedriver "
                              "(run scripts/install_browser.sh)"),
]
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# model -> benchmark -> correct flags per problem (k samples each)
SEED = {
    "ring-lite": {"aime_2024": [[1, 1], [1, 0], [0, 0], [1, 1]],
                  "math500": [[1, 1], [1, 1], [1, 0], [0, 1]]},
    "qwen-baseline": {"aime_2024": [[1, 0], [0, 0], [0, 0], [0, 0]],
                      "math500": [[1, 1], [0, 0], [1, 0], [0, 0]]},
}


def cell(matrix) -> str:
    per_problem = [sum(r) / len(r) for r in matrix]
    half = 1.959964 * statistics.stdev(per_problem) / len(per_problem) ** 0.5
    return f"{100 * statistics.fmean(per_problem):.1f} ± {100 * half:.1f} (k={len(matrix[0])})"


def _seed(url: str) -> None:
    db.upgrade(url)
    with db.session(url) as s:
        for model, per_bench in SEED.items():
            m = api.get_or_create_model(s, model)
            for bench, matrix in per_bench.items():
                b = api.get_or_create_benchmark(s, bench, "1", f"sha-{bench}")
                run = api.get_or_create_run(s, m, b, {"temperature": 0.6}, "math-1",
                                            len(matrix[0]))
                api.add_samples(s, run.id, [
                    {"problem_id": f"q{p}", "sample_index": i, "correct": bool(ok),
                     "score": float(ok), "answer": f"\\boxed{{{p}}}", "extracted": str(p),
                     "reason": "match" if ok else "mismatch", "tokens": 500, "latency_s": 1.0}
                    for p, row in enumerate(matrix) for i, ok in enumerate(row)])
                api.set_run_status(s, run.id, "done")
    db.dispose_engines()


def _server_command(port: int) -> list[str]:
    ring = Path(sys.executable).with_name("ring")
    if ring.exists() or shutil.which("ring"):
        return [str(ring) if ring.exists() else "ring", "dashboard", "--port", str(port),
                "--host", "127.0.0.1", "--headless"]
    # Checkout without `pip install -e .`: the same CLI command through its module.
    return [sys.executable, "-m", "ring_serve.cli", "dashboard", "--port", str(port),
            "--host", "127.0.0.1", "--headless"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'ring.db'}"
    _seed(url)
    port = free_port()
    env = {**os.environ, "RING_DB_URL": url, "RING_HOME": str(tmp),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(_server_command(port), cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dashboard exited early: {(tmp / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log_text = (tmp / "server.log").read_text()
                pytest.fail(f"dashboard not healthy in {WAIT_S}s: {log_text}")
            time.sleep(0.5)
        yield base
    finally:
        # The server runs in its own session; stop exactly that process group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=1400,1100",
                 f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def _grid_rows(driver) -> list[list[str]]:
    """Rows of the first table; st.dataframe keeps an accessible <table> beside its canvas."""
    frames = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    if not frames:
        return []
    try:
        return [[c.get_attribute("textContent").strip()
                 for c in tr.find_elements(By.CSS_SELECTOR, "th, td")]
                for tr in frames[0].find_elements(By.CSS_SELECTOR, "tr")]
    except StaleElementReferenceException:  # Streamlit re-rendered mid-read; caller retries
        return []


def _metrics(driver) -> dict[str, str]:
    """st.metric label -> value currently on the page ({} while the page is re-rendering)."""
    try:
        return {el.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text:
                el.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text
                for el in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]')}
    except (NoSuchElementException, StaleElementReferenceException):
        return {}


def _wait_text(driver, text: str) -> None:
    WebDriverWait(driver, WAIT_S, poll_frequency=0.5).until(
        lambda d: text in d.find_element(By.TAG_NAME, "body").text,
        message=f"page never showed {text!r}")


def _screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    assert path.stat().st_size > 10_000  # a real rendered page, not a blank image
    return path


def test_leaderboard_then_run_page_in_chromium(server, browser):
    browser.get(server + "/")
    WebDriverWait(browser, WAIT_S, poll_frequency=0.5).until(
        lambda d: all(any(model in r for r in _grid_rows(d)) for model in SEED),
        message="leaderboard table never showed the seeded models")
    rows = _grid_rows(browser)
    header, body = rows[0], {r[0]: r for r in rows[1:] if r}
    for model, per_bench in SEED.items():
        assert model in body, f"{model} missing from {rows}"
        for bench, matrix in per_bench.items():
            assert body[model][header.index(bench)] == cell(matrix)
    assert any("paper-reported reference" in name for name in body)
    _screenshot(browser, "dashboard_leaderboard.png")

    # The picker defaults to the first run listed (models alphabetically): qwen-baseline on AIME.
    button = browser.find_element(By.XPATH, "//button[.//p[normalize-space()='Open run page']]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    _wait_text(browser, "qwen-baseline on aime_2024")
    _wait_text(browser, "Per-problem accuracy")
    WebDriverWait(browser, WAIT_S).until(lambda d: "page=Run" in d.current_url)
    metrics = WebDriverWait(browser, WAIT_S, poll_frequency=0.5).until(
        lambda d: (m := _metrics(d)).get("avg@k") and m, message="run metrics never rendered")
    matrix = SEED["qwen-baseline"]["aime_2024"]
    expected_avg = 100 * statistics.fmean(sum(r) / len(r) for r in matrix)
    assert metrics["avg@k"] == f"{expected_avg:.2f}"
    assert metrics["Status"] == "done"
    # The per-problem chart is drawn (Vega renders into a canvas/svg inside the chart element).
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] canvas, '
                         '[data-testid="stVegaLiteChart"] svg'))
    _screenshot(browser, "dashboard_run.png")
