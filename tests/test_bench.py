"""`stockout bench` at a tiny scale: it runs end to end and reports every measure.

Behaviour only: the numbers are checked to exist and be positive, never against a clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from conftest import run_cli

from orchestration import bench
from orchestration.cli import main

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
        "--history-days", "29",
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
    assert document["parameters"] == {"products": 2000, "sales_per_day": 2000, "history_days": 29, "seed": 42}
    assert {"cpu_count", "memory_gb", "python", "duckdb"} <= document["machine"].keys()
    # Where each measured refresh's time went: the dbt step holds dbt's own elapsed time,
    # which holds its models' and tests' time.
    for breakdown in (
        "hourly_refresh_breakdown",
        "hourly_refresh_7d_breakdown",
        "hourly_refresh_28d_breakdown",
    ):
        parts = document["details"][breakdown]
        steps, dbt = parts["dagster_steps_s"], parts["dbt_s"]
        assert steps["stockout_dbt_models"] >= dbt["elapsed"] >= dbt["models"] + dbt["tests"] > 0, breakdown
        assert dbt["tests"] > 0 and parts["slowest_dbt_nodes_s"], breakdown

    # A history longer than the 28-day window is also compared with its last 28 days.
    details = document["details"]
    assert details["hourly_refresh_28d_s"] > 0
    assert details["history_cost_ratio_to_28d"] == pytest.approx(
        document["hourly_refresh_s"] / details["hourly_refresh_28d_s"], abs=0.001
    )
    assert "not a target" in completed.stdout and (work_dir / "history_28d" / "mart").is_dir()

    # The measured refresh published the mart, and the engine floor agrees with it on the at-risk list.
    with duckdb.connect(str(work_dir / "history_full" / "mart" / "analytics.duckdb"), read_only=True) as mart:
        published = {row[0] for row in mart.execute("select product_id from at_risk_in_a_week").fetchall()}
        (products,) = mart.execute("select count(*) from days_to_stockout").fetchone()
    assert products == 2000 and published
    floor_file = work_dir / "engine_floor" / "at_risk_in_a_week.parquet"
    floor = {row[0] for row in duckdb.sql(f"select product_id from '{floor_file}'").fetchall()}
    assert floor == published


def test_bench_refuses_to_start_without_the_disk_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work_dir = tmp_path / "bench"
    monkeypatch.setattr(bench.shutil, "disk_usage", lambda path: SimpleNamespace(free=2**30))
    code = main(
        [
            "bench",
            "--products", "10000000",
            "--sales-per-day", "5000000",
            "--history-days", "90",
            "--json", str(tmp_path / "bench.json"),
            "--work-dir", str(work_dir),
        ]
    )  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2
    assert str(work_dir) in error and "1.0 GB free" in error and "needs about" in error
    assert not work_dir.exists() and not (tmp_path / "bench.json").exists()


def test_a_failed_naive_recompute_keeps_the_other_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The naive full recompute comes last and is the heaviest: when it fails (at the
    benchmark tier, a full disk), the measures taken before it are still reported."""
    results = tmp_path / "bench.json"
    refresh = bench.stockout_refresh

    def refresh_failing_in_full(folders, data_dir, now, *extra):
        if "--full-refresh" in extra:
            raise bench.BenchError("`refresh --full-refresh` exited 1:\nNo space left on device")
        return refresh(folders, data_dir, now, *extra)

    monkeypatch.setattr(bench, "stockout_refresh", refresh_failing_in_full)
    code = main(
        [
            "bench",
            "--products", "500",
            "--sales-per-day", "500",
            "--history-days", "7",
            "--json", str(results),
            "--work-dir", str(tmp_path / "bench"),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "No space left on device" in captured.out and "not measured" in captured.out

    document = json.loads(results.read_text())
    assert document["naive_full_recompute_s"] is None
    assert "No space left on device" in document["details"]["naive_full_recompute_error"]
    assert document["targets_met"]["naive_full_recompute_s"] is False
    # 7 days of history: nothing to compare with the 28-day window
    assert document["details"]["hourly_refresh_28d_s"] is None
    assert document["details"]["history_cost_ratio_to_28d"] is None
    for measure in MEASURES:
        if measure != "naive_full_recompute_s":
            assert isinstance(document[measure], float) and document[measure] > 0, measure
