"""`stockout bench` at a tiny scale: it runs end to end and reports every measure.

Behaviour only: the numbers are checked to exist and be positive, never against a clock.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from conftest import run_cli

MEASURES = (
    "hourly_refresh_s",
    "engine_floor_s",
    "naive_full_recompute_s",
    "history_cost_ratio",
    "peak_rss_mb",
    "top100_query_ms",
)


def test_bench_reports_every_measure_and_publishes(tmp_path: Path) -> None:
    results, work_dir = tmp_path / "bench.json", tmp_path / "bench"
    completed = run_cli(
        "bench",
        "--products", "2000",
        "--sales-per-day", "2000",
        "--history-days", "8",
        "--json", str(results),
        "--work-dir", str(work_dir),
        "--keep",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "generated directly as landed files" in completed.stdout
    for measure in MEASURES:
        assert measure in completed.stdout

    document = json.loads(results.read_text())
    for measure in MEASURES:
        assert isinstance(document[measure], float) and document[measure] > 0, measure
    assert document["parameters"] == {"products": 2000, "sales_per_day": 2000, "history_days": 8, "seed": 42}
    assert {"cpu_count", "memory_gb", "python", "duckdb"} <= document["machine"].keys()

    # The measured refresh published the mart, and the engine floor agrees with it on the at-risk list.
    with duckdb.connect(str(work_dir / "history_full" / "mart" / "analytics.duckdb"), read_only=True) as mart:
        published = {row[0] for row in mart.execute("select product_id from at_risk_in_a_week").fetchall()}
        (products,) = mart.execute("select count(*) from days_to_stockout").fetchone()
    assert products == 2000 and published
    floor_file = work_dir / "engine_floor" / "at_risk_in_a_week.parquet"
    floor = {row[0] for row in duckdb.sql(f"select product_id from '{floor_file}'").fetchall()}
    assert floor == published
