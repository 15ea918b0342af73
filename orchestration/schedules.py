"""The refresh job and what starts it: the hourly schedule and the new-source-rows sensor."""

import dagster as dg

from orchestration.landing import landed_high_water_mark
from orchestration.partitions import REFRESH_PARTITIONS, partition_key_for
from orchestration.settings import format_instant, load_settings, now
from orchestration.sources import TransactionDatabase

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


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=load_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_source_rows(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Refresh as of now when the transaction database has rows newer than those landed;
    checked every STOCKOUT_SENSOR_INTERVAL_SECONDS (300 by default). One run per newest id."""
    settings = load_settings()
    newest = TransactionDatabase(settings.transactions_url).max_change_id()
    landed = max(landed_high_water_mark(settings.landing_dir / entity) for entity in ("sales", "restocks"))
    if newest <= landed:
        return dg.SkipReason(f"no new source rows: the newest id, {newest}, is landed")
    return refresh_request(now(), run_key=f"source-id-{newest}", trigger="sensor")
