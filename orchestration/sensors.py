"""Sensors: a refresh as soon as files wait in the inbox, instead of at the next hour."""

import hashlib

import dagster as dg

from orchestration.inbox import waiting_in_inbox
from orchestration.schedules import REFRESH_JOB_NAME, refresh_job, refresh_run_config
from orchestration.settings import load_settings

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
        run_requests=[
            dg.RunRequest(
                run_key=inbox_run_key(described),
                run_config=refresh_run_config(),
                tags={"stockout/trigger": "inbox"},
            )
        ]
    )
