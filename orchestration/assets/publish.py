"""The analyst mart: published only after every upstream check passed."""

from datetime import timedelta

import dagster as dg

from orchestration import publish, report
from orchestration.partitions import REFRESH_PARTITIONS
from orchestration.resources import RefreshConfig
from orchestration.settings import format_instant, load_settings, now
from orchestration.warehouse_lock import WarehouseLock


@dg.asset(
    deps=[dg.AssetKey(name) for name in publish.PUBLISHED_RELATIONS],
    group_name="publish",
    kinds={"duckdb", "parquet"},
    partitions_def=REFRESH_PARTITIONS,
)
def analyst_mart(
    context: dg.AssetExecutionContext, refresh: RefreshConfig, warehouse_lock: WarehouseLock
) -> dg.MaterializeResult:
    """data/mart/analytics.duckdb: views over a new version of the published relations,
    swapped in atomically. Runs only when the dbt models and tests upstream succeeded. A
    back-fill of a past instant leaves a newer published mart in place; its at-risk list
    still joins the published at_risk_history."""
    settings = load_settings()
    as_of = refresh.resolve_as_of(context)
    current = publish.published_as_of(settings.mart_database)
    if refresh.is_backfill(context) and current is not None and current >= as_of:
        publish.export_history(settings.warehouse_path, settings.mart_dir, as_of)
        context.log.info(
            f"back-fill of {format_instant(as_of)}: the published mart, as of {format_instant(current)}, is newer and stays"
        )
        return dg.MaterializeResult(
            metadata={
                "as_of": format_instant(as_of),
                "published": False,
                "published_as_of": format_instant(current),
                "at_risk_products": dg.MetadataValue.int(
                    publish.warehouse_row_count(settings.warehouse_path, "at_risk_in_a_week")
                ),
                "products": dg.MetadataValue.int(
                    publish.warehouse_row_count(settings.warehouse_path, "days_to_stockout")
                ),
            }
        )
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
            "published": True,
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
