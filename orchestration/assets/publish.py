"""The analyst mart: published only after every upstream check passed."""

from datetime import timedelta

import dagster as dg

from orchestration import publish, report
from orchestration.resources import RefreshConfig
from orchestration.settings import format_instant, load_settings, now


@dg.asset(
    deps=[dg.AssetKey(name) for name in publish.PUBLISHED_RELATIONS],
    group_name="publish",
    kinds={"duckdb", "parquet"},
)
def analyst_mart(context: dg.AssetExecutionContext, refresh: RefreshConfig) -> dg.MaterializeResult:
    """data/mart/analytics.duckdb: views over a new version of the published relations,
    swapped in atomically. Runs only when the dbt models and tests upstream succeeded."""
    settings = load_settings()
    as_of = refresh.resolve_as_of(context)
    published = publish.publish(
        warehouse=settings.warehouse_path,
        mart_dir=settings.mart_dir,
        as_of=as_of,
        run_id=context.run.run_id,
        retention=timedelta(hours=settings.mart_retention_hours),
        current_time=now(),
    )
    context.log.info(f"published version {published.version} to {settings.mart_database}")
    newest = publish.newest_event_at(settings.warehouse_path, as_of)
    report_path = report.write_report(published.folder, settings.data_dir / "reports", as_of, newest)
    context.log.info(f"wrote the at-risk report {report_path}")
    return dg.MaterializeResult(
        metadata={
            "as_of": format_instant(as_of),
            "version": published.version,
            "analyst_database": dg.MetadataValue.path(str(settings.mart_database)),
            "at_risk_products": dg.MetadataValue.int(published.row_counts["at_risk_in_a_week"]),
            "products": dg.MetadataValue.int(published.row_counts["days_to_stockout"]),
            "top_at_risk": dg.MetadataValue.md(published.top_at_risk_markdown),
            "newest_event_at": format_instant(newest) if newest else "",
            "report": dg.MetadataValue.path(str(report_path)),
            **{f"rows_{name}": dg.MetadataValue.int(count) for name, count in published.row_counts.items()},
        }
    )
