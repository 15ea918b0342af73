"""One refresh through Dagster (land -> dbt build -> checks -> publish), for the CLI and tests.

Runs the `refresh` job in this process against the instance in DAGSTER_HOME, so the run
shows in the Dagster UI like a scheduled one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from orchestration.partitions import partition_key_for, partitions_known_at
from orchestration.schedules import REFRESH_JOB_NAME, refresh_run_config
from orchestration.settings import format_instant, load_settings, now, parse_instant


@dataclass
class RefreshOutcome:
    success: bool
    summary: str
    run_id: str
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # by asset key


def _materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    metadata: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        metadata[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return metadata


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step and its root cause, which names the file, table or test at fault."""
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            message = error.message.strip() if error else "unknown error"
            return f"step {event.step_key} failed: {message}"
    return "the run failed before any step ran"


def run_refresh(
    as_of: str | None = None,
    model_settings: Mapping[str, float | None] | None = None,
    verbose: bool = False,
    accept_anomalies: bool = False,
    full_refresh: bool = False,
    backfill: bool = False,
) -> RefreshOutcome:
    """Run the refresh job for `as_of` (default: now). Unless `verbose`, Dagster's and dbt's
    logs go to data/logs/ instead of the terminal, and the outcome's summary says where."""
    instant = parse_instant(as_of) if as_of else now()
    started = time.monotonic()
    log_path = load_settings().data_dir / "logs" / f"refresh_{instant.strftime('%Y%m%dT%H%M%SZ')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if not verbose:
            log_file = stack.enter_context(open(log_path, "w", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(log_file))
            stack.enter_context(contextlib.redirect_stderr(log_file))
        from orchestration.definitions import defs

        job = defs.resolve_job_def(REFRESH_JOB_NAME)
        instance = stack.enter_context(dg.DagsterInstance.get())
        stack.enter_context(partitions_known_at(instant))
        result = job.execute_in_process(
            run_config=refresh_run_config(
                format_instant(instant),
                **(model_settings or {}),
                accept_anomalies=accept_anomalies or None,
                full_refresh=full_refresh or None,
                backfill=backfill or None,
            ),
            instance=instance,
            partition_key=partition_key_for(instant),
            raise_on_error=False,
            tags={
                "stockout/as_of": format_instant(instant),
                "stockout/trigger": "backfill" if backfill else "cli",
            },
        )
    elapsed = time.monotonic() - started
    metadata = _materialization_metadata(result)
    if not result.success:
        summary = (
            f"refresh as_of={format_instant(instant)} FAILED after {elapsed:.1f}s: {_first_failure(result)}"
        )
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                summary += f"\n  check {evaluation.asset_key.to_user_string()}/{evaluation.check_name}: {evaluation.description}"
        summary += "\n  nothing was published; the analyst mart is unchanged"
        if not verbose:
            summary += f"\n  full log: {log_path}"
        return RefreshOutcome(False, summary, result.run_id, metadata)
    sales = metadata.get("sales", {}).get("new_rows", 0)
    restocks = metadata.get("restocks", {}).get("new_rows", 0)
    quarantined = metadata.get("quarantine", {}).get("new_rows", 0)
    rejected = metadata.get("landing_manifests", {}).get("inbox_files_rejected", 0)
    snapshot = metadata.get("inventory_snapshots", {})
    mart = metadata.get("analyst_mart", {})
    if mart.get("published", True):
        outcome = f"published {mart.get('version', '?')} to {mart.get('analyst_database', '?')}"
    else:
        outcome = f"not published: the mart analysts see is newer (as of {mart.get('published_as_of', '?')})"
    summary = (
        f"refresh as_of={format_instant(instant)} ok in {elapsed:.1f}s: "
        f"landed {sales} sales, {restocks} restocks, quarantined {quarantined} rows, "
        + (f"rejected {rejected} inbox file(s) (see data/inbox/*/rejected/), " if rejected else "")
        + f"snapshot {'taken' if snapshot.get('taken_now') else 'reused'} ({snapshot.get('snapshot_at', '')}); "
        f"{mart.get('at_risk_products', 0)} of {mart.get('products', 0)} products at risk; "
        f"{outcome}"
    )
    return RefreshOutcome(True, summary, result.run_id, metadata)
