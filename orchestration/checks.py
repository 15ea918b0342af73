"""Blocking checks on the at-risk table, run after dbt and before publishing.

dbt's own tests (keys, accepted values) surface as asset checks through dagster-dbt; these
add what needs Python: a Great Expectations 1.x suite on the table as a pandas frame (GE's
SQL path does not work on DuckDB, and dagster-ge pins GE below 1.0), consistency with
`days_to_stockout`, a volume check against the last published refresh, and the freshness of
the newest landed event.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.publish import newest_event_at

AT_RISK_COLUMNS = (
    "as_of",
    "product_id",
    "product_name",
    "sku",
    "supplier_name",
    "lead_time_days",
    "stock_status",
    "on_hand",
    "units_sold_7d",
    "in_stock_days_7d",
    "velocity_7d",
    "velocity_28d",
    "demand_rate",
    "trend",
    "days_to_stockout",
    "projected_stockout_date",
    "stockout_probability_7d",
    "reorder_recommended",
    "suggested_reorder_qty",
    "risk_rank",
)
INTEGER_TYPES = ["int8", "int16", "int32", "int64", "Int64", "Int32"]
FLOAT_TYPES = ["float32", "float64", "Float64"]
DEFAULT_MAX_CHANGE_FACTOR = 5.0


@dataclass
class CheckOutcome:
    passed: bool
    failures: list[str] = field(default_factory=list)
    at_risk_count: int = 0


def preload_great_expectations() -> None:
    """Start importing Great Expectations in a background thread. The import takes about 5 s
    of one core; a refresh starts it while dbt runs in its own process, so the check after
    dbt finds it done (an `import` that meets it midway waits for it to finish)."""
    threading.Thread(
        target=importlib.import_module, args=("great_expectations",), name="preload-gx", daemon=True
    ).start()


def _expectation_suite():
    import great_expectations as gx

    expect = gx.expectations
    suite = gx.ExpectationSuite(name="at_risk_in_a_week")
    suite.add_expectation(
        expect.ExpectTableColumnsToMatchSet(column_set=list(AT_RISK_COLUMNS), exact_match=True)
    )
    for column in (
        "as_of",
        "product_id",
        "stock_status",
        "on_hand",
        "days_to_stockout",
        "stockout_probability_7d",
        "demand_rate",
        "risk_rank",
    ):
        suite.add_expectation(expect.ExpectColumnValuesToNotBeNull(column=column))
    for column in (
        "product_id",
        "on_hand",
        "units_sold_7d",
        "in_stock_days_7d",
        "suggested_reorder_qty",
        "risk_rank",
    ):
        suite.add_expectation(expect.ExpectColumnValuesToBeInTypeList(column=column, type_list=INTEGER_TYPES))
    for column in (
        "velocity_7d",
        "velocity_28d",
        "demand_rate",
        "days_to_stockout",
        "stockout_probability_7d",
    ):
        suite.add_expectation(expect.ExpectColumnValuesToBeInTypeList(column=column, type_list=FLOAT_TYPES))
    suite.add_expectation(expect.ExpectColumnValuesToBeUnique(column="product_id"))
    suite.add_expectation(expect.ExpectColumnValuesToBeUnique(column="risk_rank"))
    suite.add_expectation(
        expect.ExpectColumnValuesToBeBetween(column="stockout_probability_7d", min_value=0, max_value=1)
    )
    suite.add_expectation(expect.ExpectColumnValuesToBeBetween(column="days_to_stockout", min_value=0))
    suite.add_expectation(
        expect.ExpectColumnValuesToBeBetween(column="demand_rate", min_value=0, strict_min=True)
    )
    suite.add_expectation(expect.ExpectColumnValuesToBeBetween(column="suggested_reorder_qty", min_value=0))
    suite.add_expectation(
        expect.ExpectColumnValuesToBeInSet(column="stock_status", value_set=["at_risk", "out_of_stock"])
    )
    return suite


def run_expectations(frame: pd.DataFrame) -> list[str]:
    """The Great Expectations suite on the at-risk frame; one message per failed expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("at_risk_in_a_week")
        .add_batch_definition_whole_dataframe("refresh")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(_expectation_suite())
    failures = []
    for outcome in result.results:
        if not outcome.success:
            config = outcome.expectation_config
            column = config.kwargs.get("column", "table")
            found = (
                outcome.result.get("partial_unexpected_list")
                or outcome.result.get("details")
                or outcome.result.get("observed_value")
            )
            failures.append(f"{config.type} on at_risk_in_a_week.{column} failed (found {found!r:.200})")
    return failures


