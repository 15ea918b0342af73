"""Blocking asset checks: a failure keeps the analyst mart as it was."""

from datetime import timedelta

import dagster as dg

from orchestration import checks
from orchestration.resources import RefreshConfig
from orchestration.settings import load_settings


@dg.asset_check(
    asset=dg.AssetKey("at_risk_in_a_week"),
    additional_deps=[dg.AssetKey("days_to_stockout")],
    blocking=True,
    description=(
        "Great Expectations suite (schema, types, nulls, uniqueness, ranges, statuses), ranks 1..n, "
        "the refresh instant on every row, agreement with days_to_stockout, and the at-risk count "
        "against the last published refresh (STOCKOUT_MAX_AT_RISK_CHANGE_FACTOR, 5x by default), and the "
        "newest landed event no older than STOCKOUT_MAX_EVENT_AGE_HOURS (48 by default) at the refresh instant."
    ),
)
def at_risk_table_is_publishable(
    context: dg.AssetCheckExecutionContext, refresh: RefreshConfig
) -> dg.AssetCheckResult:
    settings = load_settings()
    outcome = checks.check_at_risk_table(
        warehouse=settings.warehouse_path,
        mart_database=settings.mart_database,
        as_of=refresh.resolve_as_of(context.op_execution_context),
        max_change_factor=settings.max_at_risk_change_factor,
        accept_anomalies=refresh.accept_anomalies,
        max_event_age=timedelta(hours=settings.max_event_age_hours),
    )
    for failure in outcome.failures:
        context.log.error(failure)
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(outcome.failures) or "all expectations met",
        metadata={
            "at_risk_count": dg.MetadataValue.int(outcome.at_risk_count),
            "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in outcome.failures) or "none"),
        },
    )
