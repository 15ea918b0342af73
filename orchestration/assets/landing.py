"""Landing assets: the shop's source systems copied to Parquet under data/landing/."""

from datetime import timedelta

import dagster as dg

from orchestration import landing
from orchestration.partitions import REFRESH_PARTITIONS
from orchestration.settings import format_instant, load_settings, now
from orchestration.sources import InventoryService, TransactionDatabase
from orchestration.warehouse_lock import WarehouseLock

LANDING_GROUP = "landing"


def _movement_metadata(landed: landing.LandedFile) -> dict:
    return {
        "new_rows": dg.MetadataValue.int(landed.rows),
        "high_water_mark_id": dg.MetadataValue.int(landed.high_water_mark or 0),
        "file": dg.MetadataValue.path(str(landed.path) if landed.path else "(nothing new)"),
        "newest_event_at": format_instant(landed.newest_event_at) if landed.newest_event_at else "",
    }


def _land_movements(change_type: str, entity: str) -> dg.MaterializeResult:
    settings = load_settings()
    landed = landing.land_changes(
        TransactionDatabase(settings.transactions_url), change_type, settings.landing_dir / entity
    )
    return dg.MaterializeResult(metadata=_movement_metadata(landed))


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def sales(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """Sale events (`inventory_change` rows of type 'sale') new since the last landing."""
    return _land_movements("sale", "sales")


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def restocks(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """Restock events (`inventory_change` rows of type 'restock') new since the last landing."""
    return _land_movements("restock", "restocks")


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


def _land_catalog(table: str) -> dg.MaterializeResult:
    settings = load_settings()
    landed = landing.land_catalog(
        TransactionDatabase(settings.transactions_url), table, settings.landing_dir / table
    )
    return dg.MaterializeResult(
        metadata={"rows": dg.MetadataValue.int(landed.rows), "changed": landed.path is not None}
    )


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def products(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """The product catalogue (`products`)."""
    return _land_catalog("products")


@dg.asset(group_name=LANDING_GROUP, kinds={"sqlite", "parquet"}, partitions_def=REFRESH_PARTITIONS)
def suppliers(warehouse_lock: WarehouseLock) -> dg.MaterializeResult:
    """Suppliers and their lead times (`suppliers`)."""
    return _land_catalog("suppliers")


LANDING_ASSETS = [sales, restocks, inventory_snapshots, products, suppliers]
