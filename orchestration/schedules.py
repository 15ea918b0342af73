"""The refresh job and the hourly schedule that runs it (sensors.py starts it on new data)."""

import dagster as dg

from orchestration.partitions import REFRESH_PARTITIONS, partition_key_for
from orchestration.settings import format_instant

REFRESH_JOB_NAME = "refresh"

# One process runs the whole refresh: DuckDB allows a single writer, and the steps share it.
refresh_job = dg.define_asset_job(
    name=REFRESH_JOB_NAME,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    partitions_def=REFRESH_PARTITIONS,
    description="Land the sources, build and test the dbt models, publish the analyst mart.",
)


def refresh_run_config(as_of: str | None = None, **model_settings: float | bool | None) -> dict:
    """Run config of the refresh job for an instant (None: the partition's end, or now), model
    settings, `accept_anomalies`, `full_refresh` and `backfill`; unset (None) values are left out."""
    config = {"as_of": as_of, **model_settings}
    return {"resources": {"refresh": {"config": {k: v for k, v in config.items() if v is not None}}}}


def refresh_request(as_of_instant, run_key: str, trigger: str) -> dg.RunRequest:
    """A run of the refresh job as of an instant, in the partition that holds it."""
    as_of = format_instant(as_of_instant)
    return dg.RunRequest(
        run_key=run_key,
        partition_key=partition_key_for(as_of_instant),
        run_config=refresh_run_config(as_of),
        tags={"stockout/as_of": as_of, "stockout/trigger": trigger},
    )


@dg.schedule(
    job=refresh_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every hour on the hour, refresh as of that hour: the partition of the hour just ended."""
    scheduled = context.scheduled_execution_time
    return refresh_request(scheduled, run_key=format_instant(scheduled), trigger="schedule")
