"""The Dagster code location: everything assembled in one place."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.checks import at_risk_table_is_publishable
from orchestration.assets.landing import LANDING_ASSETS
from orchestration.assets.publish import analyst_mart
from orchestration.assets.transform import StockoutDbtCliResource, build_dbt_assets, load_dbt_project
from orchestration.resources import RefreshConfig
from orchestration.schedules import hourly_refresh, refresh_job
from orchestration.sensors import inbox_sensor, new_source_rows
from orchestration.warehouse_lock import WarehouseLock


def build_definitions() -> dg.Definitions:
    dbt_project = load_dbt_project()
    return dg.Definitions(
        assets=[*LANDING_ASSETS, build_dbt_assets(dbt_project), analyst_mart],
        asset_checks=[at_risk_table_is_publishable],
        jobs=[refresh_job],
        schedules=[hourly_refresh],
        sensors=[new_source_rows, inbox_sensor],
        resources={
            "dbt": StockoutDbtCliResource(project_dir=dbt_project),
            "refresh": RefreshConfig(),
            "warehouse_lock": WarehouseLock(),
        },
    )


defs = build_definitions()
