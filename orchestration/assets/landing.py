"""Landing assets: the shop's source systems copied to Parquet under data/landing/."""

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg

from orchestration import landing
from orchestration.partitions import REFRESH_PARTITIONS
from orchestration.settings import Settings, format_instant, load_settings, now
from orchestration.sources import InventoryService, TransactionDatabase
from orchestration.warehouse_lock import WarehouseLock

LANDING_GROUP = "landing"


MOVEMENT_ASSETS = {"sale": "sales", "restock": "restocks"}


def landing_paths(settings: Settings) -> landing.LandingPaths:
    return landing.LandingPaths(landing_dir=settings.landing_dir, quarantine_dir=settings.quarantine_dir)


def _markdown_table(header: list[str], rows: list[list[object]]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("(none)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _movement_result(
    change_type: str, deliveries: list[landing.LandedDelivery], high_water_mark: int
) -> dg.MaterializeResult:
    mine = [d for d in deliveries if change_type in d.landed]
    newest = max(
        (d.newest_event_at for d in mine if d.newest_event_at and d.landed[change_type]), default=None
    )
    files = [str(f) for d in mine for f in d.files if f.parent.name == MOVEMENT_ASSETS[change_type]]
    return dg.MaterializeResult(
        asset_key=MOVEMENT_ASSETS[change_type],
        metadata={
            "new_rows": dg.MetadataValue.int(sum(d.landed[change_type] for d in mine)),
            "high_water_mark_id": dg.MetadataValue.int(high_water_mark),
            "files": dg.MetadataValue.md("\n".join(f"- `{f}`" for f in files) or "(nothing new)"),
            "newest_event_at": format_instant(newest) if newest else "",
        },
    )


def _quarantine_result(deliveries: list[landing.LandedDelivery]) -> dg.MaterializeResult:
    reasons: dict[str, int] = {}
    for delivery in deliveries:
        for reason, count in delivery.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return dg.MaterializeResult(
        asset_key="quarantine",
        metadata={
            "new_rows": dg.MetadataValue.int(sum(d.quarantined_rows for d in deliveries)),
            "by_reason": _markdown_table(["reason", "rows"], [[r, c] for r, c in sorted(reasons.items())]),
        },
    )


def _manifests_result(
    deliveries: list[landing.LandedDelivery], from_inbox: landing.InboxLanding
) -> dg.MaterializeResult:
    rows = [[d.origin, d.entity, d.source_rows, d.landed_rows, d.quarantined_rows] for d in deliveries]
    rejected = [[f"`{r.path}`", r.reason] for r in from_inbox.rejected]
    return dg.MaterializeResult(
        asset_key="landing_manifests",
        metadata={
            "deliveries": _markdown_table(
                ["delivery", "entity", "source rows", "landed", "quarantined"], rows
            ),
            "source_rows": dg.MetadataValue.int(sum(d.source_rows for d in deliveries)),
            "landed_rows": dg.MetadataValue.int(sum(d.landed_rows for d in deliveries)),
            "quarantined_rows": dg.MetadataValue.int(sum(d.quarantined_rows for d in deliveries)),
            "inbox_files_landed": dg.MetadataValue.int(len(from_inbox.landed)),
            "inbox_files_already_landed": dg.MetadataValue.md(
                "\n".join(f"- `{p}`" for p in from_inbox.already_landed) or "(none)"
            ),
            "inbox_files_rejected": dg.MetadataValue.int(len(from_inbox.rejected)),
            "rejected_files": _markdown_table(["file", "why"], rejected),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "sales",
            group_name=LANDING_GROUP,
            kinds={"sqlite", "parquet"},
            deps=["products"],
            description="Sale events landed in data/landing/sales/: valid `inventory_change` rows of type "
            "'sale' new since the last landing, and valid rows of files in data/inbox/sales/.",
        ),
        dg.AssetSpec(
            "restocks",
            group_name=LANDING_GROUP,
            kinds={"sqlite", "parquet"},
            deps=["products"],
            description="Restock events landed in data/landing/restocks/, like sales.",
        ),
        dg.AssetSpec(
            "quarantine",
            group_name=LANDING_GROUP,
            kinds={"parquet"},
            description="Delivered rows set aside in data/quarantine/<entity>/ with a reason "
            "(unknown type, non-positive quantity, missing pid, unknown product, unparseable or "
            "far-future timestamp, duplicate id, ...).",
        ),
        dg.AssetSpec(
            "landing_manifests",
            group_name=LANDING_GROUP,
            kinds={"parquet"},
            description="One manifest per delivery in data/landing/_manifests/: rows delivered, landed "
            "and quarantined; also the ledger of inbox files landed (by sha256 of their content).",
        ),
    ],
    name="inventory_changes",
    partitions_def=REFRESH_PARTITIONS,
)
def inventory_changes(
    context: dg.AssetExecutionContext, warehouse_lock: WarehouseLock
) -> Iterator[dg.MaterializeResult]:
    """Every `inventory_change` row new since the high-water mark, read once whatever its type,
    and every file waiting in data/inbox/{sales,restocks}/: judged row by row, then landed as
    sales or restocks or quarantined, so that rows in = rows landed + rows quarantined."""
    settings = load_settings()
    paths = landing_paths(settings)
    run = landing.LandingRun(
        run_id=context.run.run_id,
        now=now(),
        future_tolerance=timedelta(hours=settings.future_tolerance_hours),
    )
    transactions = TransactionDatabase(settings.transactions_url)
    deliveries = landing.land_source_changes(transactions, paths, run)
    late = landing.land_late_commits(transactions, paths, run, settings.late_commit_lookback_ids)
    if late is not None:
        context.log.warning(
            f"landed {late.source_rows} row(s) that committed below the high-water mark: {late.origin}"
        )
        deliveries.append(late)
    from_inbox = landing.land_inbox(paths, settings.inbox_dir, run)
    deliveries += from_inbox.landed
    for rejected in from_inbox.rejected:
        context.log.warning(f"inbox file rejected, moved to {rejected.path}: {rejected.reason}")
    for delivery in deliveries:
        if delivery.quarantined_rows:
            context.log.warning(
                f"{delivery.origin}: {delivery.quarantined_rows} of {delivery.source_rows} rows quarantined "
                f"({', '.join(f'{r}: {c}' for r, c in sorted(delivery.reasons.items()))})"
            )
    high_water_mark = landing.landed_high_water_mark(paths)
    for change_type in MOVEMENT_ASSETS:
        yield _movement_result(change_type, deliveries, high_water_mark)
    yield _quarantine_result(deliveries)
    yield _manifests_result(deliveries, from_inbox)


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def inventory_snapshots(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """A full read of the inventory service, stamped with the instant it was read; taken
    when the newest snapshot is older than STOCKOUT_SNAPSHOT_INTERVAL_HOURS (24 by default)."""
    settings = load_settings()
    landed = landing.land_snapshot(
        InventoryService(settings.inventory_url),
        settings.landing_dir / "inventory_snapshots",
        read_at=now(),
        interval=timedelta(hours=settings.snapshot_interval_hours),
    )
    return dg.MaterializeResult(
        metadata={
            "new_rows": dg.MetadataValue.int(landed.rows),
            "snapshot_at": format_instant(landed.snapshot_at) if landed.snapshot_at else "",
            "taken_now": landed.path is not None,
        }
    )


def _land_catalog(table: str, interval: timedelta = timedelta(0)) -> dg.MaterializeResult:
    settings = load_settings()
    landed = landing.land_catalog(
        TransactionDatabase(settings.transactions_url),
        table,
        settings.landing_dir / table,
        read_at=now(),
        interval=interval,
    )
    return dg.MaterializeResult(
        metadata={"rows": dg.MetadataValue.int(landed.rows), "changed": landed.path is not None}
    )


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def products(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """The product catalogue (`products`): read in full when the last full read is older than
    STOCKOUT_CATALOG_INTERVAL_HOURS (24 by default) or when a product was added or removed
    (its row count or largest id moved); an edited product waits for the next full read."""
    return _land_catalog("products", timedelta(hours=load_settings().catalog_interval_hours))


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def suppliers(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """Suppliers and their lead times (`suppliers`): a small table, read at every refresh."""
    return _land_catalog("suppliers")


LANDING_ASSETS = [inventory_changes, inventory_snapshots, products, suppliers]
