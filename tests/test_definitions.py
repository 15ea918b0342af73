"""The Dagster code location: pin the asset graph, its checks and its schedule."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.transform import dbt_build_args, dbt_env, put_installed_dbt_on_path
from orchestration.definitions import defs
from orchestration.partitions import hourly_instants, partition_end, partition_key_for
from orchestration.schedules import refresh_run_config

LANDING = {
    "sales",
    "restocks",
    "quarantine",
    "landing_manifests",
    "inventory_snapshots",
    "products",
    "suppliers",
}
STAGING = {
    "stg_landing__sales",
    "stg_landing__restocks",
    "stg_landing__inventory_snapshots",
    "stg_landing__products",
    "stg_landing__suppliers",
    "stg_landing__quarantined_rows",
    "stg_landing__landing_manifests",
}
INTERMEDIATE = {
    "int_inventory_movements",
    "int_product_hourly_movements",
    "int_product_movements_windowed",
    "int_products_enriched",
    "int_products_to_refresh",
    "int_product_day_slices",
    "int_product_risk_assessed",
    "int_stock_events_detected",
    "int_daily_product_movements_listed",
    "int_stock_on_hand_computed",
    "int_product_demand_summarized",
    "int_inventory_snapshots_reconciled",
}
PUBLISHED = {
    "daily_product_movements",
    "product_velocity",
    "days_to_stockout",
    "at_risk_in_a_week",
    "inventory_reconciliation",
    "stock_events",
    "at_risk_changes",
    "at_risk_history",
    "quarantined_rows",
    "landing_reconciliation",
}
MARTS = PUBLISHED | {"refresh_log"}


@pytest.fixture(scope="module")
def asset_graph():
    return defs.resolve_asset_graph()


def keys(names: set[str]) -> set[dg.AssetKey]:
    return {dg.AssetKey(name) for name in names}


def test_the_graph_holds_exactly_the_expected_assets(asset_graph) -> None:
    expected = keys(LANDING | STAGING | INTERMEDIATE | MARTS | {"analyst_mart"})
    assert set(asset_graph.get_all_asset_keys()) == expected


def test_dbt_sources_hang_off_the_landing_assets(asset_graph) -> None:
    assert asset_graph.get(dg.AssetKey("stg_landing__sales")).parent_keys == {dg.AssetKey("sales")}
    assert asset_graph.get(dg.AssetKey("stg_landing__inventory_snapshots")).parent_keys == {
        dg.AssetKey("inventory_snapshots")
    }
    assert asset_graph.get(dg.AssetKey("stg_landing__quarantined_rows")).parent_keys == {
        dg.AssetKey("quarantine")
    }


def test_movements_land_together_after_the_catalogue(asset_graph) -> None:
    """One read of the transaction database lands sales and restocks and quarantines the rest,
    and judging products needs the catalogue landed first."""
    movements = keys({"sales", "restocks", "quarantine", "landing_manifests"})
    assert asset_graph.get(dg.AssetKey("sales")).parent_keys == {dg.AssetKey("products")}
    assert defs.resolve_assets_def("sales").keys == movements


def test_publish_waits_for_every_published_mart(asset_graph) -> None:
    assert asset_graph.get(dg.AssetKey("analyst_mart")).parent_keys == keys(PUBLISHED)
    assert asset_graph.get(dg.AssetKey("at_risk_in_a_week")).parent_keys == {dg.AssetKey("days_to_stockout")}


def test_groups_follow_the_layers(asset_graph) -> None:
    groups = {
        key.to_user_string(): asset_graph.get(key).group_name for key in asset_graph.get_all_asset_keys()
    }
    assert {name for name, group in groups.items() if group == "landing"} == LANDING
    assert {name for name, group in groups.items() if group == "marts"} == MARTS
    assert groups["analyst_mart"] == "publish"


def test_dbt_tests_are_asset_checks_on_the_at_risk_table(asset_graph) -> None:
    checks = {(key.asset_key.to_user_string(), key.name) for key in asset_graph.asset_check_keys}
    on_at_risk = {name for asset, name in checks if asset == "at_risk_in_a_week"}
    assert "unique_at_risk_in_a_week_risk_rank" in on_at_risk
    assert "not_null_at_risk_in_a_week_product_id" in on_at_risk
    assert any(name.startswith("accepted_values_at_risk_in_a_week_stock_status") for name in on_at_risk)
    assert ("days_to_stockout", "not_null_days_to_stockout_product_id") in checks
    assert ("at_risk_in_a_week", "at_risk_table_is_publishable") in checks


def test_the_python_check_blocks_publishing(asset_graph) -> None:
    check = asset_graph.get_check_spec(
        dg.AssetCheckKey(dg.AssetKey("at_risk_in_a_week"), "at_risk_table_is_publishable")
    )
    assert check.blocking


def test_refresh_job_and_hourly_schedule() -> None:
    job = defs.resolve_job_def("refresh")
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("hourly_refresh")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "refresh"
    for name in ("inbox_sensor", "new_source_rows"):
        assert defs.resolve_sensor_def(name).job_name == "refresh"


def test_schedule_refreshes_as_of_the_scheduled_hour() -> None:
    schedule = defs.resolve_schedule_def("hourly_refresh")
    instant = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(
        scheduled_execution_time=instant, repository_def=defs.get_repository_def()
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_config == {"resources": {"refresh": {"config": {"as_of": "2026-11-21T09:00:00Z"}}}}
    # the partition of the hour just ended, whose end is the scheduled instant
    assert request.partition_key == "2026-11-21-08:00"


def test_partitions_map_instants_to_the_hour_that_holds_them() -> None:
    on_the_hour = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    assert partition_key_for(on_the_hour) == "2026-11-21-11:00"
    assert partition_end("2026-11-21-11:00") == on_the_hour
    assert partition_key_for(datetime(2026, 11, 21, 12, 0, 1, tzinfo=timezone.utc)) == "2026-11-21-12:00"
    assert partition_key_for(datetime(2026, 11, 21, 12, 59, 59, tzinfo=timezone.utc)) == "2026-11-21-12:00"
    assert hourly_instants(
        datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc), datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    ) == [datetime(2026, 11, 21, h, 0, tzinfo=timezone.utc) for h in (10, 11, 12)]
    assert hourly_instants(on_the_hour, on_the_hour) == [on_the_hour]


def test_dbt_arguments_are_built_from_the_refresh() -> None:
    as_of = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
    # T goes in the environment, so that dbt's partial parse survives a new T every hour.
    assert dbt_env(as_of) == {"STOCKOUT_AS_OF": "2026-11-21T09:30:00Z"}
    assert dbt_build_args({}) == ["build", "--exclude-resource-type", "unit_test"]
    args = dbt_build_args({"horizon_days": 14})
    assert args[:4] == ["build", "--exclude-resource-type", "unit_test", "--vars"]
    assert json.loads(args[4]) == {"horizon_days": 14}
    assert "--full-refresh" not in args
    assert "--full-refresh" in dbt_build_args({}, full_refresh=True)


def test_run_config_leaves_unset_settings_to_dbt() -> None:
    assert refresh_run_config(None) == {"resources": {"refresh": {"config": {}}}}
    assert refresh_run_config("2026-11-21T09:00:00Z", reorder_factor=2.0, horizon_days=None) == {
        "resources": {"refresh": {"config": {"as_of": "2026-11-21T09:00:00Z", "reorder_factor": 2.0}}}
    }


def test_dbt_is_found_beside_python_when_it_is_not_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `.venv/bin/stockout refresh` run without the environment activated: no dbt on PATH.
    monkeypatch.setenv("PATH", str(tmp_path))
    put_installed_dbt_on_path()
    assert shutil.which("dbt") == str(Path(sys.executable).parent / "dbt")
