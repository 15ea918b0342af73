"""dbt models as Dagster assets; dbt tests surface as asset checks."""

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.partitions import REFRESH_PARTITIONS
from orchestration.resources import RefreshConfig
from orchestration.settings import DBT_PROJECT_DIR, format_instant, load_settings
from orchestration.warehouse_lock import WarehouseLock


def _manifest_is_stale(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return True
    parsed_at = project.manifest_path.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return any(path.is_file() and path.stat().st_mtime > parsed_at for path in sources)


def load_dbt_project() -> DbtProject:
    """The dbt project, with its manifest (re-)parsed when missing or older than the project's
    files, so an edited model never runs against a stale asset graph."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    if project.preparer.using_dagster_dev() or _manifest_is_stale(project):
        project.preparer.prepare(project)
    return project


class StockoutDbtTranslator(DagsterDbtTranslator):
    """Keys are the bare names, so dbt sources map onto the landing assets (`sales`, not
    `landing/sales`); models are grouped by their folder (staging, intermediate, marts)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        # Model and source names are unique in the project, so they alone make readable keys.
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else None


def dbt_vars(as_of: datetime, model_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The --vars of a refresh: the instant T and any model settings given for the run."""
    return {"as_of": format_instant(as_of), **model_settings}


def dbt_build_args(
    as_of: datetime, model_settings: Mapping[str, Any], full_refresh: bool = False
) -> list[str]:
    """`dbt build` for one refresh: models and their data tests together, so a failing test
    stops everything downstream of it. Unit tests check the SQL, not the data: the test
    suite runs them, not every refresh. The incremental models take only the new landed
    files, unless `full_refresh` rebuilds them from all of them."""
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        *(["--full-refresh"] if full_refresh else []),
        "--vars",
        json.dumps(dbt_vars(as_of, model_settings), sort_keys=True),
    ]


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=StockoutDbtTranslator(),
        name="stockout_dbt_models",
        partitions_def=REFRESH_PARTITIONS,
    )
    def stockout_dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        refresh: RefreshConfig,
        warehouse_lock: WarehouseLock,
    ) -> Iterator[Any]:
        # dbt finds the warehouse and the landing files through the same variable.
        settings = load_settings()
        os.environ["STOCKOUT_DATA_DIR"] = str(settings.data_dir)
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        as_of = refresh.resolve_as_of(context)
        context.log.info(f"dbt build for as_of={format_instant(as_of)}")
        # One target folder per data folder, reused by every run (runs never overlap): dbt's
        # artifacts stay with the data, and hourly refreshes do not pile up folders.
        yield from dbt.cli(
            dbt_build_args(as_of, refresh.model_settings(), refresh.full_refresh),
            context=context,
            target_path=settings.data_dir / "dbt_target",
        ).stream()

    return stockout_dbt_models
