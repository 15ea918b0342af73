"""The whole asset graph materialized for a fixed instant on a small simulated shop."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs
from orchestration.partitions import partition_end, partition_key_for, partitions_known_at
from orchestration.schedules import refresh_run_config
from orchestration.settings import load_settings, parse_instant

AS_OF = "2026-11-21T12:00:00Z"


def run_refresh_job(
    instance: dg.DagsterInstance,
    as_of: str | None = AS_OF,
    partition_key: str | None = None,
    **settings: float,
) -> dg.ExecuteInProcessResult:
    """The refresh job as of `as_of`, in its partition (or in `partition_key`, as of its end)."""
    instant = parse_instant(as_of) if as_of else partition_end(partition_key)
    with partitions_known_at(instant):
        return defs.resolve_job_def("refresh").execute_in_process(
            run_config=refresh_run_config(as_of, **settings),
            instance=instance,
            partition_key=partition_key or partition_key_for(instant),
            raise_on_error=False,
        )


def published_files() -> dict[Path, bytes]:
    """Every file of the published mart folder, with its bytes."""
    mart_dir = load_settings().mart_database.parent
    return {path: path.read_bytes() for path in mart_dir.rglob("*") if path.is_file()}


@pytest.fixture
def instance(small_shop) -> dg.DagsterInstance:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_whole_graph_materializes_and_publishes(instance: dg.DagsterInstance) -> None:
    result = run_refresh_job(instance)
    assert result.success
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"sales", "restocks", "inventory_snapshots", "at_risk_in_a_week", "analyst_mart"} <= materialized

    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    # dbt's artifacts go with the data folder, one folder reused by every run
    assert (load_settings().data_dir / "dbt_target" / "run_results.json").exists()
    assert any(check.asset_key == dg.AssetKey("at_risk_in_a_week") for check in checks)

    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        (products, at_risk_flagged) = mart.execute(
            "select count(*), count(*) filter (where is_at_risk) from days_to_stockout"
        ).fetchone()
        at_risk = mart.execute(
            "select product_id, risk_rank, as_of, days_to_stockout from at_risk_in_a_week"
        ).fetchall()
    assert products == 60
    assert len(at_risk) == at_risk_flagged > 0
    assert sorted(rank for _, rank, _, _ in at_risk) == list(range(1, len(at_risk) + 1))
    assert {str(as_of) for _, _, as_of, _ in at_risk} == {"2026-11-21 12:00:00"}
    assert all(days <= 7 for _, _, _, days in at_risk)


def test_same_instant_twice_publishes_the_same_rows(instance: dg.DagsterInstance) -> None:
    def published_rows() -> list[tuple]:
        with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
            return mart.execute("select * from days_to_stockout order by product_id").fetchall()

    assert run_refresh_job(instance).success
    first = published_rows()
    assert run_refresh_job(instance).success
    assert published_rows() == first


def test_model_settings_reach_dbt(instance: dg.DagsterInstance) -> None:
    assert run_refresh_job(instance, horizon_days=28).success
    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        (longest,) = mart.execute("select max(days_to_stockout) from at_risk_in_a_week").fetchone()
        (at_risk_28,) = mart.execute("select count(*) from at_risk_in_a_week").fetchone()
    # a 28-day horizon flags many more products: the volume check would rightly stop this
    assert run_refresh_job(instance, accept_anomalies=True).success
    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        (at_risk_7,) = mart.execute("select count(*) from at_risk_in_a_week").fetchone()
    assert longest > 7
    assert at_risk_28 > at_risk_7


def test_failing_source_stops_before_publish(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_refresh_job(instance).success
    mart = load_settings().mart_database
    before = mart.read_bytes()
    (load_settings().data_dir / "sources" / "inventory.sqlite").unlink()
    # A day later a new snapshot is due, and the inventory service is gone.
    monkeypatch.setenv("STOCKOUT_NOW", "2026-11-22T12:00:00Z")
    result = run_refresh_job(instance, as_of="2026-11-22T12:00:00Z")
    assert not result.success
    assert mart.read_bytes() == before
    assert "analyst_mart" not in {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    }


def test_every_published_column_is_documented(instance: dg.DagsterInstance) -> None:
    import json

    from orchestration.assets.transform import load_dbt_project
    from orchestration.publish import PUBLISHED_RELATIONS

    assert run_refresh_job(instance).success
    manifest = json.loads(load_dbt_project().manifest_path.read_text())
    documented = {
        node["name"]: {name: column["description"] for name, column in node["columns"].items()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        for relation in PUBLISHED_RELATIONS:
            columns = [row[0] for row in mart.execute(f"describe {relation}").fetchall()]
            assert set(columns) == set(documented[relation]), relation
            assert all(documented[relation][name].strip() for name in columns), relation


DESIGN_AT_RISK_COLUMNS = [
    "as_of",
    "product_id",
    "product_name",
    "sku",
    "supplier_name",
    "lead_time_days",
    "stock_status",
    "on_hand",
    "units_sold_7d",
    "in_stock_days_7d",
    "velocity_7d",
    "velocity_28d",
    "demand_rate",
    "trend",
    "days_to_stockout",
    "projected_stockout_date",
    "stockout_probability_7d",
    "reorder_recommended",
    "suggested_reorder_qty",
    "risk_rank",
]


def test_at_risk_table_has_exactly_the_design_columns(instance: dg.DagsterInstance) -> None:
    assert run_refresh_job(instance).success
    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        at_risk = [row[0] for row in mart.execute("describe at_risk_in_a_week").fetchall()]
        every_product = {row[0] for row in mart.execute("describe days_to_stockout").fetchall()}
    assert at_risk == DESIGN_AT_RISK_COLUMNS
    assert set(DESIGN_AT_RISK_COLUMNS) <= every_product


def test_a_failing_blocking_check_publishes_nothing(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_refresh_job(instance, horizon_days=1).success
    before = published_files()
    # Any change of the at-risk count now counts as an anomaly.
    monkeypatch.setenv("STOCKOUT_MAX_AT_RISK_CHANGE_FACTOR", "1.0001")
    result = run_refresh_job(instance, horizon_days=28)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["at_risk_table_is_publishable"]
    assert "--accept-anomalies" in failed[0].description
    assert published_files() == before
    # The operator looked, and it is real.
    assert run_refresh_job(instance, horizon_days=28, accept_anomalies=True).success


def test_a_repeated_key_fails_its_model_and_publishes_nothing(instance: dg.DagsterInstance) -> None:
    """The per-product models check their key as they write (macros/product_refresh.sql,
    assert_one_row_per_key): SQL that gives a product two rows stops the run before its
    commit, naming the table, the key and what to do, and the mart stays as it was."""
    assert run_refresh_job(instance).success
    before = published_files()
    # A catalogue row written twice behind the models' back: every join on it fans out.
    with duckdb.connect(str(load_settings().warehouse_path)) as warehouse:
        (product_id,) = warehouse.execute(
            "select min(product_id) from intermediate.int_products_enriched"
        ).fetchone()
        warehouse.execute(
            f"insert into intermediate.int_products_enriched "
            f"select * from intermediate.int_products_enriched where product_id = {product_id}"
        )
    # A new setting makes every product's rows stale: each per-product model recomputes them all.
    result = run_refresh_job(instance, horizon_days=8)
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["stockout_dbt_models"]
    message = str(failures[0].step_failure_data.error)
    repeated = re.search(rf"intermediate\.(int_\w+) holds 2 rows for product_id = {product_id}\b", message)
    assert repeated, message
    assert "its SQL must give one row per key" in message
    # checked before the model's commit: its table never held the repeated key
    with duckdb.connect(str(load_settings().warehouse_path), read_only=True) as warehouse:
        (extra_rows,) = warehouse.execute(
            f"select count(*) - count(distinct product_id) from intermediate.{repeated.group(1)}"
        ).fetchone()
    assert extra_rows == 0
    assert published_files() == before


def test_a_partition_without_an_instant_is_as_of_the_end_of_its_hour(instance: dg.DagsterInstance) -> None:
    # what the UI's launchpad and its back-fills run: a partition key, no run config
    result = run_refresh_job(instance, as_of=None, partition_key="2026-11-21-11:00")
    assert result.success
    with duckdb.connect(str(load_settings().mart_database), read_only=True) as mart:
        (as_of,) = mart.execute(
            "select distinct strftime(as_of, '%Y-%m-%dT%H:%M:%SZ') from days_to_stockout"
        ).fetchone()
    assert as_of == AS_OF
