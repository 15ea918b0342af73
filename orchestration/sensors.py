"""Sensors: a refresh as soon as there is new data (new source rows, files in the inbox),
instead of at the next hour. Each asks for a refresh as of now, in the partition holding it."""

import hashlib

import dagster as dg

from orchestration.inbox import waiting_in_inbox
from orchestration.landing import LandingPaths, landed_high_water_mark
from orchestration.schedules import REFRESH_JOB_NAME, refresh_job, refresh_request
from orchestration.settings import load_settings, now
from orchestration.sources import TransactionDatabase

# A refresh in one of these states will land whatever waits when its landing step runs, or
# is landing it now: a second one would only compete for the warehouse (a single writer).
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def inbox_run_key(waiting: list[str]) -> str:
    """One key per set of waiting files (names, sizes, change times), so the sensor asks for a
    refresh once per drop, not at every tick while the files wait."""
    return "inbox-" + hashlib.sha256("\n".join(sorted(waiting)).encode()).hexdigest()[:16]


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a refresh when CSV or Parquet files wait in data/inbox/sales/ or data/inbox/restocks/.",
)
def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    inbox_dir = load_settings().inbox_dir
    waiting = waiting_in_inbox(inbox_dir)
    if not waiting:
        return dg.SkipReason(f"no file waiting in {inbox_dir}")
    running = context.instance.get_run_records(
        dg.RunsFilter(job_name=REFRESH_JOB_NAME, statuses=UNFINISHED), limit=1
    )
    if running:
        return dg.SkipReason(f"{len(waiting)} inbox file(s) wait for the refresh already running")
    described = [f"{p.relative_to(inbox_dir)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in waiting]
    return dg.SensorResult(
        run_requests=[refresh_request(now(), run_key=inbox_run_key(described), trigger="inbox")]
    )


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
    landed = landed_high_water_mark(
        LandingPaths(landing_dir=settings.landing_dir, quarantine_dir=settings.quarantine_dir)
    )
    if newest <= landed:
        return dg.SkipReason(f"no new source rows: the newest id, {newest}, is landed")
    return refresh_request(now(), run_key=f"source-id-{newest}", trigger="sensor")
