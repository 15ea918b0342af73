"""The HTML at-risk report, rendered in a real (headless) browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import duckdb
import pytest
from conftest import SIM_END_ISO, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(page_path, user_data_dir) -> str:
    """The DOM after the page's scripts ran, as Chromium sees it."""
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail("chromium is missing in CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium not installed: apt-get install chromium")
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={user_data_dir}",
            "--dump-dom",
            f"file://{page_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def table_rows(dom: str) -> list[list[str]]:
    body = dom.split('<table class="sortable" id="at-risk">', 1)[1].split("</tbody>", 1)[0]
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)[1:]
    ]


def test_report_renders_the_published_rows_and_sorts(small_shop, tmp_path) -> None:
    refreshed = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert refreshed.returncode == 0, refreshed.stdout
    reports = small_shop / "reports"
    assert (reports / "at_risk_20261121T120000Z.html").read_text() == (reports / "latest.html").read_text()
    with duckdb.connect(str(small_shop / "mart" / "analytics.duckdb"), read_only=True) as mart:
        published = mart.execute(
            "select product_name, sku, days_to_stockout from at_risk_in_a_week order by risk_rank"
        ).fetchall()
    assert published, "the test shop should have products at risk"

    dom = render(reports / "latest.html", tmp_path / "chromium")
    rows = table_rows(dom)
    assert [(row[1], row[2]) for row in rows] == [(name, sku) for name, sku, _ in published]
    assert "<svg" in dom and "days to stock-out" in dom.lower()
    assert "newest event 2026-11-21" in dom

    # Clicking "Days left" twice sorts by it, descending, in the browser.
    page = (reports / "latest.html").read_text()
    clicking = page.replace(
        "</body>",
        "<script>var h = document.querySelectorAll('#at-risk th')[7]; h.click(); h.click();</script></body>",
    )
    (tmp_path / "clicked.html").write_text(clicking)
    sorted_rows = table_rows(render(tmp_path / "clicked.html", tmp_path / "chromium"))
    days = [float(row[7]) for row in sorted_rows]
    assert days == sorted(days, reverse=True)
    assert sorted((row[1] for row in sorted_rows)) == sorted(name for name, _, _ in published)
