"""Run-level settings shared by every step of a refresh."""

import os
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from orchestration.partitions import partition_end
from orchestration.settings import now, parse_instant

MODEL_SETTING_NAMES = (
    "horizon_days",
    "stockout_threshold",
    "reorder_factor",
    "service_level",
    "smoothing_factor",
)


class RefreshConfig(dg.ConfigurableResource):
    """The refresh instant T and the risk model's settings for one run.

    Unset model settings fall back to the defaults in dbt_project.yml (DESIGN.md §4).
    When `as_of` is unset, T is "now" when the run was created (STOCKOUT_NOW if set), so
    every step of the run agrees on it however long the run takes; a partitioned run without
    `as_of` (the UI's launchpad and back-fills) is as of the end of its hour. `full_refresh` rebuilds
    the incremental models from every landed file (dbt --full-refresh) instead of the new
    ones: the same rows, at the cost of the whole history. `backfill` marks a run that
    fills in a past instant: it does not replace a newer published mart.
    """

    as_of: str | None = None
    horizon_days: float | None = None
    stockout_threshold: float | None = None
    reorder_factor: float | None = None
    service_level: float | None = None
    smoothing_factor: float | None = None
    accept_anomalies: bool = False
    full_refresh: bool = False
    backfill: bool = False

    def resolve_as_of(self, context: dg.OpExecutionContext) -> datetime:
        if self.as_of:
            return parse_instant(self.as_of)
        if context.has_partition_key:
            return partition_end(context.partition_key)
        if os.environ.get("STOCKOUT_NOW"):
            return now()
        record = context.instance.get_run_record_by_id(context.run_id)
        if record is None or record.create_timestamp is None:
            return now()
        created = record.create_timestamp
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        return created.astimezone(timezone.utc).replace(microsecond=0)

    def is_backfill(self, context: dg.OpExecutionContext) -> bool:
        """Whether the run fills in a past instant: `stockout backfill`, or a UI back-fill."""
        return self.backfill or "dagster/backfill" in context.run.tags

    def model_settings(self) -> dict[str, Any]:
        """The model settings given for this run, by dbt var name."""
        return {name: getattr(self, name) for name in MODEL_SETTING_NAMES if getattr(self, name) is not None}