def consistency_failures(at_risk: pd.DataFrame, every_product: pd.DataFrame, as_of: datetime) -> list[str]:
    """Rules that span rows or relations: the refresh instant, ranks 1..n, status against
    on_hand, and every at-risk row equal to its row in days_to_stockout."""
    failures = []
    expected_as_of = (
        pd.Timestamp(as_of).tz_convert(None) if pd.Timestamp(as_of).tzinfo else pd.Timestamp(as_of)
    )
    wrong_as_of = at_risk[pd.to_datetime(at_risk["as_of"]) != expected_as_of]
    if len(wrong_as_of):
        failures.append(
            f"{len(wrong_as_of)} rows of at_risk_in_a_week have as_of other than the refresh instant {expected_as_of}"
        )
    ranks = sorted(at_risk["risk_rank"].dropna().astype(int))
    if ranks != list(range(1, len(at_risk) + 1)):
        failures.append(f"risk_rank is not 1..{len(at_risk)} (first ranks: {ranks[:5]})")
    status_mismatch = at_risk[(at_risk["on_hand"] <= 0) != (at_risk["stock_status"] == "out_of_stock")]
    if len(status_mismatch):
        failures.append(
            f"stock_status disagrees with on_hand for products {status_mismatch['product_id'].head(5).tolist()}"
        )
    flagged = every_product[every_product["is_at_risk"]]
    if set(flagged["product_id"]) != set(at_risk["product_id"]):
        failures.append("at_risk_in_a_week and days_to_stockout disagree on which products are at risk")
    else:
        joined = at_risk.merge(flagged, on="product_id", suffixes=("", "_all"))
        for column in ("on_hand", "days_to_stockout", "stockout_probability_7d", "risk_rank", "demand_rate"):
            differs = joined[
                ~(
                    (joined[column] == joined[f"{column}_all"])
                    | (joined[column].isna() & joined[f"{column}_all"].isna())
                )
            ]
            if len(differs):
                failures.append(
                    f"{column} of products {differs['product_id'].head(5).tolist()} differs between at_risk_in_a_week and days_to_stockout"
                )
    return failures


def previous_published_at_risk_count(mart_database: Path) -> int | None:
    """At-risk rows in the currently published mart, or None before the first publish."""
    if not mart_database.exists():
        return None
    with duckdb.connect(str(mart_database), read_only=True) as connection:
        return int(connection.execute("select count(*) from at_risk_in_a_week").fetchone()[0])


def volume_failure(current: int, previous: int | None, max_factor: float) -> str | None:
    """The at-risk count may not jump or drop by more than `max_factor` between refreshes
    (counts under 10 on both sides are too small to judge)."""
    if previous is None or max(current, previous) < 10:
        return None
    low, high = sorted((current, previous))
    if low == 0 or high / low > max_factor:
        return (
            f"at-risk count changed from {previous} to {current}, more than {max_factor:g}x: "
            "check the sources, or re-run with `stockout refresh --accept-anomalies` if it is real"
        )
    return None


def freshness_failure(newest_event_at: datetime | None, as_of: datetime, max_age: timedelta) -> str | None:
    """The newest landed event at or before the refresh instant may be at most `max_age` old:
    an older one means the sources stopped delivering, and the numbers would look current."""
    if newest_event_at is None:
        return "no landed sale or restock at or before the refresh instant: check that the sources deliver"
    age = as_of - newest_event_at
    if age > max_age:
        return (
            f"the newest landed event ({newest_event_at:%Y-%m-%dT%H:%M:%SZ}) is {age.total_seconds() / 3600:.1f} h "
            f"older than the refresh instant, more than {max_age.total_seconds() / 3600:g} h "
            "(STOCKOUT_MAX_EVENT_AGE_HOURS): check that the sources still deliver"
        )
    return None


def check_at_risk_table(
    warehouse: Path,
    mart_database: Path,
    as_of: datetime,
    max_change_factor: float = DEFAULT_MAX_CHANGE_FACTOR,
    accept_anomalies: bool = False,
    max_event_age: timedelta | None = None,
) -> CheckOutcome:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        at_risk = connection.execute("select * from marts.at_risk_in_a_week").df()
        every_product = connection.execute(
            # only the rows flagged at risk: the rules compare those, and at 10 M products the
            # rest would only cost memory
            "select product_id, is_at_risk, on_hand, days_to_stockout, stockout_probability_7d, risk_rank, demand_rate "
            "from marts.days_to_stockout where is_at_risk"
        ).df()
    failures = run_expectations(at_risk) + consistency_failures(at_risk, every_product, as_of)
    if max_event_age is not None:
        stale = freshness_failure(newest_event_at(warehouse, as_of), as_of, max_event_age)
        if stale:
            failures.append(stale)
    if not accept_anomalies:
        volume = volume_failure(
            len(at_risk), previous_published_at_risk_count(mart_database), max_change_factor
        )
        if volume:
            failures.append(volume)
    return CheckOutcome(passed=not failures, failures=failures, at_risk_count=len(at_risk))
