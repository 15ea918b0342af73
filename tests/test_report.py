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


def test_a_long_list_is_cut_to_the_most_at_risk(tmp_path) -> None:
    """At the benchmark tier 345,000 products are at risk: the page lists the first
    REPORT_ROWS by rank and the first CHANGES_LISTED names of each change, and says how many
    more the mart holds."""
    from datetime import datetime, timezone

    from orchestration import report

    at_risk = report.REPORT_ROWS + 5
    entered = report.CHANGES_LISTED + 7
    version = tmp_path / "version"
    version.mkdir()
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select range + 1 as risk_rank, 'P' || (range + 1) as product_name, 'S' || range as sku, "
            "'Acme' as supplier_name, 'at_risk' as stock_status, 1 as on_hand, 1.0 as demand_rate, "
            "1.0 as days_to_stockout, 0.5 as stockout_probability_7d, true as reorder_recommended, "
            f"3 as suggested_reorder_qty from range({at_risk})) to '{version}/at_risk_in_a_week.parquet'"
        )
        connection.execute(
            f"copy (select 1.0 as days_to_stockout from range({at_risk})) to '{version}/days_to_stockout.parquet'"
        )
        connection.execute(
            f"copy (select 'entered' as change, 'P' || range as product_name, 'S' || range as sku, "
            f"timestamp '2026-11-21 11:00:00' as previous_as_of from range({entered}) "
            f"union all select 'left', 'Q', 'S-Q', timestamp '2026-11-21 11:00:00') "
            f"to '{version}/at_risk_changes.parquet'"
        )
    page = report.render_report(version, datetime(2026, 11, 21, 12, tzinfo=timezone.utc), None)
    assert page.count("<tr>") == report.REPORT_ROWS + 1  # the header row, then the listed products
    assert f"{at_risk} products at risk" in page
    assert f"the {report.REPORT_ROWS} most at risk (all {at_risk} are in the mart" in page
    assert f"<strong>Entered ({entered}):</strong>" in page
    assert "and 7 more (at_risk_changes in the mart)" in page
    assert "<strong>Left (1):</strong> Q (S-Q)</p>" in page
