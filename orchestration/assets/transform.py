"""dbt models as Dagster assets; dbt tests surface as asset checks."""

import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.checks import preload_great_expectations
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
    put_installed_dbt_on_path()
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


class StockoutDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs that every hourly refresh
    would pay for nothing: `dbt --version` in a subprocess before each command (about 3.5 s;
    the installed dbt-core's version is read from its package metadata instead), and a dbt
    adapter built in Dagster's process (about 1.5 s), which only `fetch_column_metadata` and
    `fetch_row_counts` use; this project calls neither."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def put_installed_dbt_on_path() -> None:
    """Every dbt command (the manifest's parse, the refresh's build) runs `dbt` from PATH.
    When it is not there, as in `.venv/bin/stockout refresh` run without the environment
    activated, the folder of this Python, where dbt is installed, goes first on PATH."""
    beside = Path(sys.executable).parent
    if shutil.which("dbt") is None and (beside / "dbt").is_file():
        os.environ["PATH"] = os.pathsep.join([str(beside), os.environ.get("PATH", "")])


AS_OF_ENV = "STOCKOUT_AS_OF"  # read by dbt_project/macros/as_of.sql


def dbt_env(as_of: datetime) -> dict[str, str]:
    """The environment of a refresh's dbt command: the instant T. It is not a --vars value
    because a changed var makes dbt re-parse the whole project (about 3 s) every hour."""
    return {AS_OF_ENV: format_instant(as_of)}


def dbt_build_args(model_settings: Mapping[str, Any], full_refresh: bool = False) -> list[str]:
    """`dbt build` for one refresh: models and their data tests together, so a failing test
    stops everything downstream of it. Unit tests check the SQL, not the data: the test
    suite runs them, not every refresh. The incremental models take only the new landed
    files, unless `full_refresh` rebuilds them from all of them. Model settings given for
    the run are dbt vars (such a run re-parses the project)."""
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        *(["--full-refresh"] if full_refresh else []),
        *(["--vars", json.dumps(dict(model_settings), sort_keys=True)] if model_settings else []),
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
        dbt: StockoutDbtCliResource,
        refresh: RefreshConfig,
        warehouse_lock: WarehouseLock,
    ) -> Iterator[Any]:
        # dbt finds the warehouse and the landing files through the same variable, and T
        # through STOCKOUT_AS_OF (dagster-dbt passes this process's environment on).
        settings = load_settings()
        os.environ["STOCKOUT_DATA_DIR"] = str(settings.data_dir)
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        as_of = refresh.resolve_as_of(context)
        os.environ.update(dbt_env(as_of))
        preload_great_expectations()  # for the check that follows, while dbt works
        context.log.info(f"dbt build for as_of={format_instant(as_of)}")
        # One target folder per data folder, reused by every run (runs never overlap): dbt's
        # artifacts stay with the data, and hourly refreshes do not pile up folders.
        yield from dbt.cli(
            dbt_build_args(refresh.model_settings(), refresh.full_refresh),
            context=context,
            target_path=settings.data_dir / "dbt_target",
        ).stream()

    return stockout_dbt_models
