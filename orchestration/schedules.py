"""The refresh job and when it runs."""

import dagster as dg

from orchestration.settings import format_instant

REFRESH_JOB_NAME = "refresh"

# One process runs the whole refresh: DuckDB allows a single writer, and the steps share it.
refresh_job = dg.define_asset_job(
    name=REFRESH_JOB_NAME,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Land the sources, build and test the dbt models, publish the analyst mart.",
)


def refresh_run_config(as_of: str | None = None, **model_settings: float | bool | None) -> dict:
    """Run config of the refresh job for an instant (None: now), model settings and
    `accept_anomalies`; unset (None) values are left out."""
    config = {"as_of": as_of, **model_settings}
    return {"resources": {"refresh": {"config": {k: v for k, v in config.items() if v is not None}}}}


@dg.schedule(
    job=refresh_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every hour on the hour, refresh as of that hour."""
    as_of = format_instant(context.scheduled_execution_time)
    return dg.RunRequest(run_key=as_of, run_config=refresh_run_config(as_of), tags={"stockout/as_of": as_of})
